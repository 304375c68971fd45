"""Differentiable augmentation for small datasets (in the spirit of DiffAugment): the same random
translation and colour change is applied to every level of a pyramid, so the levels stay
consistent with each other, and to real and generated images alike."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass
class AugmentParams:
    """Per-sample parameters, drawn once per batch and shared by all pyramid levels."""

    translation: Tensor  # [B, 2], fractions of the image size in [-1/8, 1/8]
    brightness: Tensor  # [B, 1, 1, 1]
    saturation: Tensor  # [B, 1, 1, 1]
    contrast: Tensor  # [B, 1, 1, 1]

    @staticmethod
    def sample(batch: int, device: torch.device, generator: torch.Generator | None = None) -> AugmentParams:
        def uniform(*shape: int, low: float, high: float) -> Tensor:
            return torch.rand(*shape, generator=generator).to(device) * (high - low) + low

        return AugmentParams(
            translation=uniform(batch, 2, low=-0.125, high=0.125),
            brightness=uniform(batch, 1, 1, 1, low=-0.25, high=0.25),
            saturation=uniform(batch, 1, 1, 1, low=0.5, high=1.5),
            contrast=uniform(batch, 1, 1, 1, low=0.75, high=1.25),
        )

    def to(self, device: torch.device) -> AugmentParams:
        return AugmentParams(*(getattr(self, f.name).to(device) for f in dataclasses.fields(self)))

    def select(self, index: Tensor | slice) -> AugmentParams:
        return AugmentParams(
            self.translation[index], self.brightness[index], self.saturation[index], self.contrast[index]
        )


def augment_image(image: Tensor, params: AugmentParams) -> Tensor:
    """Colour change then translation (reflection padding) of images in [-1, 1]."""
    x = image + params.brightness.to(image.dtype)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * params.saturation.to(image.dtype) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * params.contrast.to(image.dtype) + mean
    theta = torch.zeros(image.shape[0], 2, 3, device=image.device, dtype=image.dtype)
    theta[:, 0, 0] = 1
    theta[:, 1, 1] = 1
    theta[:, :, 2] = params.translation.to(image.dtype) * 2  # grid coordinates span [-1, 1]
    grid = F.affine_grid(theta, list(image.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def augment_pyramid(pyramid: list[Tensor], params: AugmentParams) -> list[Tensor]:
    return [augment_image(level, params) for level in pyramid]
