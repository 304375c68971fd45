"""`gigagan train`: parse the options, set up the run (`gigagan.training.runs`) and train.

Also what every training command shares: the option -> config field tables (`apply_training_options`)
and the notice when no --data was given.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from gigagan.cli.options import (
    TEXT_TRAINING_FLAGS,
    TRAINING_FLAGS,
    ConfigFileOption,
    MetricsOption,
    ProcessesOption,
    ProgressOption,
    ResumeOption,
    RunDirOption,
    TrainDeviceOption,
    choice_parser,
    choices_type,
    field_parser,
    preset_names,
    training_option,
)
from gigagan.config import DEFAULT_PRESET, PRESET_TRAINING, LossConfig, TrainConfig, field_hints
from gigagan.errors import GigaGANError

TRAIN_EXAMPLES = """
Examples:

  gigagan train --preset quickstart --data shapes --out runs/qs

  gigagan train --preset cifar10 --data ./cifar10/train --caption-template "a photo of a {label}" --out runs/c10

  gigagan train --out runs/qs --resume                      # continue from runs/qs/latest

  torchrun --nproc_per_node 8 -m gigagan.cli train --preset giga --bf16 \\
      --data "shards/{00000..09999}.tar" --out runs/giga
"""

Command = TypeVar("Command", bound=Callable[..., None])
KEYWORD = inspect.Parameter.POSITIONAL_OR_KEYWORD
PRESETS = preset_names()
TRAIN_OPTIONS = {
    field: training_option(field, TrainConfig, PRESET_TRAINING) for field in {**TRAINING_FLAGS, **TEXT_TRAINING_FLAGS}
}
PresetOption = Annotated[
    choices_type(PRESETS) | None,
    typer.Option(
        help="Model preset (see `gigagan presets`).",
        parser=choice_parser("preset", PRESETS),
        show_default=DEFAULT_PRESET,
    ),
]
DataOption = Annotated[
    str | None,
    typer.Option(
        help="shapes (built in, procedural captioned shapes) | image folder | class folders | .jsonl/.csv | shards.",
        show_default="shapes, with a notice",
        parser=field_parser(TrainConfig, "data", "--data"),
    ),
]


# command-line option -> TrainConfig / LossConfig field, for every training command
TRAIN_OPTION_FIELDS = {
    "data": "data",
    "max_steps": "max_steps",
    "max_minutes": "max_minutes",
    "batch_size": "batch_size",
    "seed": "seed",
    "lr_generator": "lr_generator",
    "lr_discriminator": "lr_discriminator",
    "bf16": "bf16",
    "grad_checkpointing": "grad_checkpointing",
    "checkpoint_every": "checkpoint_every",
    "sample_every": "sample_every",
    "log_every": "log_every",
    "keep": "keep_checkpoints",
    "num_workers": "num_workers",
    "caption_template": "caption_template",
    "deterministic": "deterministic",
    "clip_weights": "clip_weights",
    "metrics_every": "metrics_every",
    "metrics_num_images": "metrics_num_images",
}
LOSS_OPTION_FIELDS = {
    "r1_gamma": "r1_gamma",
    "r1_interval": "r1_interval",
    "matching_weight": "matching_aware_weight",
    "clip_weight": "clip_weight",
    "vision_weight": "vision_aided_weight",
    "augment": "augment",
}


def training_command(options: dict[str, Any]) -> Callable[[Command], Command]:
    """Gives a training command the options every training command has (TRAINING_FLAGS, each made by
    `options`: field -> typer option), in this --help order: those before --augment right after the
    command's --config, those after it at the end, then --resume, --device, --processes and --progress.
    The command takes them as keyword arguments (`**shared`), named as in TRAIN_OPTION_FIELDS and
    LOSS_OPTION_FIELDS."""
    fields = list(TRAINING_FLAGS)
    split = fields.index("loss.augment")
    names = {field: name for name, field in TRAIN_OPTION_FIELDS.items()}
    names |= {f"loss.{field}": name for name, field in LOSS_OPTION_FIELDS.items()}
    hints = field_hints(TrainConfig) | {f"loss.{k}": v for k, v in field_hints(LossConfig).items()}

    def parameters(group: list[str]) -> list[inspect.Parameter]:
        return [
            inspect.Parameter(
                names[field], KEYWORD, default=None, annotation=Annotated[hints[field] | None, options[field]]
            )
            for field in group
        ]

    def decorate(command: Command) -> Command:
        own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.kind is KEYWORD]
        at = [p.name for p in own].index("config_file") + 1
        run = [
            inspect.Parameter("resume", KEYWORD, default=False, annotation=ResumeOption),
            inspect.Parameter("device", KEYWORD, default="auto", annotation=TrainDeviceOption),
            inspect.Parameter("processes", KEYWORD, default=1, annotation=ProcessesOption),
            inspect.Parameter("progress", KEYWORD, default=True, annotation=ProgressOption),
        ]
        shared = [*parameters(fields[:split]), *own[at:], *parameters(fields[split + 1 :])]
        command.__signature__ = inspect.Signature([*own[:at], *shared, *run], return_annotation=None)  # type: ignore[attr-defined]
        return command

    return decorate


@training_command(TRAIN_OPTIONS)
def train(
    out: RunDirOption,
    preset: PresetOption = None,
    data: DataOption = None,
    config_file: ConfigFileOption = None,
    clip_weight: Annotated[float | None, TRAIN_OPTIONS["loss.clip_weight"]] = None,
    vision_weight: Annotated[float | None, TRAIN_OPTIONS["loss.vision_aided_weight"]] = None,
    clip_weights: Annotated[str | None, TRAIN_OPTIONS["clip_weights"]] = None,
    augment: Annotated[bool | None, TRAIN_OPTIONS["loss.augment"]] = None,
    metrics: MetricsOption = None,
    metrics_every: Annotated[int | None, TRAIN_OPTIONS["metrics_every"]] = None,
    metrics_num_images: Annotated[int | None, TRAIN_OPTIONS["metrics_num_images"]] = None,
    **shared: Any,
) -> None:
    """Train a GigaGAN generator and discriminator.

    An option left out takes its value from the resumed run (--resume), else the --config file, else the
    preset's training defaults, else TrainConfig's: the defaults shown below are the last two.
    """
    from gigagan.training.runs import TEXT_TO_IMAGE, check_training, run_configs, run_trainer

    options = {**locals(), **shared}
    run = run_configs(TEXT_TO_IMAGE, out, shared["resume"], config_file, preset)
    training = apply_training_options(run.training, options)
    if metrics is not None:
        from gigagan.metrics import parse_metric_names

        training = dataclasses.replace(training, metrics=parse_metric_names(metrics))
    if training.metrics and training.metrics_every <= 0:
        raise GigaGANError("--metrics needs --metrics-every N (steps between evaluations)")
    check_training(run.model, training, TEXT_TO_IMAGE.resolution(run.model))
    notice_builtin_data(training, data, run.file, run.saved)
    device, progress, processes = shared["device"], shared["progress"], shared["processes"]
    run_trainer(run.model, training, out, run.checkpoint, device, progress, with_metrics=True, processes=processes)


def notice_builtin_data(training: Any, data: str | None, file: dict[str, Any], saved: dict[str, Any] | None) -> None:
    """One line on stderr when the data source is the built-in shapes only because none was given."""
    given = data is not None or saved is not None or "data" in file.get("training", {})
    if not given and training.data == "shapes":
        typer.echo(
            "notice: no --data given: training on the built-in shapes data (procedural captioned shapes)", err=True
        )


def apply_training_options(training: Any, options: dict[str, Any], extra_fields: dict[str, str] | None = None) -> Any:
    """`training` with every option that was given (not None) set: TRAIN_OPTION_FIELDS, `extra_fields`
    (option -> field of the training config) and LOSS_OPTION_FIELDS (on `training.loss`). The option
    parsers (`gigagan.cli.options.training_option`) have checked each value against its field's rule."""
    fields = {**TRAIN_OPTION_FIELDS, **(extra_fields or {})}
    values = {field: options[name] for name, field in fields.items() if options.get(name) is not None}
    training = dataclasses.replace(training, **values)
    loss = {field: options[name] for name, field in LOSS_OPTION_FIELDS.items() if options.get(name) is not None}
    training.loss = dataclasses.replace(training.loss, **loss)
    return training
