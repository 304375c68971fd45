"""The upsampler's training input: real images made low-resolution, noisy and, optionally, degraded.

`make_low_res` downsamples with an antialiasing filter to the upsampler's input resolution and adds
Gaussian noise of a per-sample strength (the paper's noise augmentation of the low-res input). With
a `Degradation`, real-photo damage comes first, in the spirit of Real-ESRGAN's first-order model:
Gaussian blur at full resolution, a random resize kernel for the downsampling, sensor-like noise and
JPEG re-compression, each applied with its own probability and strength.

Every random choice of a sample comes from a NumPy generator seeded with (run seed, step, global
row), so a resumed run (or one with another number of ranks) rebuilds exactly the same inputs.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

RESIZE_MODES = ("bicubic", "bilinear", "area")


@dataclass
class Degradation:
    """Probabilities and strength ranges of the real-photo degradations (images in [-1, 1])."""

    blur_probability: float = 0.7
    blur_sigma: tuple[float, float] = (0.2, 1.5)  # Gaussian blur at the high resolution, in low-res pixels
    noise_probability: float = 0.5
    noise_sigma: tuple[float, float] = (0.005, 0.06)  # additive Gaussian noise before JPEG (1 = half the range)
    jpeg_probability: float = 0.7
    jpeg_quality: tuple[int, int] = (30, 95)
    resize_modes: tuple[str, ...] = RESIZE_MODES  # the downsampling kernel is drawn from these


def sample_rng(seed: int, step: int, row: int) -> np.random.Generator:
    """The random generator of one training sample: a pure function of (seed, step, global row)."""
    return np.random.default_rng([seed & 0xFFFFFFFF, step, row, 0x75707361])  # 'upsa'


def gaussian_blur(image: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of [C, H, W] (reflect padding, radius 3 sigma)."""
    radius = max(1, int(np.ceil(3 * sigma)))
    taps = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (taps / sigma) ** 2)
    kernel = (kernel / kernel.sum()).to(image)
    channels = image.shape[0]
    x = image[None]
    x = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    x = F.conv2d(x, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)
    return x[0]


def resize(image: Tensor, size: int, mode: str = "bicubic") -> Tensor:
    """Antialiased resize of [C, H, W] (or [B, C, H, W]) to `size` x `size`."""
    batched = image if image.dim() == 4 else image[None]
    if mode == "area":
        out = F.interpolate(batched, size=(size, size), mode="area")
    else:
        out = F.interpolate(batched, size=(size, size), mode=mode, antialias=True, align_corners=False)
    return out if image.dim() == 4 else out[0]


def jpeg_roundtrip(image: Tensor, quality: int) -> Tensor:
    """Encode [3, H, W] in [-1, 1] as a JPEG of `quality` and decode it again."""
    array = ((image.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=int(quality))
    decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"), dtype=np.float32)
    return torch.from_numpy(decoded.copy()).permute(2, 0, 1).to(image.dtype) / 127.5 - 1.0


def degrade(image: Tensor, size: int, rng: np.random.Generator, config: Degradation) -> Tensor:
    """One real-photo-like low-res version of [3, H, W] in [-1, 1] at `size` x `size`."""
    scale = image.shape[-1] / size
    if rng.random() < config.blur_probability:
        image = gaussian_blur(image, float(rng.uniform(*config.blur_sigma)) * scale)
    mode = config.resize_modes[int(rng.integers(len(config.resize_modes)))]
    image = resize(image, size, mode)
    if rng.random() < config.noise_probability:
        sigma = float(rng.uniform(*config.noise_sigma))
        image = image + torch.from_numpy(rng.standard_normal(image.shape).astype(np.float32)).to(image) * sigma
    if rng.random() < config.jpeg_probability:
        image = jpeg_roundtrip(image, int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1)))
    return image.clamp(-1, 1)


def make_low_res(
    images: Tensor,
    size: int,
    rngs: Sequence[np.random.Generator],
    noise_sigma: tuple[float, float] = (0.0, 0.0),
    degradation: Degradation | None = None,
) -> Tensor:
    """Low-resolution inputs [B, 3, size, size] for real images [B, 3, R, R] in [-1, 1] (CPU tensors):
    antialiased bicubic downsampling (or `degradation`), then Gaussian noise whose sigma is drawn
    uniformly from `noise_sigma` per sample. `rngs` holds one generator per image (`sample_rng`)."""
    if len(rngs) != images.shape[0]:
        raise ValueError(f"{len(rngs)} random generators for {images.shape[0]} images")
    if degradation is None:
        low = resize(images.float(), size, "bicubic").clamp(-1, 1)
    else:
        low = torch.stack([degrade(image.float(), size, rng, degradation) for image, rng in zip(images, rngs)])
    low_sigma, high_sigma = noise_sigma
    if high_sigma > 0:
        for index, rng in enumerate(rngs):
            sigma = float(rng.uniform(low_sigma, high_sigma))
            noise = torch.from_numpy(rng.standard_normal(low.shape[1:]).astype(np.float32))
            low[index] = low[index] + noise * sigma
    return low
