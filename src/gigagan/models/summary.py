"""Parameter counts and per-level layer tables, computed on the meta device (no memory, no time)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from gigagan.config import ModelConfig
from gigagan.models.discriminator import Discriminator
from gigagan.models.generator import AttentionBlock, Generator, SynthesisLayer


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    """Number of parameters (trainable ones only by default, so frozen CLIP towers are excluded)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


@dataclass
class ModelSummary:
    resolution: int
    generator_params: int
    discriminator_params: int
    frozen_clip_params: int
    num_ws: int
    num_predictions: int
    generator_parts: dict[str, int]
    discriminator_parts: dict[str, int]
    generator_levels: list[dict[str, Any]] = field(default_factory=list)
    discriminator_levels: list[dict[str, Any]] = field(default_factory=list)


def summarize(config: ModelConfig) -> ModelSummary:
    """Build both networks on the meta device and describe them."""
    with torch.device("meta"):
        generator = Generator(config.generator)
        discriminator = Discriminator(config.discriminator)
    g_config, d_config = config.generator, config.discriminator

    generator_levels = []
    for index, level in enumerate(generator.synthesis.levels):
        generator_levels.append(
            {
                "resolution": g_config.resolutions[index],
                "channels": g_config.channels[index],
                "kernels": g_config.kernels[index],
                "conv_layers": sum(isinstance(layer, SynthesisLayer) for layer in level.layers),
                "attention_blocks": sum(isinstance(layer, AttentionBlock) for layer in level.layers),
                "ws": level.num_ws,
                "params": count_parameters(level),
            }
        )
    discriminator_levels = []
    for depth in range(discriminator.num_levels):
        level = discriminator.num_levels - 1 - depth
        modules = [discriminator.from_rgb[depth], discriminator.blocks[depth], discriminator.heads[depth]]
        if depth < len(discriminator.downsample):
            modules.append(discriminator.downsample[depth])
        discriminator_levels.append(
            {
                "resolution": d_config.resolutions[level],
                "channels": d_config.channels[level],
                "residual_blocks": d_config.blocks[level],
                "attention": bool(d_config.attention[level]),
                "predictions": depth + 1,
                "params": sum(count_parameters(m) for m in modules),
            }
        )
    frozen = count_parameters(generator, trainable_only=False) - count_parameters(generator)
    frozen += count_parameters(discriminator, trainable_only=False) - count_parameters(discriminator)
    return ModelSummary(
        resolution=g_config.resolution,
        generator_params=count_parameters(generator),
        discriminator_params=count_parameters(discriminator),
        frozen_clip_params=frozen,
        num_ws=generator.num_ws,
        num_predictions=discriminator.num_predictions,
        generator_parts={
            "text_encoder": count_parameters(generator.text_encoder),
            "mapping": count_parameters(generator.mapping),
            "synthesis": count_parameters(generator.synthesis),
        },
        discriminator_parts={
            "text_branch": count_parameters(discriminator.text_branch),
            "multiscale": sum(
                count_parameters(m)
                for m in (discriminator.from_rgb, discriminator.blocks, discriminator.heads, discriminator.downsample)
            ),
            "vision_aided_heads": count_parameters(discriminator.vision_aided) if discriminator.vision_aided else 0,
        },
        generator_levels=generator_levels,
        discriminator_levels=discriminator_levels,
    )
