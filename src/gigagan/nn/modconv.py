"""Modulated convolution with sample-adaptive kernel selection (GigaGAN, section 3.2).

Each layer keeps a bank of N kernels. For a style vector w the layer
  1. mixes the bank with softmax(affine_select(w)) into one kernel per sample,
  2. scales its input channels by s = affine_style(w) (StyleGAN2 modulation),
  3. rescales every output channel to unit norm (demodulation),
and runs all samples at once as a single grouped convolution (groups = batch size).
Steps 2 and 3 are applied to the activations (x * s before, * d after the convolution), which is
exactly equivalent, so the only per-sample tensor is the bank mixture [B, out, in, k, k]; the
demodulation norms come from the bank's Gram matrix without touching it. With N = 1 the kernel is
shared and the layer is a plain batched convolution; on tiny maps (4x4) the layer convolves with
the whole stacked bank and mixes the N outputs per sample, which is cheaper there.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gigagan.nn.equalized import EqualLinear
from gigagan.nn.resample import upsample2x

# At or below this many (pixels x kernels in the bank) the layer convolves with the stacked bank
# instead of per-sample kernels (4x4 maps with up to 8 kernels, 8x8 maps with 2): measured 2.5-3x
# faster on CPU at 4x4 and 1.5x (forward + backward, batch 16, 96-128 channels) at 8x8 with 2
# kernels; at 16x16 with 2 kernels the grouped convolution is faster again (1.2x).
STACKED_MAX_PIXELS_TIMES_KERNELS = 128


def _at_least_float32(x: Tensor) -> Tensor:
    return x.to(torch.promote_types(x.dtype, torch.float32))


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
        # Modulating the input channels and demodulating the output channels is the same as
        # convolving with the modulated, demodulated kernel, and only the bank mixture has to
        # exist per sample; the demodulation norms come from the bank's Gram matrix.
        if self.upsample:
            x = upsample2x(x)
        styles = self.to_style(w)
        x = x * styles[:, :, None, None].to(x.dtype)
        batch, _, height, width = x.shape
        padding = self.kernel_size // 2
        if self.num_kernels == 1:
            weights = None
            out = F.conv2d(x, (self.bank[0] * self.weight_gain).to(x.dtype), padding=padding)
        elif height * width * self.num_kernels <= STACKED_MAX_PIXELS_TIMES_KERNELS:
            # Tiny feature maps: one ordinary convolution with the whole bank, then the per-sample
            # mixture of its N outputs (N times the FLOPs, but far faster than a grouped conv there).
            weights = self.kernel_weights(w)
            stacked = (self.bank * self.weight_gain).flatten(0, 1).to(x.dtype)  # [N*O, I, k, k]
            out = F.conv2d(x, stacked, padding=padding).view(batch, self.num_kernels, self.out_channels, height, width)
            out = torch.einsum("bn,bnohw->bohw", weights.to(out.dtype), out)
        else:
            weights = self.kernel_weights(w)
            kernels = (weights * self.weight_gain) @ self.bank.flatten(1)  # [B, O*I*k*k]
            kernels = kernels.view(batch * self.out_channels, self.in_channels, self.kernel_size, self.kernel_size)
            grouped = x.reshape(1, batch * self.in_channels, height, width)
            out = F.conv2d(grouped, kernels.to(x.dtype), padding=padding, groups=batch)
            out = out.view(batch, self.out_channels, height, width)
        if self.demodulate:
            out = out * self._demodulation(weights, styles)[:, :, None, None].to(out.dtype)
        return out

    def _demodulation(self, weights: Tensor | None, styles: Tensor) -> Tensor:
        """1 / |modulated kernel| per sample and output channel, [B, out]."""
        squared_styles = _at_least_float32(styles).square()
        bank = _at_least_float32(self.bank) * self.weight_gain
        if weights is None:
            norms = squared_styles @ bank[0].square().sum(dim=(2, 3)).t()
        else:
            n = self.num_kernels
            # |sum_n a_n W_n s|^2 = sum_nm a_n a_m sum_i s_i^2 <W_n[o, i], W_m[o, i]>
            pairs = bank.flatten(3)  # [N, O, I, k*k]; one product per pair keeps memory at one kernel
            gram = torch.stack([(pairs[i] * pairs[j]).sum(dim=-1) for i in range(n) for j in range(n)])
            gram = gram.reshape(n * n * self.out_channels, self.in_channels)
            per_pair = (squared_styles @ gram.t()).view(-1, n, n, self.out_channels)
            weights = _at_least_float32(weights)
            norms = torch.einsum("bn,bm,bnmo->bo", weights, weights, per_pair)
        return torch.rsqrt(norms + 1e-8)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels} -> {self.out_channels}, kernel={self.kernel_size}, "
            f"bank={self.num_kernels}, demodulate={self.demodulate}, upsample={self.upsample}"
        )
