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

from gigagan.cli_generate import register_generation_commands
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
    """List the named model presets."""
    table = Table("preset", "description")
    for name, description in list_presets().items():
        table.add_row(name, description)
    console.print(table)


@app.command()
def info(
    preset: Annotated[str, typer.Option(help="Preset name (see `gigagan presets`).")] = "giga",
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object instead of tables.")] = False,
) -> None:
    """Describe a preset: per-level layer tables and trainable parameter counts (frozen CLIP excluded).

    Example: gigagan info --preset giga --json
    """
    from gigagan.models.summary import summarize

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

    generator = Table(title=f"Generator ({preset}, {summary.resolution}px, {summary.num_ws} w+ rows)")
    for column in ("resolution", "channels", "kernels in bank", "conv layers", "attention blocks", "ws", "params"):
        generator.add_column(column, justify="right")
    for level in summary.generator_levels:
        generator.add_row(
            f"{level['resolution']}x{level['resolution']}",
            str(level["channels"]),
            str(level["kernels"]),
            str(level["conv_layers"]),
            str(level["attention_blocks"]),
            str(level["ws"]),
            _millions(level["params"]),
        )
    console.print(generator)
    discriminator = Table(title=f"Discriminator ({summary.num_predictions} multi-scale predictions)")
    for column in ("resolution", "channels", "residual blocks", "attention", "predictions", "params"):
        discriminator.add_column(column, justify="right")
    for level in summary.discriminator_levels:
        discriminator.add_row(
            f"{level['resolution']}x{level['resolution']}",
            str(level["channels"]),
            str(level["residual_blocks"]),
            "yes" if level["attention"] else "no",
            str(level["predictions"]),
            _millions(level["params"]),
        )
    console.print(discriminator)
    parts = Table("part", "trainable params", title="Totals (frozen CLIP excluded)")
    for name, count in summary.generator_parts.items():
        parts.add_row(f"G {name}", _millions(count))
    for name, count in summary.discriminator_parts.items():
        parts.add_row(f"D {name}", _millions(count))
    parts.add_row("[bold]generator[/bold]", f"[bold]{_millions(summary.generator_params)}[/bold]")
    parts.add_row("[bold]discriminator[/bold]", f"[bold]{_millions(summary.discriminator_params)}[/bold]")
    parts.add_row("frozen CLIP towers", _millions(summary.frozen_clip_params))
    console.print(parts)


TRAIN_EXAMPLES = """
Examples:

  gigagan train --preset quickstart --data shapes --out runs/qs

  gigagan train --preset cifar10 --data ./cifar10/train --caption-template "a photo of a {label}" --out runs/c10

  gigagan train --out runs/qs --resume                      # continue from runs/qs/latest

  torchrun --nproc_per_node 8 -m gigagan.cli train --preset giga --bf16 \\
      --data "shards/{00000..09999}.tar" --out runs/giga
"""


def _load_train_file(path: Path) -> dict[str, Any]:
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
    out: Annotated[Path, typer.Option(help="Run directory: checkpoints, samples, logs.")],
    preset: Annotated[str | None, typer.Option(help="Model preset (default quickstart).")] = None,
    data: Annotated[
        str | None, typer.Option(help="shapes | image folder | class folders | .jsonl/.csv | shards.")
    ] = None,
    config_file: Annotated[Path | None, typer.Option("--config", help="JSON with preset/model/training.")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Total training steps.")] = None,
    max_minutes: Annotated[float | None, typer.Option(help="Stop after this many minutes (checkpointed).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Global batch size (split over ranks).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed.")] = None,
    lr_generator: Annotated[float | None, typer.Option("--lr-g", help="Generator learning rate.")] = None,
    lr_discriminator: Annotated[float | None, typer.Option("--lr-d", help="Discriminator learning rate.")] = None,
    r1_gamma: Annotated[float | None, typer.Option(help="R1 weight gamma.")] = None,
    r1_interval: Annotated[int | None, typer.Option(help="Lazy R1 interval in steps.")] = None,
    matching_weight: Annotated[float | None, typer.Option(help="Matching-aware loss weight.")] = None,
    clip_weight: Annotated[float | None, typer.Option(help="CLIP contrastive loss weight.")] = None,
    vision_weight: Annotated[float | None, typer.Option(help="Vision-aided D loss weight.")] = None,
    clip_weights: Annotated[
        str | None, typer.Option(help="CLIP checkpoint (file or open_clip tag) for the vision-aided D and CLIP loss.")
    ] = None,
    augment: Annotated[bool | None, typer.Option("--augment/--no-augment", help="Differentiable augmentation.")] = None,
    bf16: Annotated[bool | None, typer.Option("--bf16/--no-bf16", help="bfloat16 autocast.")] = None,
    grad_checkpointing: Annotated[bool | None, typer.Option("--grad-checkpointing/--no-grad-checkpointing")] = None,
    checkpoint_every: Annotated[int | None, typer.Option(help="Steps between checkpoints.")] = None,
    sample_every: Annotated[int | None, typer.Option(help="Steps between sample grids.")] = None,
    log_every: Annotated[int | None, typer.Option(help="Steps between log lines.")] = None,
    keep: Annotated[int | None, typer.Option(help="Checkpoints to keep (0 keeps all).")] = None,
    num_workers: Annotated[int | None, typer.Option(help="DataLoader workers.")] = None,
    caption_template: Annotated[str | None, typer.Option(help="Caption for class folders, with {label}.")] = None,
    deterministic: Annotated[bool | None, typer.Option("--deterministic/--no-deterministic")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from OUT/latest.")] = False,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
) -> None:
    """Train a GigaGAN generator and discriminator."""
    import logging

    from gigagan.config import ModelConfig, TrainConfig, config_from_dict
    from gigagan.models.pretrained import read_config_file
    from gigagan.training import Trainer
    from gigagan.training.checkpoint import latest_checkpoint
    from gigagan.training.distributed import init_distributed, shutdown

    logging.basicConfig(level=logging.INFO, format="gigagan: %(message)s")
    file = _load_train_file(config_file) if config_file else {}
    checkpoint = latest_checkpoint(out) if resume else None
    if resume and checkpoint is None:
        raise GigaGANError(f"--resume: no checkpoint found in {out}")
    if checkpoint is not None:  # the run's own configs, then explicit flags on top
        saved = read_config_file(checkpoint)
        model = ModelConfig(
            generator=config_from_dict(GeneratorConfig, saved["generator"]),
            discriminator=config_from_dict(DiscriminatorConfig, saved["discriminator"]),
        )
        training = config_from_dict(TrainConfig, saved.get("training", {}))
    else:
        model = (
            config_from_dict(ModelConfig, file["model"])
            if "model" in file
            else get_preset(preset or file.get("preset", "quickstart"))
        )
        training = config_from_dict(TrainConfig, file.get("training", {}))
    overrides = {
        "data": data,
        "max_steps": max_steps,
        "max_minutes": max_minutes,
        "batch_size": batch_size,
        "seed": seed,
        "lr_generator": lr_generator,
        "lr_discriminator": lr_discriminator,
        "bf16": bf16,
        "grad_checkpointing": grad_checkpointing,
        "checkpoint_every": checkpoint_every,
        "sample_every": sample_every,
        "log_every": log_every,
        "keep_checkpoints": keep,
        "num_workers": num_workers,
        "caption_template": caption_template,
        "deterministic": deterministic,
        "clip_weights": clip_weights,
    }
    training = dataclasses.replace(training, **{k: v for k, v in overrides.items() if v is not None})
    loss_overrides = {
        "r1_gamma": r1_gamma,
        "r1_interval": r1_interval,
        "matching_aware_weight": matching_weight,
        "clip_weight": clip_weight,
        "vision_aided_weight": vision_weight,
        "augment": augment,
    }
    training.loss = dataclasses.replace(training.loss, **{k: v for k, v in loss_overrides.items() if v is not None})
    model.validate()
    context = init_distributed(device)
    try:
        trainer = Trainer(model, training, out, context=context, resume=checkpoint or False, progress=progress)
        result = trainer.run()
    finally:
        shutdown(context)
    if context.is_main:
        typer.echo(
            f"trained {result.step} steps ({result.images_seen} images, {result.skipped_steps} skipped); "
            f"checkpoint: {result.last_checkpoint}; latest: {out / 'latest'}"
        )


register_generation_commands(app)  # generate, interpolate, style-mix, prompt-mix, demo


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `gigagan` console script."""
    try:
        app(args=argv, standalone_mode=True)
    except GigaGANError as error:
        typer.echo(f"error: {error}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
