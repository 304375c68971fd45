"""The model card: which preset a checkpoint matches, its parameter counts (frozen CLIP apart), the
weights' hash and the training step, as a JSON-ready dict and as Markdown for the page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from gigagan.config import config_to_dict, get_preset, get_upsampler_preset, list_presets, list_upsampler_presets
from gigagan.inference.pipeline import GigaGANPipeline
from gigagan.inference.upsample import UpsamplerPipeline
from gigagan.io import STATE_NAME
from gigagan.models import Generator
from gigagan.models.summary import count_parameters, frozen_parameters
from gigagan.models.upsampler import Upsampler


def matching_preset(config: Any, presets: dict[str, Any]) -> str:
    """The name of the preset whose network config equals `config`, else "custom"."""
    wanted = config_to_dict(config)
    return next((name for name, network in presets.items() if config_to_dict(network) == wanted), "custom")


def training_step(weights: Path | None) -> int | None:
    """The step of a training checkpoint (its training_state.json), None for a released model."""
    if weights is None:
        return None
    try:
        state = json.loads((weights.parent / STATE_NAME).read_text())
    except (OSError, ValueError):
        return None
    step = state.get("step") if isinstance(state, dict) else None
    return step if isinstance(step, int) else None


def _counts(model: torch.nn.Module, parts: tuple[str, ...]) -> dict[str, int]:
    counts = {name: count_parameters(getattr(model, name)) for name in parts}
    return {**counts, "trainable_total": count_parameters(model), "frozen_clip": frozen_parameters(model)}


def describe_generator(pipe: GigaGANPipeline) -> dict[str, Any]:
    config = pipe.generator.config
    with torch.device("meta"):  # a fresh copy only to tell trainable from frozen (the loaded one is all frozen)
        fresh = Generator(config)
    presets = {name: get_preset(name).generator for name in list_presets()}
    return {
        "preset": matching_preset(config, presets),
        "resolution": config.resolution,
        "levels": list(config.resolutions),
        "num_ws": pipe.generator.num_ws,
        "parameters": _counts(fresh, ("text_encoder", "mapping", "synthesis")),
        "checkpoint": str(pipe.checkpoint_path.parent) if pipe.checkpoint_path else None,
        "checkpoint_hash": pipe.checkpoint_hash,
        "training_step": training_step(pipe.checkpoint_path),
        "device": str(pipe.device),
        "dtype": str(pipe.dtype).removeprefix("torch."),
    }


def describe_upsampler(pipe: UpsamplerPipeline) -> dict[str, Any]:
    config = pipe.upsampler.config
    with torch.device("meta"):
        fresh = Upsampler(config)
    presets = {name: get_upsampler_preset(name).upsampler for name in list_upsampler_presets()}
    return {
        "preset": matching_preset(config, presets),
        "scale_factor": config.scale_factor,
        "input_resolution": config.input_resolution,
        "parameters": _counts(fresh, ("text_encoder", "mapping", "encoder", "decoder")),
        "checkpoint": str(pipe.checkpoint_path.parent) if pipe.checkpoint_path else None,
        "checkpoint_hash": pipe.checkpoint_hash,
        "training_step": training_step(pipe.checkpoint_path),
    }


def _millions(count: int) -> str:
    return f"{count / 1e6:,.2f}M" if count >= 1e5 else f"{count:,}"


def card_markdown(card: dict[str, Any]) -> str:
    """The card as Markdown tables (one per model)."""
    lines: list[str] = []
    for title, entry in (("Generator", card["generator"]), ("Upsampler", card.get("upsampler"))):
        if entry is None:
            lines += [f"### {title}", "", "none loaded (start the server with `--upsampler PATH`)", ""]
            continue
        step = entry["training_step"]
        rows = [
            ("preset", entry["preset"]),
            ("checkpoint", f"`{entry['checkpoint']}`"),
            ("weights SHA-256 (first 16 hex)", f"`{entry['checkpoint_hash']}`"),
            ("training step", "not a training checkpoint" if step is None else f"{step:,}"),
        ]
        if "resolution" in entry:
            rows.append(("resolution", f"{entry['resolution']} px, levels {entry['levels']}"))
        else:
            rows.append(("scale", f"{entry['scale_factor']}x (trained on {entry['input_resolution']} px inputs)"))
        rows += [(f"params: {name}", _millions(count)) for name, count in entry["parameters"].items()]
        table = [f"| {key} | {value} |" for key, value in rows]
        lines += [f"### {title}", "", "| field | value |", "|---|---|", *table, ""]
    limits = card.get("limits", {})
    if limits:
        lines += ["### Server limits", "", ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in limits.items())]
    return "\n".join(lines)


__all__ = ["card_markdown", "describe_generator", "describe_upsampler", "matching_preset", "training_step"]
