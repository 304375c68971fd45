"""Modulated convolution with sample-adaptive kernel selection (GigaGAN, section 3.2).

Each layer keeps a bank of N kernels. For a style vector w the layer
  1. mixes the bank with softmax(affine_select(w)) into one kernel per sample,
  2. scales its input channels by s = affine_style(w) (StyleGAN2 modulation),
  3. rescales every output channel to unit norm (demodulation),
and runs all samples at once as a single grouped convolution (groups = batch size).
With N = 1 the kernel is shared, so the layer uses the cheaper equivalent form
conv(x * s, W) * d without building any per-sample kernel.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gigagan.nn.equalized import EqualLinear
from gigagan.nn.resample import upsample2x


class AdaptiveModulatedConv2d(nn.Module):
    """Conv2d whose kernel is selected from a bank and modulated per sample by a style vector."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        w_dim: int,
        num_kernels: int = 1,
        demodulate: bool = True,
        upsample: bool = False,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.num_kernels = num_kernels
        self.demodulate = demodulate
        self.upsample = upsample
        self.bank = nn.Parameter(torch.randn(num_kernels, out_channels, in_channels, kernel_size, kernel_size))
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.to_style = EqualLinear(w_dim, in_channels, bias_init=1.0)
        self.to_kernel_logits = EqualLinear(w_dim, num_kernels) if num_kernels > 1 else None

    def kernel_weights(self, w: Tensor) -> Tensor:
        """Softmax weights over the bank, shape [batch, num_kernels]."""
        if self.to_kernel_logits is None:
            return w.new_ones(w.shape[0], 1)
        return torch.softmax(self.to_kernel_logits(w), dim=-1)

    def per_sample_kernels(self, w: Tensor) -> Tensor:
        """The modulated (and demodulated) kernel of every sample: [batch, out, in, k, k]."""
        bank = self.bank * self.weight_gain
        if self.num_kernels == 1:
            kernels = bank.expand(w.shape[0], -1, -1, -1, -1, -1)[:, 0]
        else:
            kernels = torch.einsum("bn,noikl->boikl", self.kernel_weights(w), bank)
        kernels = kernels * self.to_style(w)[:, None, :, None, None]
        if self.demodulate:
            kernels = kernels * torch.rsqrt(kernels.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
        return kernels

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        if self.upsample:
            x = upsample2x(x)
        if self.num_kernels == 1:
            return self._shared_kernel_forward(x, w)
        batch, _, height, width = x.shape
        kernels = self.per_sample_kernels(w).to(x.dtype)
        out = F.conv2d(
            x.reshape(1, batch * self.in_channels, height, width),
            kernels.reshape(batch * self.out_channels, self.in_channels, self.kernel_size, self.kernel_size),
            padding=self.kernel_size // 2,
            groups=batch,
        )
        return out.reshape(batch, self.out_channels, height, width)

    def _shared_kernel_forward(self, x: Tensor, w: Tensor) -> Tensor:
        weight = self.bank[0] * self.weight_gain
        styles = self.to_style(w)
        x = x * styles[:, :, None, None].to(x.dtype)
        x = F.conv2d(x, weight.to(x.dtype), padding=self.kernel_size // 2)
        if self.demodulate:
            # |W_o * s|^2 = sum_i s_i^2 sum_kl W_oikl^2, computed without a per-sample kernel.
            norms = styles.square() @ weight.square().sum(dim=(2, 3)).t()
            x = x * torch.rsqrt(norms + 1e-8)[:, :, None, None].to(x.dtype)
        return x

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels} -> {self.out_channels}, kernel={self.kernel_size}, "
            f"bank={self.num_kernels}, demodulate={self.demodulate}, upsample={self.upsample}"
        )
