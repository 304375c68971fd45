"""Exponential moving average of the generator's weights, with StyleGAN's ramp-up: the half-life
(in images) is capped early in training so the average forgets the random initialisation fast."""

from __future__ import annotations

import copy

import torch
from torch import nn


class GeneratorEMA:
    """Keeps `self.model`, a frozen copy of the generator that trails it."""

    def __init__(self, model: nn.Module, half_life_images: int, rampup: float | None = 0.05) -> None:
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.half_life_images = half_life_images
        self.rampup = rampup

    def beta(self, images_seen: int, batch_size: int) -> float:
        half_life = float(self.half_life_images)
        if self.rampup is not None:
            half_life = min(half_life, images_seen * self.rampup)
        return 0.5 ** (batch_size / max(half_life, 1e-8))

    @torch.no_grad()
    def update(self, model: nn.Module, images_seen: int, batch_size: int) -> None:
        beta = self.beta(images_seen, batch_size)
        ema_params, params = list(self.model.parameters()), [param.detach() for param in model.parameters()]
        if len(ema_params) != len(params):
            raise ValueError(f"the EMA holds {len(ema_params)} parameters, the model {len(params)}")
        torch._foreach_lerp_(ema_params, params, 1.0 - beta)  # one call for all, not one per tensor
        for ema_buffer, buffer in zip(self.model.buffers(), model.buffers(), strict=True):
            ema_buffer.copy_(buffer)
