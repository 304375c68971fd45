"""Equalized-learning-rate layers (Karras et al.): weights are stored at unit variance and scaled
by 1/sqrt(fan_in) at run time, so every layer learns at the same effective rate under Adam."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LRELU_GAIN = math.sqrt(2.0)


def leaky_relu_gain(x: Tensor) -> Tensor:
    """Leaky ReLU (slope 0.2) scaled to keep unit variance."""
    return F.leaky_relu(x, 0.2) * LRELU_GAIN


class EqualLinear(nn.Module):
    """Linear layer with equalized learning rate and an optional learning-rate multiplier."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        bias_init: float = 0.0,
        lr_multiplier: float = 1.0,
        activation: bool = False,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init) / lr_multiplier)) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.lr_multiplier = lr_multiplier
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        bias = self.bias * self.lr_multiplier if self.bias is not None else None
        x = F.linear(x, self.weight * self.weight_gain, bias)
        return leaky_relu_gain(x) if self.activation else x

    def extra_repr(self) -> str:
        out_features, in_features = self.weight.shape
        return f"{in_features} -> {out_features}, lr_multiplier={self.lr_multiplier}, act={self.activation}"


class EqualConv2d(nn.Module):
    """2-D convolution with equalized learning rate: 'same' padding at stride 1; at stride 2 a 4x4
    (or 3x3) kernel with padding 1 halves an even size exactly."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: bool = False,
        stride: int = 1,
    ) -> None:
        super().__init__()
        self.stride = stride
        self.padding = kernel_size // 2 if stride == 1 else (kernel_size - 1) // 2
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        x = F.conv2d(x, self.weight * self.weight_gain, self.bias, stride=self.stride, padding=self.padding)
        return leaky_relu_gain(x) if self.activation else x

    def extra_repr(self) -> str:
        out_channels, in_channels, k, _ = self.weight.shape
        stride = f", stride={self.stride}" if self.stride != 1 else ""
        return f"{in_channels} -> {out_channels}, kernel={k}{stride}, act={self.activation}"
