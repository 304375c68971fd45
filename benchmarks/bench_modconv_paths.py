"""Forward + backward time of one AdaptiveModulatedConv2d layer through its two multi-kernel paths
(grouped per-sample kernels vs one convolution with the stacked bank), at the `quickstart`
generator's 8x8 and 16x16 layer shapes, batch 16, one thread. Decides STACKED_MAX_PIXELS_TIMES_KERNELS.

    .venv/bin/python benchmarks/bench_modconv_paths.py
"""

from __future__ import annotations

import time

import torch

import gigagan.nn.modconv as modconv
from gigagan.nn import AdaptiveModulatedConv2d

# (in channels, out channels, output resolution, kernels in the bank, upsample)
SHAPES = [(128, 96, 8, 2, True), (96, 96, 8, 2, False), (96, 48, 16, 2, True), (48, 48, 16, 2, False)]


def milliseconds(layer: AdaptiveModulatedConv2d, x: torch.Tensor, w: torch.Tensor, repeats: int = 10) -> float:
    for _ in range(3):
        layer(x, w).square().mean().backward()
    start = time.perf_counter()
    for _ in range(repeats):
        layer(x, w).square().mean().backward()
    return (time.perf_counter() - start) / repeats * 1000


def main() -> None:
    torch.set_num_threads(1)
    print(f"{'in':>4} {'out':>4} {'res':>4} {'N':>2} {'up':>5} {'grouped ms':>11} {'stacked ms':>11}")
    for in_channels, out_channels, resolution, kernels, upsample in SHAPES:
        times = []
        for threshold in (0, 10**9):  # 0: always grouped; huge: always stacked
            modconv.STACKED_MAX_PIXELS_TIMES_KERNELS = threshold
            torch.manual_seed(0)
            layer = AdaptiveModulatedConv2d(in_channels, out_channels, 3, 256, kernels, upsample=upsample)
            side = resolution // 2 if upsample else resolution
            x = torch.randn(16, in_channels, side, side, requires_grad=True)
            times.append(milliseconds(layer, x, torch.randn(16, 256)))
        shape = f"{in_channels:4d} {out_channels:4d} {resolution:4d} {kernels:2d} {upsample!s:>5}"
        print(f"{shape} {times[0]:11.1f} {times[1]:11.1f}")


if __name__ == "__main__":
    main()
