"""Procedural captioned shapes: a dataset that needs no files, with held-out combinations and a verifier.

Each image is one shape (circle, square, triangle, diamond or cross) of one colour on a plain
background of another colour, small or large, at one of nine grid positions, captioned in plain
English: "a small red triangle at the top left on a blue background". Images are drawn at 4x and
box-filtered down, so edges are anti-aliased at any resolution >= 16.

A fixed 12.5% of (shape, colour, background) triples is held out: `split="train"` never yields one
and `split="heldout"` yields only those, so a model can be tested on combinations it never saw. The
verifier reads the attributes back from a picture (`verify`), which turns "does the sample match the
prompt?" into per-attribute accuracies (`attribute_accuracy`). On the dataset's own renders it is
exact from 32px up; at 16px a small shape is ~3 pixels wide and its kind is often unreadable.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Literal

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch.utils.data import Dataset

SHAPES = ("circle", "square", "triangle", "diamond", "cross")
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "orange": (245, 140, 20),
    "yellow": (245, 225, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "purple": (140, 50, 190),
    "white": (240, 240, 240),
    "black": (20, 20, 20),
}
COLORS = tuple(PALETTE)
SIZES = ("small", "large")
POSITIONS = (
    "top left",
    "top",
    "top right",
    "left",
    "center",
    "right",
    "bottom left",
    "bottom",
    "bottom right",
)
SPLITS = ("train", "heldout")
HELDOUT_FRACTION = 0.125

# Geometry, in fractions of the image side. Half-sizes: small 0.10, large 0.17 (+-5% jitter);
# grid centres at 0.21 / 0.5 / 0.79, so a shape never leaves the image and the verifier's thresholds
# (midpoints) sit far from every rendered value. A small shape's centre wanders +-0.07 around its grid
# point, a large one's +-0.03 (it has less room).
HALF_SIZE = {"small": 0.10, "large": 0.17}
GRID = (0.21, 0.5, 0.79)
SCALE_JITTER = 0.05
OFFSET_JITTER = {"small": 0.07, "large": 0.03}
# The object's and the background's colours each come in a random shade: lightened towards white
# (shade > 0) or darkened towards black (shade < 0) by up to this fraction. No caption names the
# shade or the exact offset, so pictures of one caption differ visibly, as real photographs of one
# caption do, and a model that ignores its noise input draws one of them only. At 0.15 every shaded
# colour stays at least 1.28x nearer its own palette colour than any other.
SHADE_JITTER = 0.15
CROSS_ARM = 1 / 3  # arm thickness as a fraction of the cross's width
SUPERSAMPLE = 4
BLUR_SIGMAS = (0.0, 0.5, 0.8, 1.2)  # in pixels: the verifier also tries templates this soft
# Area of each shape relative to its (square) bounding box: the verifier recovers the size from it.
FILL_RATIO = {
    "circle": np.pi / 4,
    "square": 1.0,
    "triangle": 0.5,
    "diamond": 0.5,
    "cross": 2 * CROSS_ARM - CROSS_ARM**2,
}


@dataclass(frozen=True)
class ShapeAttributes:
    """What one image shows. Equality compares the captioned attributes only, not the jitter (offset,
    scale and shades: what a caption leaves free)."""

    shape: str
    color: str
    background: str
    size: str
    position: str
    offset_x: float = field(default=0.0, compare=False)  # jitter of the centre, fraction of the side
    offset_y: float = field(default=0.0, compare=False)
    scale: float = field(default=1.0, compare=False)  # jitter of the size
    color_shade: float = field(default=0.0, compare=False)  # see SHADE_JITTER
    background_shade: float = field(default=0.0, compare=False)

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("shape", self.shape, SHAPES),
            ("color", self.color, COLORS),
            ("background", self.background, COLORS),
            ("size", self.size, SIZES),
            ("position", self.position, POSITIONS),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if self.color == self.background:
            raise ValueError(f"object and background share the colour {self.color!r}")

    @property
    def triple(self) -> tuple[str, str, str]:
        """The (shape, colour, background) combination the held-out split is defined on."""
        return (self.shape, self.color, self.background)


def _grid_center(position: str) -> tuple[float, float]:
    row, column = divmod(POSITIONS.index(position), 3)
    return GRID[column], GRID[row]


def _pairs(triple: tuple[str, str, str]) -> list[tuple[str, str, str]]:
    shape, color, background = triple
    return [(shape, color, "*"), (shape, "*", background), ("*", color, background)]


@cache
def _split_triples() -> tuple[tuple[tuple[str, str, str], ...], tuple[tuple[str, str, str], ...]]:
    """(train, heldout) triples: a fixed, library-independent choice (ordered by SHA-256 of the name).

    A triple is held out only if every pair inside it (shape+colour, shape+background,
    colour+background) keeps at least two training triples, so each held-out prompt is a new
    combination of pieces the training split shows together.
    """
    triples = [(s, c, b) for s in SHAPES for c in COLORS for b in COLORS if c != b]
    order = sorted(triples, key=lambda t: hashlib.sha256("|".join(t).encode()).hexdigest())
    remaining: dict[tuple[str, str, str], int] = {}
    for triple in triples:
        for pair in _pairs(triple):
            remaining[pair] = remaining.get(pair, 0) + 1
    target = round(HELDOUT_FRACTION * len(triples))
    heldout: set[tuple[str, str, str]] = set()
    for triple in order:
        if len(heldout) == target:
            break
        if all(remaining[pair] > 2 for pair in _pairs(triple)):
            heldout.add(triple)
            for pair in _pairs(triple):
                remaining[pair] -= 1
    train = tuple(t for t in triples if t not in heldout)
    return train, tuple(t for t in triples if t in heldout)


def split_triples(split: str) -> tuple[tuple[str, str, str], ...]:
    """The (shape, colour, background) triples a split draws from."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return _split_triples()[SPLITS.index(split)]


def _attributes_from_rng(rng: np.random.Generator, triple: tuple[str, str, str]) -> ShapeAttributes:
    size = SIZES[rng.integers(len(SIZES))]
    position = POSITIONS[rng.integers(len(POSITIONS))]
    return free_variation(ShapeAttributes(*triple, size, position), rng)


def free_variation(attributes: ShapeAttributes, rng: np.random.Generator) -> ShapeAttributes:
    """`attributes` with a random draw of what its caption leaves free: the centre's offset, the size's
    scale and both colours' shades (the dataset's own distribution)."""
    jitter = OFFSET_JITTER[attributes.size]
    offset_x, offset_y = rng.uniform(-jitter, jitter, size=2)
    scale = rng.uniform(1 - SCALE_JITTER, 1 + SCALE_JITTER)
    color_shade, background_shade = rng.uniform(-SHADE_JITTER, SHADE_JITTER, size=2)
    return replace(
        attributes,
        offset_x=float(offset_x),
        offset_y=float(offset_y),
        scale=float(scale),
        color_shade=float(color_shade),
        background_shade=float(background_shade),
    )


def sample_attributes(seed: int, index: int, split: str = "train") -> ShapeAttributes:
    """The attributes of item `index` of a split; a pure function of (seed, index, split)."""
    triples = split_triples(split)
    rng = np.random.default_rng([seed, index, SPLITS.index(split)])
    return _attributes_from_rng(rng, triples[rng.integers(len(triples))])


def heldout_prompts(n: int, seed: int = 0) -> list[tuple[str, ShapeAttributes]]:
    """`n` evaluation prompts (caption, attributes) cycling over every held-out triple in a seeded order."""
    triples = split_triples("heldout")
    rng = np.random.default_rng([seed, 0x5EED])
    order = rng.permutation(len(triples))
    prompts = []
    for i in range(n):
        attributes = _attributes_from_rng(rng, triples[order[i % len(triples)]])
        prompts.append((caption(attributes), attributes))
    return prompts


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


# Attributes a caption may leave out (the shape, its noun, is always named). An open caption asks for
# less than the picture shows, so a faithful model draws what was left out differently from seed to seed.
OPTIONAL_ATTRIBUTES = ("size", "color", "position", "background")
OPEN_CAPTIONS = 0.25  # the fraction of open captions in the `shapes:open` data


def caption(attributes: ShapeAttributes, omit: Collection[str] = ()) -> str:
    """Plain-English caption, e.g. "a small red triangle at the top left on a blue background"; the
    attributes in `omit` (from OPTIONAL_ATTRIBUTES) are left out, e.g. "a red triangle"."""
    unknown = set(omit) - set(OPTIONAL_ATTRIBUTES)
    if unknown:
        raise ValueError(f"only {OPTIONAL_ATTRIBUTES} can be left out of a caption, got {sorted(unknown)}")
    words = [getattr(attributes, name) for name in ("size", "color") if name not in omit] + [attributes.shape]
    text = f"{_article(words[0])} {' '.join(words)}"
    if "position" not in omit:
        text += " in the center" if attributes.position == "center" else f" at the {attributes.position}"
    if "background" not in omit:
        text += f" on {_article(attributes.background)} {attributes.background} background"
    return text


def open_caption_omissions(seed: int, index: int, fraction: float) -> tuple[str, ...]:
    """The attributes item `index`'s caption leaves out: none, or with probability `fraction` a random
    non-empty subset of OPTIONAL_ATTRIBUTES; a pure function of (seed, index)."""
    rng = np.random.default_rng([seed, index, 0xCA97])
    if rng.random() >= fraction:
        return ()
    subset = int(rng.integers(1, 2 ** len(OPTIONAL_ATTRIBUTES)))  # a bit mask, never empty
    return tuple(name for bit, name in enumerate(OPTIONAL_ATTRIBUTES) if subset >> bit & 1)


_CAPTION = re.compile(
    rf"an? (?P<size>{'|'.join(SIZES)}) (?P<color>{'|'.join(COLORS)}) (?P<shape>{'|'.join(SHAPES)}) "
    rf"(?:in the (?P<center>center)|at the (?P<position>{'|'.join(p for p in POSITIONS if p != 'center')})) "
    rf"on an? (?P<background>{'|'.join(COLORS)}) background"
)


def parse_caption(text: str) -> ShapeAttributes:
    """The inverse of `caption` (case and surrounding whitespace are ignored)."""
    match = _CAPTION.fullmatch(" ".join(text.lower().split()))
    if match is None:
        raise ValueError(f"not a shapes caption: {text!r}")
    parts = match.groupdict()
    return ShapeAttributes(
        shape=parts["shape"],
        color=parts["color"],
        background=parts["background"],
        size=parts["size"],
        position=parts["position"] or "center",
    )


def shape_mask(
    shape: str, center_x: float, center_y: float, half_size: float, width: int, height: int | None = None
) -> np.ndarray:
    """Anti-aliased coverage in [0, 1], float32 [height, width] (square by default); lengths in output pixels."""
    height = width if height is None else height
    canvas = Image.new("L", (width * SUPERSAMPLE, height * SUPERSAMPLE), 0)
    draw = ImageDraw.Draw(canvas)
    x, y, r = center_x * SUPERSAMPLE, center_y * SUPERSAMPLE, half_size * SUPERSAMPLE
    if shape == "circle":
        draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    elif shape == "square":
        draw.rectangle((x - r, y - r, x + r, y + r), fill=255)
    elif shape == "triangle":
        draw.polygon([(x, y - r), (x + r, y + r), (x - r, y + r)], fill=255)
    elif shape == "diamond":
        draw.polygon([(x, y - r), (x + r, y), (x, y + r), (x - r, y)], fill=255)
    elif shape == "cross":
        arm = r * CROSS_ARM
        draw.rectangle((x - r, y - arm, x + r, y + arm), fill=255)
        draw.rectangle((x - arm, y - r, x + arm, y + r), fill=255)
    else:
        raise ValueError(f"unknown shape {shape!r}")
    small = canvas.resize((width, height), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255.0


def shaded(name: str, shade: float) -> np.ndarray:
    """A palette colour (float32 RGB, 0-255) lightened towards white (`shade` > 0) or darkened towards
    black (`shade` < 0) by the fraction |shade|."""
    rgb = np.array(PALETTE[name], dtype=np.float32)
    return rgb + shade * (255.0 - rgb) if shade > 0 else rgb * (1.0 + shade)


def shade_of(rgb: np.ndarray, name: str) -> float:
    """The shade (see `shaded`) that best explains `rgb` as palette colour `name`."""
    base = np.array(PALETTE[name], dtype=np.float32)
    change = float((rgb - base).sum())
    room = float((255.0 - base).sum() if change > 0 else base.sum())
    return change / max(room, 1.0)


def render(attributes: ShapeAttributes, resolution: int) -> np.ndarray:
    """The picture for `attributes`: uint8 [R, R, 3] (R >= 16)."""
    if resolution < 16:
        raise ValueError(f"resolution must be at least 16, got {resolution}")
    grid_x, grid_y = _grid_center(attributes.position)
    half_size = HALF_SIZE[attributes.size] * attributes.scale * resolution
    mask = shape_mask(
        attributes.shape,
        (grid_x + attributes.offset_x) * resolution,
        (grid_y + attributes.offset_y) * resolution,
        half_size,
        resolution,
    )[..., None]
    background = shaded(attributes.background, attributes.background_shade)
    color = shaded(attributes.color, attributes.color_shade)
    return np.rint(background + (color - background) * mask).astype(np.uint8)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 [H, W, 3] -> float32 [3, H, W] in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div(127.5).sub(1.0)


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


class ShapesDataset(Dataset):
    """Map-style procedural dataset: item = {"image": float32 [3, R, R] in [-1, 1], "caption": str}."""

    def __init__(
        self,
        resolution: int = 32,
        split: Literal["train", "heldout"] = "train",
        seed: int = 0,
        length: int = 50_000,
        open_captions: float = 0.0,
    ) -> None:
        if resolution < 16:
            raise ValueError(f"resolution must be at least 16, got {resolution}")
        if not 0.0 <= open_captions <= 1.0:
            raise ValueError(f"open_captions must be a fraction in [0, 1], got {open_captions}")
        split_triples(split)  # validates the name
        self.resolution = resolution
        self.split = split
        self.seed = seed
        self.length = length
        self.open_captions = open_captions  # fraction of captions that leave some attributes out
        self.skipped: dict[str, int] = {}
        self.skipped_examples: list[str] = []

    def __len__(self) -> int:
        return self.length

    def attributes(self, index: int) -> ShapeAttributes:
        """The attributes of item `index`."""
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} items")
        return sample_attributes(self.seed, index, self.split)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str]:
        attributes = self.attributes(index)
        omit = open_caption_omissions(self.seed, index, self.open_captions)
        return {"image": to_tensor(render(attributes, self.resolution)), "caption": caption(attributes, omit)}
