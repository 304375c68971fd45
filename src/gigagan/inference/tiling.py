"""Seamless tiled inference for the upsampler: any input size, bounded memory.

The low-resolution input is cut into overlapping tiles on a regular grid; tiles run through the
upsampler in chunks of `tiles_per_batch` (one batched forward each) and are blended into one
preallocated output with a separable raised-cosine window. The window of every tile is divided by
the sum of all windows, which is separable too (a product of one row and one column profile), so the
weights form an exact partition of unity without a full-size weight buffer. Peak memory is the
output plus one chunk of tiles, whatever the image size.

Tiles agree because they share everything that is not local: one `z` and one prompt per image
(so one `w` and one `t_local`), and per-pixel noise that is a function of the global pixel position
(`noise_mode="const"`, keyed by `seed`). Tile offsets are multiples of the upsampler's alignment, so
the encoder's downsampling grid and the noise line up across tiles.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from gigagan.errors import GigaGANError
from gigagan.models.generator import NoiseMode
from gigagan.models.text import TextEncoding
from gigagan.models.upsampler import Upsampler


@dataclass(frozen=True)
class TileGrid:
    """Tile starts along each axis (input pixels), the tile size, and the padded input size."""

    starts_y: list[int]
    starts_x: list[int]
    tile_height: int
    tile_width: int
    padded_height: int
    padded_width: int

    @property
    def num_tiles(self) -> int:
        return len(self.starts_y) * len(self.starts_x)


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def tile_starts(length: int, tile: int, overlap: int, alignment: int) -> list[int]:
    """Starts of tiles of size `tile` covering [0, length), each pair overlapping by at least
    `overlap`, all multiples of `alignment` (`length` and `tile` must be multiples of it)."""
    if tile >= length:
        return [0]
    stride = tile - overlap
    count = math.ceil((length - tile) / stride) + 1
    starts: list[int] = []
    for index in range(count):
        start = round(index * (length - tile) / (count - 1) / alignment) * alignment
        starts.append(min(start, length - tile))
    return sorted(set(starts))


def plan_tiles(height: int, width: int, tile_size: int, overlap: int, alignment: int) -> TileGrid:
    """The tile grid for an input of `height` x `width` (padded up to multiples of `alignment`)."""
    if tile_size < alignment or overlap < 0 or overlap >= tile_size:
        raise GigaGANError(
            f"tile_size must be at least {alignment} and overlap in [0, tile_size); got {tile_size}, {overlap}"
        )
    tile_size = _round_up(tile_size, alignment)
    padded_height, padded_width = _round_up(height, alignment), _round_up(width, alignment)
    tile_height, tile_width = min(tile_size, padded_height), min(tile_size, padded_width)
    return TileGrid(
        starts_y=tile_starts(padded_height, tile_height, overlap, alignment),
        starts_x=tile_starts(padded_width, tile_width, overlap, alignment),
        tile_height=tile_height,
        tile_width=tile_width,
        padded_height=padded_height,
        padded_width=padded_width,
    )


def raised_cosine_ramp(length: int) -> Tensor:
    """sin^2 ramp from near 0 to near 1 over `length` samples (strictly positive, half-sample centred)."""
    positions = (torch.arange(length, dtype=torch.float64) + 0.5) / length
    return torch.sin(positions * (math.pi / 2)).square()


def axis_weights(starts: list[int], tile: int, total: int, ramp: int) -> list[Tensor]:
    """Normalised 1-D blending profiles of tiles starting at `starts` along one axis (all in output
    pixels): each tile's
    window (raised-cosine ramps at its inner edges, flat elsewhere) divided by the sum of all
    windows, so the profiles sum to exactly one at every position."""
    windows = []
    total_weight = torch.zeros(total, dtype=torch.float64)
    for index, start in enumerate(starts):
        window = torch.ones(tile, dtype=torch.float64)
        if ramp > 0 and index > 0:
            window[:ramp] = raised_cosine_ramp(ramp)
        if ramp > 0 and index < len(starts) - 1:
            window[tile - ramp :] = raised_cosine_ramp(ramp).flip(0)
        windows.append(window)
        total_weight[start : start + tile] += window
    return [window / total_weight[start : start + tile] for start, window in zip(starts, windows)]


def _chunks(items: list[tuple[int, int, int]], size: int) -> Iterator[list[tuple[int, int, int]]]:
    for begin in range(0, len(items), size):
        yield items[begin : begin + size]


@torch.no_grad()
def tiled_upsample(
    model: Upsampler,
    images: Tensor,
    ws: Tensor,
    text: TextEncoding,
    tile_size: int | None = None,
    overlap: int | None = None,
    tiles_per_batch: int = 4,
    noise_mode: NoiseMode = "const",
    noise_seed: int = 0,
    output_device: torch.device | str | None = None,
) -> Tensor:
    """Upsample `images` [B, 3, H, W] in [-1, 1] tile by tile; returns [B, 3, H * s, W * s] (float32).

    ws [B, num_ws, w_dim] and `text` (batch B) condition every tile of their image. `tile_size`
    (input pixels, default: the model's training resolution) and `overlap` (default a quarter tile)
    set the grid; an image that fits in one tile runs untiled. The output lives on `output_device`
    (default: the images' device), so a GPU can compute tiles while the full image stays in CPU
    memory."""
    config = model.config
    scale, alignment = config.scale_factor, config.alignment
    tile_size = tile_size or config.input_resolution
    overlap = tile_size // 4 if overlap is None else overlap
    batch, _, height, width = images.shape
    if height < 1 or width < 1:
        raise GigaGANError(f"cannot upsample an empty image of size {height}x{width}")
    grid = plan_tiles(height, width, tile_size, overlap, alignment)
    device = model.device
    # Replicate-pad to the aligned size; the padding is cropped off the output at the end.
    padded = F.pad(images, (0, grid.padded_width - width, 0, grid.padded_height - height), mode="replicate")
    output = torch.zeros(
        batch, 3, grid.padded_height * scale, grid.padded_width * scale, device=output_device or images.device
    )
    ramp = min(overlap, grid.tile_height, grid.tile_width) * scale
    rows = axis_weights([s * scale for s in grid.starts_y], grid.tile_height * scale, grid.padded_height * scale, ramp)
    columns = axis_weights([s * scale for s in grid.starts_x], grid.tile_width * scale, grid.padded_width * scale, ramp)
    jobs = [(b, i, j) for b in range(batch) for i in range(len(grid.starts_y)) for j in range(len(grid.starts_x))]
    for chunk in _chunks(jobs, max(1, tiles_per_batch)):
        crops, offsets = [], []
        for b, i, j in chunk:
            y, x = grid.starts_y[i], grid.starts_x[j]
            crops.append(padded[b, :, y : y + grid.tile_height, x : x + grid.tile_width])
            offsets.append((y, x))
        index = torch.tensor([b for b, _, _ in chunk], device=device)
        tiles = model.synthesize(
            torch.stack(crops).to(device),
            ws.to(device)[index],
            text.local.to(device)[index],
            text.mask.to(device)[index],
            noise_mode=noise_mode,
            noise_seed=noise_seed,
            noise_offsets=torch.tensor(offsets, dtype=torch.int64, device=device),
        )[0].float()
        tiles = tiles.to(output.device)
        for tile, (b, i, j) in zip(tiles, chunk):
            y, x = grid.starts_y[i] * scale, grid.starts_x[j] * scale
            weight = rows[i].to(tile)[:, None] * columns[j].to(tile)[None, :]
            output[b, :, y : y + tile.shape[-2], x : x + tile.shape[-1]] += tile * weight
    return output[:, :, : height * scale, : width * scale]


@torch.no_grad()
def upsample_images(
    model: Upsampler,
    images: Tensor,
    prompt: str | list[str] = "",
    tile_size: int | None = None,
    overlap: int | None = None,
    seed: int = 0,
    tiles_per_batch: int = 4,
    noise_mode: NoiseMode = "const",
    output_device: torch.device | str | None = None,
) -> Tensor:
    """Upsample images [B, 3, H, W] (or one [3, H, W]) in [-1, 1] with one prompt per image (a single
    string is shared; "" is the unconditional mode). `seed` fixes z and the noise, so the result is
    reproducible and the same for any tiling. Returns float32 images in about [-1, 1], on
    `output_device` (default: the input's device)."""
    single = images.dim() == 3
    if single:
        images = images[None]
    if images.dim() != 4 or images.shape[1] != 3:
        raise GigaGANError(f"images must be [B, 3, H, W] RGB, got shape {tuple(images.shape)}")
    batch = images.shape[0]
    prompts = [prompt] * batch if isinstance(prompt, str) else list(prompt)
    if len(prompts) != batch:
        raise GigaGANError(f"{len(prompts)} prompts for {batch} images")
    model.eval()
    device = model.device
    text = model.encode_text(model.tokenize(prompts))
    generator = torch.Generator(device="cpu").manual_seed(seed)
    z = torch.randn(batch, model.config.z_dim, generator=generator).to(device)
    ws = model.map(z, text)
    output = tiled_upsample(
        model,
        images.float(),
        ws,
        text,
        tile_size=tile_size,
        overlap=overlap,
        tiles_per_batch=tiles_per_batch,
        noise_mode=noise_mode,
        noise_seed=seed,
        output_device=output_device or images.device,
    )
    return output[0] if single else output
