"""The verifier of the procedural shapes data: reads a picture's attributes back, so that "does the
sample match its prompt?" becomes per-attribute accuracies. Exact on the dataset's own renders from
32 px up (at 16 px a small shape is ~3 pixels wide and its kind is often unreadable)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
import torch
from PIL import Image

from gigagan.data.shapes import (
    BLUR_SIGMAS,
    COLORS,
    FILL_RATIO,
    GRID,
    HALF_SIZE,
    PALETTE,
    POSITIONS,
    SHAPES,
    ShapeAttributes,
    shade_of,
    shape_mask,
)

ImageLike = Image.Image | np.ndarray | torch.Tensor


def _as_float_rgb(image: ImageLike) -> np.ndarray:
    """Any supported picture -> float32 [H, W, 3] in [0, 255]."""
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"), dtype=np.float32)
    if isinstance(image, torch.Tensor):
        if image.ndim != 3 or image.shape[0] != 3:
            raise ValueError(f"expected a [3, H, W] tensor in [-1, 1], got shape {tuple(image.shape)}")
        array = image.detach().float().cpu().clamp(-1, 1).add(1).mul(127.5).permute(1, 2, 0)
        return array.numpy()
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected a [H, W, 3] array, got shape {array.shape}")
    if array.dtype != np.uint8:
        raise ValueError(f"expected a uint8 array (float pictures go in as [-1, 1] tensors), got {array.dtype}")
    return array.astype(np.float32)


_PALETTE_ARRAY = np.array([PALETTE[name] for name in COLORS], dtype=np.float32)


def _nearest_color(rgb: np.ndarray, exclude: str | None = None) -> str:
    distances = np.linalg.norm(_PALETTE_ARRAY - rgb, axis=1)
    if exclude is not None:
        distances[COLORS.index(exclude)] = np.inf
    return COLORS[int(np.argmin(distances))]


@cache
def _blur_matrix(size: int, sigma: float) -> np.ndarray:
    offsets = np.arange(size)[:, None] - np.arange(size)[None, :]
    weights = np.exp(-0.5 * (offsets / sigma) ** 2)
    weights[weights < 1e-6] = 0.0  # no denormals: they make the matrix product crawl
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur (sigma in pixels) as two matrix products; sigma 0 is the identity."""
    if sigma == 0:
        return image
    height, width = image.shape
    return _blur_matrix(height, sigma) @ image @ _blur_matrix(width, sigma).T


def _dilate(mask: np.ndarray) -> np.ndarray:
    """Grow a boolean mask by one pixel (8-neighbourhood: a 3x3 box, done as rows then columns)."""
    rows = mask.copy()
    rows[1:] |= mask[:-1]
    rows[:-1] |= mask[1:]
    grown = rows.copy()
    grown[:, 1:] |= rows[:, :-1]
    grown[:, :-1] |= rows[:, 1:]
    return grown


def _largest_blob(mask: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The connected part of `mask` around its densest spot (flood fill from the 3x3-box-weighted maximum)."""
    padded = np.pad(np.where(mask, weight, 0.0), 1)
    height, width = mask.shape
    density = sum(padded[dy : dy + height, dx : dx + width] for dy in range(3) for dx in range(3))
    blob = np.zeros_like(mask)
    blob.flat[int(np.argmax(np.where(mask, density, -np.inf)))] = True
    while True:
        grown = _dilate(blob) & mask
        if (grown == blob).all():
            return blob
        blob = grown


def _third(coordinate: float) -> int:
    """0, 1 or 2: which grid band a centre (fraction of the side) falls in."""
    return int(coordinate > (GRID[0] + GRID[1]) / 2) + int(coordinate > (GRID[1] + GRID[2]) / 2)


def verify(image: ImageLike) -> ShapeAttributes:
    """Read the attributes back from a picture (PIL, uint8 [H, W, 3], or a [3, H, W] tensor in [-1, 1]).

    Background: nearest palette colour to the median border pixel. Object colour: nearest palette
    colour (other than the background) to the median of the pixels farthest from the background.
    Coverage: each pixel's projection onto the background->object colour axis, kept only in the
    connected blob around the densest spot (so noise elsewhere does not count). Area and centroid
    of the coverage give, for each shape, a size (area / fill ratio) and centre; that shape's
    template is drawn there, also slightly blurred (soft samples), and the smallest squared error
    wins. Size and position are read from the winner, and so are the jitter fields (offset of the
    centre from its grid point, scale against the nominal size); the shades come from the two colours
    read. A blank picture reads as a small centred circle of the palette colour after the background's.
    """
    pixels = np.nan_to_num(_as_float_rgb(image), nan=0.0, posinf=255.0, neginf=0.0)  # a diverged model's NaNs
    height, width, _ = pixels.shape
    if min(height, width) < 16:
        raise ValueError(f"pictures must be at least 16x16, got {width}x{height}")
    border = np.concatenate([pixels[0], pixels[-1], pixels[1:-1, 0], pixels[1:-1, -1]])
    background_rgb = np.median(border, axis=0)
    background = _nearest_color(background_rgb)

    distance = np.linalg.norm(pixels - background_rgb, axis=2)
    if distance.max() < 20:  # blank
        color = COLORS[(COLORS.index(background) + 1) % len(COLORS)]
        return ShapeAttributes("circle", color, background, "small", "center")
    core = distance >= 0.8 * np.percentile(distance, 99.5)
    color_rgb = np.median(pixels[core], axis=0)
    color = _nearest_color(color_rgb, exclude=background)

    axis = color_rgb - background_rgb
    if float(axis @ axis) < 1.0:  # no object colour apart from the background: read as blank
        return ShapeAttributes("circle", color, background, "small", "center")
    projection = ((pixels - background_rgb) @ axis) / float(axis @ axis)
    region = _dilate(_dilate(_largest_blob(projection > 0.5, projection)))
    coverage = np.clip(projection, 0.0, 1.0) * region
    area = float(coverage.sum())
    if not area >= 1:  # also catches NaN
        return ShapeAttributes("circle", color, background, "small", "center")
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
    centroid_x = float((coverage * xs).sum()) / area
    centroid_y = float((coverage * ys).sum()) / area

    # compare templates inside a window that holds the largest candidate (lowest fill ratio) and its blur
    reach = np.sqrt(area / min(FILL_RATIO.values())) / 2 + 2 + 3 * max(BLUR_SIGMAS)
    left, top = max(int(centroid_x - reach), 0), max(int(centroid_y - reach), 0)
    right, bottom = min(int(np.ceil(centroid_x + reach)), width), min(int(np.ceil(centroid_y + reach)), height)
    window = coverage[top:bottom, left:right]
    best: tuple[float, str, float, float, float] | None = None
    for shape in SHAPES:
        half_size = np.sqrt(area / FILL_RATIO[shape]) / 2
        # the triangle's centroid sits a third of its half-size below its bounding-box centre
        center_y = centroid_y - (half_size / 3 if shape == "triangle" else 0.0)
        template = shape_mask(shape, centroid_x - left, center_y - top, half_size, right - left, bottom - top)
        for sigma in BLUR_SIGMAS:  # soft samples are compared with equally soft templates
            error = float(np.square(_blur(template, sigma) - window).sum())
            if best is None or error < best[0]:
                best = (error, shape, half_size, centroid_x, center_y)
    assert best is not None
    _, shape, half_size, center_x, center_y = best
    size = "large" if half_size / min(height, width) > sum(HALF_SIZE.values()) / 2 else "small"
    row, column = _third(center_y / height), _third(center_x / width)
    position = POSITIONS[3 * row + column]
    offset_x, offset_y = center_x / width - GRID[column], center_y / height - GRID[row]
    scale = half_size / min(height, width) / HALF_SIZE[size]
    shades = shade_of(color_rgb, color), shade_of(background_rgb, background)
    return ShapeAttributes(shape, color, background, size, position, offset_x, offset_y, scale, *shades)


ATTRIBUTES = ("shape", "color", "background", "size", "position")


def attribute_accuracy(
    images: Sequence[ImageLike] | torch.Tensor, attributes: Sequence[ShapeAttributes]
) -> dict[str, float]:
    """Per-attribute accuracy of `verify` against the intended attributes, plus "all" (every one right)."""
    if len(images) != len(attributes):
        raise ValueError(f"{len(images)} images but {len(attributes)} attribute sets")
    if len(images) == 0:
        raise ValueError("no images to score")
    correct = dict.fromkeys((*ATTRIBUTES, "all"), 0)
    for image, target in zip(images, attributes):
        found = verify(image)
        hits = [getattr(found, name) == getattr(target, name) for name in ATTRIBUTES]
        for name, hit in zip(ATTRIBUTES, hits):
            correct[name] += hit
        correct["all"] += all(hits)
    return {name: count / len(images) for name, count in correct.items()}
