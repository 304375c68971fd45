"""The `gigagan` command line. Thin: it parses, validates and calls the library.

Every user mistake (a GigaGANError) becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gigagan.config import config_to_dict, get_preset, list_presets
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


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `gigagan` console script."""
    try:
        app(args=argv, standalone_mode=True)
    except GigaGANError as error:
        typer.echo(f"error: {error}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
