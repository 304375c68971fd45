"""Batch statistics as features."""

from __future__ import annotations

import torch
from torch import Tensor


def minibatch_std(x: Tensor, group_size: int, num_channels: int = 1, num_paths: int = 1) -> Tensor:
    """Append `num_channels` feature maps holding the standard deviation of the features across a
    group of samples (StyleGAN's minibatch-std). `x` holds `num_paths` batches stacked on dim 0;
    groups never mix paths. The group is the largest divisor of the batch up to `group_size`."""
    if num_channels == 0:
        return x
    total, channels, height, width = x.shape
    batch = total // num_paths
    group = max(g for g in range(1, min(group_size, batch) + 1) if batch % g == 0)
    y = x.reshape(num_paths, group, batch // group, num_channels, channels // num_channels, height, width)
    y = y.float()
    y = (y - y.mean(dim=1, keepdim=True)).square().mean(dim=1)  # variance over the group
    y = (y + 1e-8).sqrt().mean(dim=(3, 4, 5))  # [paths, batch / group, num_channels]
    y = y[:, None, :, :, None, None].expand(-1, group, -1, -1, height, width)
    y = y.reshape(total, num_channels, height, width).to(x.dtype)
    return torch.cat([x, y], dim=1)
