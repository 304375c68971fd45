"""Resampling by factors of two with a [1, 3, 3, 1] binomial filter (StyleGAN's choice), and the
antialiased image pyramid fed to the multi-scale discriminator."""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import Tensor


def upsample2x(x: Tensor) -> Tensor:
    """2x bilinear upsampling (equal to zero-insertion followed by the [1, 3, 3, 1] filter)."""
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


def downsample2x(x: Tensor) -> Tensor:
    """2x downsampling: [1, 3, 3, 1] binomial low-pass filter, then stride 2."""
    channels = x.shape[1]
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0], device=x.device, dtype=x.dtype)
    kernel = torch.outer(taps, taps) / 64.0
    kernel = kernel.expand(channels, 1, 4, 4)
    x = _replicate_pad1(x)
    return F.conv2d(x, kernel, stride=2, groups=channels)


def _replicate_pad1(x: Tensor) -> Tensor:
    """Repeat the outermost row and column once on every side (F.pad's "replicate" mode, written
    with concatenation because torch.compile's replication_pad2d_backward rejects some strides)."""
    x = torch.cat([x[..., :1, :], x, x[..., -1:, :]], dim=-2)
    return torch.cat([x[..., :1], x, x[..., -1:]], dim=-1)


def image_pyramid(image: Tensor, num_levels: int) -> list[Tensor]:
    """[image, image/2, image/4, ...], finest first, `num_levels` entries (antialiased)."""
    levels = [image]
    for _ in range(num_levels - 1):
        levels.append(downsample2x(levels[-1]))
    return levels


def laplacian_bands(pyramid: list[Tensor]) -> list[Tensor]:
    """[finest, ..., coarsest] images -> their detail bands: every level minus the 2x upsampling of
    the next coarser one; the coarsest level stays as it is. Invertible: summing upsampled bands
    from the coarsest down gives the pyramid back (and a generator's toRGB outputs are exactly its
    pyramid's bands)."""
    return [level - upsample2x(coarser) for level, coarser in itertools.pairwise(pyramid)] + [pyramid[-1]]
