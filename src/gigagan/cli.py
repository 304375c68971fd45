"""The `gigagan` command line. Thin: it parses, validates and calls the library.

Every user mistake (a GigaGANError, or a bad or unknown option) becomes one line on stderr, starting
with "error:", and exit code 2. Building the app imports no torch: each command imports what it needs
when it runs, so `gigagan --help` is quick.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from gigagan.cli_eval import eval_command
from gigagan.cli_generate import register_generation_commands
from gigagan.cli_options import (
    DEFAULT_PRESET,
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
    upsampler_preset_names,
)
from gigagan.cli_upsample import register_upsampler_commands
from gigagan.config import (
    PRESET_TRAINING,
    DiscriminatorConfig,
    GeneratorConfig,
    TrainConfig,
    config_to_dict,
    get_preset,
    list_presets,
)
from gigagan.errors import GigaGANError

if TYPE_CHECKING:
    from rich.table import Table

T = TypeVar("T")

app = typer.Typer(
    name="gigagan",
    help="GigaGAN: fast, controllable text-to-image GANs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print(renderable: Any) -> None:
    from rich.console import Console

    Console().print(renderable)


def _millions(count: int) -> str:
    return f"{count / 1e6:,.1f}M" if count >= 1e5 else f"{count:,}"


@app.command()
def presets() -> None:
    """List the named model presets (text-to-image and upsampler)."""
    from rich.table import Table

    from gigagan.upsampler_config import list_upsampler_presets

    table = Table("preset", "description")
    for name, description in {**list_presets(), **list_upsampler_presets()}.items():
        table.add_row(name, description)
    _print(table)


def _synthesis_table(title: str, levels: list[dict[str, Any]]) -> Table:
    from rich.table import Table

    table = Table(title=title)
    for column in ("resolution", "channels", "kernels in bank", "conv layers", "attention blocks", "ws", "params"):
        table.add_column(column, justify="right")
    for level in levels:
        table.add_row(
            f"{level['resolution']}x{level['resolution']}",
            str(level["channels"]),
            str(level["kernels"]),
            str(level["conv_layers"]),
            str(level["attention_blocks"]),
            str(level["ws"]),
            _millions(level["params"]),
        )
    return table


def _discriminator_table(title: str, levels: list[dict[str, Any]]) -> Table:
    from rich.table import Table

    table = Table(title=title)
    for column in ("resolution", "channels", "residual blocks", "attention", "predictions", "params"):
        table.add_column(column, justify="right")
    for level in levels:
        table.add_row(
            f"{level['resolution']}x{level['resolution']}",
            str(level["channels"]),
            str(level["residual_blocks"]),
            "yes" if level["attention"] else "no",
            str(level["predictions"]),
            _millions(level["params"]),
        )
    return table


def _totals_table(parts: dict[str, int], totals: dict[str, int], frozen: int) -> Table:
    from rich.table import Table

    table = Table("part", "trainable params", title="Totals (frozen CLIP excluded)")
    for name, count in parts.items():
        table.add_row(name, _millions(count))
    for name, count in totals.items():
        table.add_row(f"[bold]{name}[/bold]", f"[bold]{_millions(count)}[/bold]")
    table.add_row("frozen CLIP towers", _millions(frozen))
    return table


def _upsampler_info(preset: str, as_json: bool) -> None:
    from rich.table import Table

    from gigagan.models.summary import summarize_upsampler
    from gigagan.upsampler_config import get_upsampler_preset

    config = get_upsampler_preset(preset)
    summary = summarize_upsampler(config)
    if as_json:
        payload = {"preset": preset, **dataclasses.asdict(summary), "config": config_to_dict(config)}
        typer.echo(json.dumps(payload, indent=2))
        return
    encoder = Table(title=f"Upsampler encoder ({preset}, {summary.input_resolution}px input)")
    for column in ("resolution", "channels", "residual blocks", "params"):
        encoder.add_column(column, justify="right")
    for level in summary.encoder_levels:
        size = f"{level['resolution']}x{level['resolution']}"
        encoder.add_row(size, str(level["channels"]), str(level["residual_blocks"]), _millions(level["params"]))
    _print(encoder)
    title = f"Upsampler decoder ({summary.scale_factor}x to {summary.resolution}px, {summary.num_ws} w+ rows)"
    _print(_synthesis_table(title, summary.decoder_levels))
    title = f"Upsampler discriminator ({summary.num_predictions} multi-scale predictions, minibatch-std)"
    _print(_discriminator_table(title, summary.discriminator_levels))
    parts = {f"U {k}": v for k, v in summary.upsampler_parts.items()}
    parts |= {f"D {k}": v for k, v in summary.discriminator_parts.items()}
    totals = {"upsampler": summary.upsampler_params, "discriminator": summary.upsampler_discriminator_params}
    _print(_totals_table(parts, totals, summary.frozen_clip_params))


PRESETS = preset_names()
INFO_PRESETS = PRESETS + upsampler_preset_names()


@app.command()
def info(
    preset: Annotated[
        choices_type(INFO_PRESETS),
        typer.Option(
            help="Preset name (see `gigagan presets`); the default is `gigagan train`'s.",
            parser=choice_parser("preset", INFO_PRESETS),
        ),
    ] = DEFAULT_PRESET,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object instead of tables.")] = False,
) -> None:
    """Describe a preset: per-level layer tables and trainable parameter counts (frozen CLIP excluded).

    Examples: gigagan info;  gigagan info --preset giga --json;  gigagan info --preset upsampler-128to1024
    """
    from gigagan.models.summary import summarize
    from gigagan.upsampler_config import list_upsampler_presets

    if preset in list_upsampler_presets():
        _upsampler_info(preset, as_json)
        return
    config = get_preset(preset)
    summary = summarize(config)
    if as_json:
        payload = {
            "preset": preset,
            "resolution": summary.resolution,
            "generator_params": summary.generator_params,
            "discriminator_params": summary.discriminator_params,
            "frozen_clip_params": summary.frozen_clip_params,
            "num_ws": summary.num_ws,
            "num_predictions": summary.num_predictions,
            "generator_parts": summary.generator_parts,
            "discriminator_parts": summary.discriminator_parts,
            "generator_levels": summary.generator_levels,
            "discriminator_levels": summary.discriminator_levels,
            "config": config_to_dict(config),
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    title = f"Generator ({preset}, {summary.resolution}px, {summary.num_ws} w+ rows)"
    _print(_synthesis_table(title, summary.generator_levels))
    title = f"Discriminator ({summary.num_predictions} multi-scale predictions)"
    _print(_discriminator_table(title, summary.discriminator_levels))
    parts = {f"G {k}": v for k, v in summary.generator_parts.items()}
    parts |= {f"D {k}": v for k, v in summary.discriminator_parts.items()}
    totals = {"generator": summary.generator_params, "discriminator": summary.discriminator_params}
    _print(_totals_table(parts, totals, summary.frozen_clip_params))


TRAIN_EXAMPLES = """
Examples:

  gigagan train --preset quickstart --data shapes --out runs/qs

  gigagan train --preset cifar10 --data ./cifar10/train --caption-template "a photo of a {label}" --out runs/c10

  gigagan train --out runs/qs --resume                      # continue from runs/qs/latest

  torchrun --nproc_per_node 8 -m gigagan.cli train --preset giga --bf16 \\
      --data "shards/{00000..09999}.tar" --out runs/giga
"""


def load_train_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as error:
        raise GigaGANError(f"config file not found: {path}") from error
    except (OSError, UnicodeDecodeError) as error:
        raise GigaGANError(f"cannot read config file {path}: {error}") from error
    except json.JSONDecodeError as error:
        raise GigaGANError(f"{path} is not valid JSON ({error.msg}, line {error.lineno})") from error
    if not isinstance(data, dict) or set(data) - {"preset", "model", "training"}:
        raise GigaGANError(f"{path} must be a JSON object with keys among: preset, model, training")
    if "preset" in data and not isinstance(data["preset"], str):
        raise GigaGANError(f'{path}: "preset" must be a preset name (a string), got {data["preset"]!r}')
    return data


def from_file(path: Path | None, build: Callable[[], T]) -> T:
    """`build()`, with its one-line errors prefixed by the file the values came from (if any)."""
    if path is None:
        return build()
    try:
        return build()
    except GigaGANError as error:
        raise GigaGANError(f"{path}: {error}") from error
    except KeyError as error:
        raise GigaGANError(f"{path} has no {error.args[0]!r} entry") from error


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


@app.command(epilog=TRAIN_EXAMPLES)
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
    from gigagan.config import ModelConfig, config_from_dict, preset_training

    file = load_train_file(config_file) if config_file else {}
    checkpoint, saved = resume_checkpoint(out, resume)
    if saved is not None:  # the run's own configs, then explicit flags on top
        path = checkpoint_config_path(checkpoint)
        model = from_file(
            path,
            lambda: ModelConfig(
                generator=config_from_dict(GeneratorConfig, saved["generator"], "generator"),
                discriminator=config_from_dict(DiscriminatorConfig, saved["discriminator"], "discriminator"),
            ),
        )
        training = from_file(path, lambda: config_from_dict(TrainConfig, saved.get("training", {}), "training"))
    else:
        preset_name = None if "model" in file else preset or file.get("preset", DEFAULT_PRESET)
        if preset_name is None:
            model = from_file(config_file, lambda: config_from_dict(ModelConfig, file["model"], "model"))
        else:
            name = preset_name
            model = from_file(config_file if preset is None else None, lambda: get_preset(name))
        # the preset's own training defaults, then the file's "training" object, then the flags
        training = from_file(config_file, lambda: preset_training(preset_name, file.get("training", {})))
    training = apply_training_options(training, locals())
    if metrics is not None:
        from gigagan.metrics import parse_metric_names

        training = dataclasses.replace(training, metrics=parse_metric_names(metrics))
    if training.metrics and training.metrics_every <= 0:
        raise GigaGANError("--metrics needs --metrics-every N (steps between evaluations)")
    check_training(model, training, model.generator.resolution)
    notice_builtin_data(training, data, file, saved)
    run_trainer(model, training, out, checkpoint, device, progress, with_metrics=True, processes=processes)


def check_training(model: Any, training: Any, resolution: int) -> None:
    """The whole model and training configs, checked before anything is built."""
    model.validate()
    training.validate()
    if training.resolution is not None and training.resolution != resolution:
        raise GigaGANError(f"training.resolution {training.resolution} differs from the model's {resolution}")


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
    parsers (`gigagan.cli_options.training_option`) have checked each value against its field's rule."""
    fields = {**TRAIN_OPTION_FIELDS, **(extra_fields or {})}
    values = {field: options[name] for name, field in fields.items() if options.get(name) is not None}
    training = dataclasses.replace(training, **values)
    loss = {field: options[name] for name, field in LOSS_OPTION_FIELDS.items() if options.get(name) is not None}
    training.loss = dataclasses.replace(training.loss, **loss)
    return training


def resume_checkpoint(out: Path, resume: bool) -> tuple[Path | None, dict[str, Any] | None]:
    """With --resume: the run's latest checkpoint, its files checked (`verify_checkpoint`), and its
    config.json (a one-line error if none). Either way, every checkpoint already in `out` must have a
    readable config.json: a damaged one is refused, never overwritten."""
    from gigagan.models.pretrained import read_config_file
    from gigagan.training.checkpoint import latest_checkpoint, list_checkpoints, verify_checkpoint

    existing = list_checkpoints(out)
    latest = latest_checkpoint(out)
    for folder in dict.fromkeys([*existing, *([latest] if latest is not None else [])]):
        if (folder / "config.json").exists() or resume:
            read_config_file(folder)
    if not resume:
        return None, None
    if latest is None:
        raise GigaGANError(f"--resume: no checkpoint found in {out}")
    verify_checkpoint(latest)
    return latest, read_config_file(latest)


def checkpoint_config_path(checkpoint: Path | None) -> Path:
    return Path(checkpoint or ".") / "config.json"


def run_trainer(
    model: Any,
    training: Any,
    out: Path,
    checkpoint: Path | None,
    device: str,
    progress: bool,
    with_metrics: bool = False,
    processes: int = 1,
    trainer_class: type | None = None,
) -> None:
    """Build `trainer_class` (default: gigagan.training.Trainer; single process or one torchrun rank), train,
    and report the result.
    `with_metrics`: score `training.metrics` on the EMA generator every `training.metrics_every` steps;
    `processes` > 1: train in that many local CPU ranks (`run_local_ranks`)."""
    import logging

    from gigagan.training.distributed import init_distributed, run_local_ranks, shutdown

    if trainer_class is None:
        from gigagan.training import Trainer

        trainer_class = Trainer
    if processes != 1:  # each rank runs this function again, with processes=1
        args = (model, training, out, checkpoint, device, progress, with_metrics, 1, trainer_class)
        run_local_ranks(processes, device, training.batch_size, run_trainer, *args)
        return

    # gigagan's own notes, and only warnings from other libraries (open_clip logs every tokenizer lookup)
    logging.basicConfig(level=logging.WARNING, format="gigagan: %(message)s")
    logging.getLogger("gigagan").setLevel(logging.INFO)
    context = init_distributed(device)
    try:
        trainer = trainer_class(model, training, out, context=context, resume=checkpoint or False, progress=progress)
        if with_metrics and training.metrics and training.metrics_every > 0:
            from gigagan.metrics.during_training import TrainingMetrics

            trainer.on_step = TrainingMetrics(
                trainer, training.metrics, training.metrics_every, training.metrics_num_images
            )
        result = trainer.run()
    finally:
        shutdown(context)
    if context.is_main:
        typer.echo(
            f"trained {result.step} steps ({result.images_seen} images, {result.skipped_steps} skipped); "
            f"checkpoint: {result.last_checkpoint}; latest: {out / 'latest'}"
        )


register_generation_commands(app)  # generate, interpolate, style-mix, prompt-mix, demo
register_upsampler_commands(app)  # train-upsampler, upsample
app.command("eval")(eval_command)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `gigagan` console script: always ends with SystemExit (0, or 2 for a user's
    mistake: one line on stderr that starts with "error:")."""
    try:
        result = app(args=argv, standalone_mode=False)
    except GigaGANError as error:
        _fail(str(error))
    except typer.TyperException as error:  # a bad, unknown or missing option (typer's usage errors)
        if type(error).__name__ == "NoArgsIsHelpError":  # `gigagan` alone: typer has printed the help
            sys.exit(getattr(error, "exit_code", 2))
        _fail(_usage_message(error), getattr(error, "exit_code", 2))
    except typer.Abort:
        typer.echo("Aborted!", err=True)
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)


def _usage_message(error: typer.TyperException) -> str:
    context = getattr(error, "ctx", None)
    hint = f" (see '{context.command_path} --help')" if context is not None else ""
    return error.format_message().rstrip(".") + hint


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
