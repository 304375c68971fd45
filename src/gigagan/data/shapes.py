"""Procedural captioned shapes: a dataset that needs no files, with held-out combinations and a verifier.

Each image is one shape (circle, square, triangle, diamond or cross) of one colour on a plain
background of another colour, small or large, at one of nine grid positions, captioned in plain
English: "a small red triangle at the top left on a blue background". Images are drawn at 4x and
box-filtered down, so edges are anti-aliased at any resolution >= 16.

A fixed 12.5% of (shape, colour, background) triples is held out: `split="train"` never yields one
and `split="heldout"` yields only those, so a model can be tested on combinations it never saw. What
a caption leaves free (the centre's offset, the size's scale, both colours' shades) varies visibly
from picture to picture. The verifier (`gigagan.data.shapes_verifier`) reads the attributes back.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection
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
