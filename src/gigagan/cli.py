"""The `gigagan` command line. Thin: it parses, validates and calls the library.

Every user mistake (a GigaGANError) becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from gigagan.cli_eval import eval_command
from gigagan.cli_generate import register_generation_commands
from gigagan.cli_options import (
    AugmentOption,
    BatchSizeOption,
    Bf16Option,
    CaptionTemplateOption,
    CheckpointEveryOption,
    ConfigFileOption,
    DeterministicOption,
    GradCheckpointingOption,
    KeepOption,
    LogEveryOption,
    LrDiscriminatorOption,
    MatchingWeightOption,
    MaxMinutesOption,
    MaxStepsOption,
    MetricsEveryOption,
    MetricsImagesOption,
    MetricsOption,
    NumWorkersOption,
    ProcessesOption,
    ProgressOption,
    R1GammaOption,
    R1IntervalOption,
    ResumeOption,
    RunDirOption,
    SampleEveryOption,
    SeedOption,
    TrainDeviceOption,
)
from gigagan.cli_upsample import register_upsampler_commands
from gigagan.config import DiscriminatorConfig, GeneratorConfig, config_to_dict, get_preset, list_presets
from gigagan.errors import GigaGANError

app = typer.Typer(
    name="gigagan",
    help="GigaGAN: fast, controllable text-to-image GANs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()


def _millions(count: int) -> str:
    return f"{count / 1e6:,.1f}M" if count >= 1e5 else f"{count:,}"


@app.command()
def presets() -> None:
    """List the named model presets (text-to-image and upsampler)."""
    from gigagan.upsampler_config import list_upsampler_presets

    table = Table("preset", "description")
    for name, description in {**list_presets(), **list_upsampler_presets()}.items():
        table.add_row(name, description)
    console.print(table)


def _synthesis_table(title: str, levels: list[dict[str, Any]]) -> Table:
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
    table = Table("part", "trainable params", title="Totals (frozen CLIP excluded)")
    for name, count in parts.items():
        table.add_row(name, _millions(count))
    for name, count in totals.items():
        table.add_row(f"[bold]{name}[/bold]", f"[bold]{_millions(count)}[/bold]")
    table.add_row("frozen CLIP towers", _millions(frozen))
    return table


def _upsampler_info(preset: str, as_json: bool) -> None:
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
    console.print(encoder)
    title = f"Upsampler decoder ({summary.scale_factor}x to {summary.resolution}px, {summary.num_ws} w+ rows)"
    console.print(_synthesis_table(title, summary.decoder_levels))
    title = f"Upsampler discriminator ({summary.num_predictions} multi-scale predictions, minibatch-std)"
    console.print(_discriminator_table(title, summary.discriminator_levels))
    parts = {f"U {k}": v for k, v in summary.upsampler_parts.items()}
    parts |= {f"D {k}": v for k, v in summary.discriminator_parts.items()}
    totals = {"upsampler": summary.upsampler_params, "discriminator": summary.upsampler_discriminator_params}
    console.print(_totals_table(parts, totals, summary.frozen_clip_params))


@app.command()
def info(
    preset: Annotated[str, typer.Option(help="Preset name (see `gigagan presets`).")] = "giga",
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object instead of tables.")] = False,
) -> None:
    """Describe a preset: per-level layer tables and trainable parameter counts (frozen CLIP excluded).

    Examples: gigagan info --preset giga --json;  gigagan info --preset upsampler-128to1024
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
    console.print(_synthesis_table(title, summary.generator_levels))
    title = f"Discriminator ({summary.num_predictions} multi-scale predictions)"
    console.print(_discriminator_table(title, summary.discriminator_levels))
    parts = {f"G {k}": v for k, v in summary.generator_parts.items()}
    parts |= {f"D {k}": v for k, v in summary.discriminator_parts.items()}
    totals = {"generator": summary.generator_params, "discriminator": summary.discriminator_params}
    console.print(_totals_table(parts, totals, summary.frozen_clip_params))


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
    except json.JSONDecodeError as error:
        raise GigaGANError(f"{path} is not valid JSON ({error.msg}, line {error.lineno})") from error
    if not isinstance(data, dict) or set(data) - {"preset", "model", "training"}:
        raise GigaGANError(f"{path} must be a JSON object with keys among: preset, model, training")
    return data


@app.command(epilog=TRAIN_EXAMPLES)
def train(
    out: RunDirOption,
    preset: Annotated[str | None, typer.Option(help="Model preset (default quickstart).")] = None,
    data: Annotated[
        str | None, typer.Option(help="shapes | image folder | class folders | .jsonl/.csv | shards.")
    ] = None,
    config_file: ConfigFileOption = None,
    max_steps: MaxStepsOption = None,
    max_minutes: MaxMinutesOption = None,
    batch_size: BatchSizeOption = None,
    seed: SeedOption = None,
    lr_generator: Annotated[float | None, typer.Option("--lr-g", help="Generator learning rate.")] = None,
    lr_discriminator: LrDiscriminatorOption = None,
    r1_gamma: R1GammaOption = None,
    r1_interval: R1IntervalOption = None,
    matching_weight: MatchingWeightOption = None,
    clip_weight: Annotated[float | None, typer.Option(help="CLIP contrastive loss weight.")] = None,
    vision_weight: Annotated[float | None, typer.Option(help="Vision-aided D loss weight.")] = None,
    clip_weights: Annotated[
        str | None, typer.Option(help="CLIP checkpoint (file or open_clip tag) for the vision-aided D and CLIP loss.")
    ] = None,
    augment: AugmentOption = None,
    metrics: MetricsOption = None,
    metrics_every: MetricsEveryOption = None,
    metrics_num_images: MetricsImagesOption = None,
    bf16: Bf16Option = None,
    grad_checkpointing: GradCheckpointingOption = None,
    checkpoint_every: CheckpointEveryOption = None,
    sample_every: SampleEveryOption = None,
    log_every: LogEveryOption = None,
    keep: KeepOption = None,
    num_workers: NumWorkersOption = None,
    caption_template: CaptionTemplateOption = None,
    deterministic: DeterministicOption = None,
    resume: ResumeOption = False,
    device: TrainDeviceOption = "auto",
    processes: ProcessesOption = 1,
    progress: ProgressOption = True,
) -> None:
    """Train a GigaGAN generator and discriminator."""
    from gigagan.config import ModelConfig, TrainConfig, config_from_dict, preset_training
    from gigagan.training import Trainer

    file = load_train_file(config_file) if config_file else {}
    checkpoint, saved = resume_checkpoint(out, resume)
    if saved is not None:  # the run's own configs, then explicit flags on top
        model = ModelConfig(
            generator=config_from_dict(GeneratorConfig, saved["generator"]),
            discriminator=config_from_dict(DiscriminatorConfig, saved["discriminator"]),
        )
        training = config_from_dict(TrainConfig, saved.get("training", {}))
    else:
        preset_name = None if "model" in file else preset or file.get("preset", "quickstart")
        model = config_from_dict(ModelConfig, file["model"]) if preset_name is None else get_preset(preset_name)
        # the preset's own training defaults, then the file's "training" object, then the flags
        training = preset_training(preset_name, file.get("training", {}))
    training = apply_training_options(training, locals())
    if metrics is not None:
        from gigagan.metrics import parse_metric_names

        training = dataclasses.replace(training, metrics=parse_metric_names(metrics))
    if training.metrics and training.metrics_every <= 0:
        raise GigaGANError("--metrics needs --metrics-every N (steps between evaluations)")
    model.validate()
    run_trainer(Trainer, model, training, out, checkpoint, device, progress, with_metrics=True, processes=processes)


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
    (option -> field of the training config) and LOSS_OPTION_FIELDS (on `training.loss`)."""
    fields = {**TRAIN_OPTION_FIELDS, **(extra_fields or {})}
    values = {field: options[name] for name, field in fields.items() if options.get(name) is not None}
    training = dataclasses.replace(training, **values)
    loss = {field: options[name] for name, field in LOSS_OPTION_FIELDS.items() if options.get(name) is not None}
    training.loss = dataclasses.replace(training.loss, **loss)
    return training


def resume_checkpoint(out: Path, resume: bool) -> tuple[Path | None, dict[str, Any] | None]:
    """With --resume: the run's latest checkpoint and its config.json (a one-line error if none)."""
    from gigagan.models.pretrained import read_config_file
    from gigagan.training.checkpoint import latest_checkpoint

    if not resume:
        return None, None
    checkpoint = latest_checkpoint(out)
    if checkpoint is None:
        raise GigaGANError(f"--resume: no checkpoint found in {out}")
    return checkpoint, read_config_file(checkpoint)


def run_trainer(
    trainer_class: type,
    model: Any,
    training: Any,
    out: Path,
    checkpoint: Path | None,
    device: str,
    progress: bool,
    with_metrics: bool = False,
    processes: int = 1,
) -> None:
    """Build `trainer_class` (single process or one torchrun rank), train, and report the result.
    `with_metrics`: score `training.metrics` on the EMA generator every `training.metrics_every` steps;
    `processes` > 1: train in that many local CPU ranks (`run_local_ranks`)."""
    import logging

    from gigagan.training.distributed import init_distributed, run_local_ranks, shutdown

    if processes != 1:  # each rank runs this function again, with processes=1
        args = (trainer_class, model, training, out, checkpoint, device, progress, with_metrics)
        run_local_ranks(processes, device, training.batch_size, run_trainer, *args)
        return

    logging.basicConfig(level=logging.INFO, format="gigagan: %(message)s")
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
    """Entry point of the `gigagan` console script."""
    try:
        app(args=argv, standalone_mode=True)
    except GigaGANError as error:
        typer.echo(f"error: {error}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
