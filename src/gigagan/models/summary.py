"""Parameter counts and per-level layer tables, computed on the meta device (no memory, no time)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from gigagan.config import ModelConfig
from gigagan.config.upsampler import UpsamplerModelConfig
from gigagan.models.discriminator import Discriminator, MultiScaleDiscriminator
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


def synthesis_levels(levels: nn.ModuleList, config: Any, conv_type: type[nn.Module]) -> list[dict[str, Any]]:
    """One table row per synthesis (or decoder) level; `config` has per-level resolutions, channels, kernels."""
    return [
        {
            "resolution": config.resolutions[index],
            "channels": config.channels[index],
            "kernels": config.kernels[index],
            "conv_layers": sum(isinstance(layer, conv_type) for layer in level.layers),
            "attention_blocks": sum(isinstance(layer, AttentionBlock) for layer in level.layers),
            "ws": level.num_ws,
            "params": count_parameters(level),
        }
        for index, level in enumerate(levels)
    ]


def discriminator_levels(discriminator: MultiScaleDiscriminator) -> list[dict[str, Any]]:
    """One table row per MS-I/O depth, coarsest resolution first in the config's order."""
    config = discriminator.config
    rows = []
    for depth in range(discriminator.num_levels):
        level = discriminator.num_levels - 1 - depth
        modules = [discriminator.from_rgb[depth], discriminator.blocks[depth], discriminator.heads[depth]]
        if depth < len(discriminator.downsample):
            modules.append(discriminator.downsample[depth])
        rows.append(
            {
                "resolution": config.resolutions[level],
                "channels": config.channels[level],
                "residual_blocks": config.blocks[level],
                "attention": bool(config.attention[level]),
                "predictions": depth + 1,
                "params": sum(count_parameters(m) for m in modules),
            }
        )
    return rows


def frozen_parameters(*modules: nn.Module) -> int:
    """Parameters that do not train (the frozen CLIP towers)."""
    return sum(count_parameters(m, trainable_only=False) - count_parameters(m) for m in modules)


def multiscale_parameters(discriminator: MultiScaleDiscriminator) -> int:
    parts = (discriminator.from_rgb, discriminator.blocks, discriminator.heads, discriminator.downsample)
    return sum(count_parameters(m) for m in parts)


def conditioning_parts(model: nn.Module) -> dict[str, int]:
    """Trainable parameters of a text-conditioned model's text encoder and mapping network."""
    return {"text_encoder": count_parameters(model.text_encoder), "mapping": count_parameters(model.mapping)}


def trunk_parts(discriminator: MultiScaleDiscriminator) -> dict[str, int]:
    """Trainable parameters of a discriminator's text branch and multi-scale trunk with its heads."""
    return {
        "text_branch": count_parameters(discriminator.text_branch),
        "multiscale": multiscale_parameters(discriminator),
    }


def summarize(config: ModelConfig) -> ModelSummary:
    """Build both networks on the meta device and describe them."""
    with torch.device("meta"):
        generator = Generator(config.generator)
        discriminator = Discriminator(config.discriminator)
    return ModelSummary(
        resolution=config.generator.resolution,
        generator_params=count_parameters(generator),
        discriminator_params=count_parameters(discriminator),
        frozen_clip_params=frozen_parameters(generator, discriminator),
        num_ws=generator.num_ws,
        num_predictions=discriminator.num_predictions,
        generator_parts={**conditioning_parts(generator), "synthesis": count_parameters(generator.synthesis)},
        discriminator_parts={
            **trunk_parts(discriminator),
            "vision_aided_heads": count_parameters(discriminator.vision_aided) if discriminator.vision_aided else 0,
        },
        generator_levels=synthesis_levels(generator.synthesis.levels, config.generator, SynthesisLayer),
        discriminator_levels=discriminator_levels(discriminator),
    )


@dataclass
class UpsamplerSummary:
    input_resolution: int
    resolution: int  # output resolution
    scale_factor: int
    upsampler_params: int
    upsampler_discriminator_params: int
    frozen_clip_params: int
    num_ws: int
    num_predictions: int
    upsampler_parts: dict[str, int]
    discriminator_parts: dict[str, int]
    encoder_levels: list[dict[str, Any]]
    decoder_levels: list[dict[str, Any]]
    discriminator_levels: list[dict[str, Any]]


def summarize_upsampler(config: UpsamplerModelConfig) -> UpsamplerSummary:
    """Build the upsampler and its discriminator on the meta device and describe them."""
    from gigagan.models.upsampler import Upsampler, UpsamplerDiscriminator, UpsamplerLayer

    with torch.device("meta"):
        upsampler = Upsampler(config.upsampler)
        discriminator = UpsamplerDiscriminator(config.discriminator)
    u_config = config.upsampler
    encoder_levels = [
        {"resolution": resolution, "channels": channels, "residual_blocks": blocks, "params": count_parameters(level)}
        for resolution, channels, blocks, level in zip(
            u_config.encoder_resolutions, u_config.encoder_channels, u_config.encoder_blocks, upsampler.encoder
        )
    ]
    return UpsamplerSummary(
        input_resolution=u_config.input_resolution,
        resolution=u_config.output_resolution,
        scale_factor=u_config.scale_factor,
        upsampler_params=count_parameters(upsampler),
        upsampler_discriminator_params=count_parameters(discriminator),
        frozen_clip_params=frozen_parameters(upsampler, discriminator),
        num_ws=upsampler.num_ws,
        num_predictions=discriminator.num_predictions,
        upsampler_parts={
            **conditioning_parts(upsampler),
            "encoder": count_parameters(upsampler.encoder),
            "decoder": count_parameters(upsampler.decoder),
        },
        discriminator_parts=trunk_parts(discriminator),
        encoder_levels=encoder_levels,
        decoder_levels=synthesis_levels(upsampler.decoder, u_config, UpsamplerLayer),
        discriminator_levels=discriminator_levels(discriminator),
    )
