"""`gigagan train`: parse the options, set up the run (`gigagan.training.runs`) and train.

Also what every training command shares: the option -> config field tables (`apply_training_options`)
and the notice when no --data was given.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

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
from gigagan.config import DEFAULT_PRESET, PRESET_TRAINING, TrainConfig
from gigagan.errors import GigaGANError

TRAIN_EXAMPLES = """
Examples:

  gigagan train --preset quickstart --data shapes --out runs/qs

  gigagan train --preset cifar10 --data ./cifar10/train --caption-template "a photo of a {label}" --out runs/c10

  gigagan train --out runs/qs --resume                      # continue from runs/qs/latest

  torchrun --nproc_per_node 8 -m gigagan.cli train --preset giga --bf16 \\
      --data "shards/{00000..09999}.tar" --out runs/giga
"""

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


def train(
    out: RunDirOption,
    preset: PresetOption = None,
    data: DataOption = None,
    config_file: ConfigFileOption = None,
    max_steps: Annotated[int | None, TRAIN_OPTIONS["max_steps"]] = None,
    max_minutes: Annotated[float | None, TRAIN_OPTIONS["max_minutes"]] = None,
    batch_size: Annotated[int | None, TRAIN_OPTIONS["batch_size"]] = None,
    seed: Annotated[int | None, TRAIN_OPTIONS["seed"]] = None,
    lr_generator: Annotated[float | None, TRAIN_OPTIONS["lr_generator"]] = None,
    lr_discriminator: Annotated[float | None, TRAIN_OPTIONS["lr_discriminator"]] = None,
    r1_gamma: Annotated[float | None, TRAIN_OPTIONS["loss.r1_gamma"]] = None,
    r1_interval: Annotated[int | None, TRAIN_OPTIONS["loss.r1_interval"]] = None,
    matching_weight: Annotated[float | None, TRAIN_OPTIONS["loss.matching_aware_weight"]] = None,
    clip_weight: Annotated[float | None, TRAIN_OPTIONS["loss.clip_weight"]] = None,
    vision_weight: Annotated[float | None, TRAIN_OPTIONS["loss.vision_aided_weight"]] = None,
    clip_weights: Annotated[str | None, TRAIN_OPTIONS["clip_weights"]] = None,
    augment: Annotated[bool | None, TRAIN_OPTIONS["loss.augment"]] = None,
    metrics: MetricsOption = None,
    metrics_every: Annotated[int | None, TRAIN_OPTIONS["metrics_every"]] = None,
    metrics_num_images: Annotated[int | None, TRAIN_OPTIONS["metrics_num_images"]] = None,
    bf16: Annotated[bool | None, TRAIN_OPTIONS["bf16"]] = None,
    grad_checkpointing: Annotated[bool | None, TRAIN_OPTIONS["grad_checkpointing"]] = None,
    checkpoint_every: Annotated[int | None, TRAIN_OPTIONS["checkpoint_every"]] = None,
    sample_every: Annotated[int | None, TRAIN_OPTIONS["sample_every"]] = None,
    log_every: Annotated[int | None, TRAIN_OPTIONS["log_every"]] = None,
    keep: Annotated[int | None, TRAIN_OPTIONS["keep_checkpoints"]] = None,
    num_workers: Annotated[int | None, TRAIN_OPTIONS["num_workers"]] = None,
    caption_template: Annotated[str | None, TRAIN_OPTIONS["caption_template"]] = None,
    deterministic: Annotated[bool | None, TRAIN_OPTIONS["deterministic"]] = None,
    resume: ResumeOption = False,
    device: TrainDeviceOption = "auto",
    processes: ProcessesOption = 1,
    progress: ProgressOption = True,
) -> None:
    """Train a GigaGAN generator and discriminator.

    An option left out takes its value from the resumed run (--resume), else the --config file, else the
    preset's training defaults, else TrainConfig's: the defaults shown below are the last two.
    """
    from gigagan.training.runs import TEXT_TO_IMAGE, check_training, run_configs, run_trainer

    options = dict(locals())
    run = run_configs(TEXT_TO_IMAGE, out, resume, config_file, preset)
    training = apply_training_options(run.training, options)
    if metrics is not None:
        from gigagan.metrics import parse_metric_names

        training = dataclasses.replace(training, metrics=parse_metric_names(metrics))
    if training.metrics and training.metrics_every <= 0:
        raise GigaGANError("--metrics needs --metrics-every N (steps between evaluations)")
    check_training(run.model, training, TEXT_TO_IMAGE.resolution(run.model))
    notice_builtin_data(training, data, run.file, run.saved)
    run_trainer(run.model, training, out, run.checkpoint, device, progress, with_metrics=True, processes=processes)


def notice_builtin_data(training: Any, data: str | None, file: dict[str, Any], saved: dict[str, Any] | None) -> None:
    """One line on stderr when the data source is the built-in shapes only because none was given."""
    given = data is not None or saved is not None or "data" in file.get("training", {})
    if not given and training.data == "shapes":
        typer.echo(
            "notice: no --data given: training on the built-in shapes data (procedural captioned shapes)", err=True
        )


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
