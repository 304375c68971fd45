"""Tiny upsampler configs for every scale factor (shared by the upsampler tests)."""

from __future__ import annotations

from gigagan.config.upsampler import UpsamplerConfig, get_upsampler_preset


def tiny_upsampler(scale_factor: int = 4, attention: bool = True) -> UpsamplerConfig:
    """`upsampler-tiny` (16 -> 64 px) with one extra light decoder level per extra octave."""
    config = get_upsampler_preset("upsampler-tiny").upsampler
    extra = {4: 0, 8: 1, 16: 2}[scale_factor]
    config.scale_factor = scale_factor
    config.channels = [*config.channels, *[8] * extra]
    config.blocks = [*config.blocks, *[1] * extra]
    config.kernels = [*config.kernels, *[1] * extra]
    config.attention = [*config.attention, *[False] * extra]
    if not attention:
        config.attention = [False] * len(config.attention)
    config.validate()
    return config
