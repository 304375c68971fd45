"""`gigagan presets` and `gigagan info`: the named presets, and one preset's layers and parameter counts."""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gigagan.cli.options import choice_parser, choices_type, preset_names, upsampler_preset_names
from gigagan.config import (
    DEFAULT_PRESET,
    config_to_dict,
    get_preset,
    get_upsampler_preset,
    list_presets,
    list_upsampler_presets,
)

if TYPE_CHECKING:
    from rich.table import Table


def _print(renderable: Any) -> None:
    from rich.console import Console

    Console().print(renderable)


def _millions(count: int) -> str:
    return f"{count / 1e6:,.1f}M" if count >= 1e5 else f"{count:,}"


def presets() -> None:
    """List the named model presets (text-to-image and upsampler)."""
    from rich.table import Table

    table = Table("preset", "description")
    for name, description in {**list_presets(), **list_upsampler_presets()}.items():
        table.add_row(name, description)
    _print(table)


def _levels_table(title: str, columns: tuple[str, ...], levels: list[dict[str, Any]]) -> Table:
    """A table of one row per level: each column shows the level's entry of its name ("conv layers":
    conv_layers; "kernels in bank": kernels), resolutions as RxR, parameters in millions, flags as yes/no."""
    from rich.table import Table

    table = Table(title=title)
    keys = [{"kernels in bank": "kernels"}.get(column, column.replace(" ", "_")) for column in columns]
    for column in columns:
        table.add_column(column, justify="right")
    for level in levels:
        table.add_row(*(_cell(key, level[key]) for key in keys))
    return table


def _cell(key: str, value: Any) -> str:
    if key == "resolution":
        return f"{value}x{value}"
    if key == "params":
        return _millions(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _synthesis_table(title: str, levels: list[dict[str, Any]]) -> Table:
    columns = ("resolution", "channels", "kernels in bank", "conv layers", "attention blocks", "ws", "params")
    return _levels_table(title, columns, levels)


def _discriminator_table(title: str, levels: list[dict[str, Any]]) -> Table:
    columns = ("resolution", "channels", "residual blocks", "attention", "predictions", "params")
    return _levels_table(title, columns, levels)


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
    from gigagan.models.summary import summarize_upsampler

    config = get_upsampler_preset(preset)
    summary = summarize_upsampler(config)
    if as_json:
        payload = {"preset": preset, **dataclasses.asdict(summary), "config": config_to_dict(config)}
        typer.echo(json.dumps(payload, indent=2))
        return
    title = f"Upsampler encoder ({preset}, {summary.input_resolution}px input)"
    _print(_levels_table(title, ("resolution", "channels", "residual blocks", "params"), summary.encoder_levels))
    title = f"Upsampler decoder ({summary.scale_factor}x to {summary.resolution}px, {summary.num_ws} w+ rows)"
    d_title = f"Upsampler discriminator ({summary.num_predictions} multi-scale predictions, minibatch-std)"
    parts = {f"U {k}": v for k, v in summary.upsampler_parts.items()}
    totals = {"upsampler": summary.upsampler_params, "discriminator": summary.upsampler_discriminator_params}
    _print_networks(summary, (title, d_title), summary.decoder_levels, parts, totals)


def _print_networks(
    summary: Any, titles: tuple[str, str], levels: list[dict[str, Any]], parts: dict[str, int], totals: dict[str, int]
) -> None:
    """The tables of a generator or upsampler and its discriminator (`titles`): their levels, then their
    parameters by part (`parts`: the first network's, with its letter) and in total (`totals`)."""
    _print(_synthesis_table(titles[0], levels))
    _print(_discriminator_table(titles[1], summary.discriminator_levels))
    parts = parts | {f"D {k}": v for k, v in summary.discriminator_parts.items()}
    _print(_totals_table(parts, totals, summary.frozen_clip_params))


INFO_PRESETS = preset_names() + upsampler_preset_names()


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
    d_title = f"Discriminator ({summary.num_predictions} multi-scale predictions)"
    parts = {f"G {k}": v for k, v in summary.generator_parts.items()}
    totals = {"generator": summary.generator_params, "discriminator": summary.discriminator_params}
    _print_networks(summary, (title, d_title), summary.generator_levels, parts, totals)
