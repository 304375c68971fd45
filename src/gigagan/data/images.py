"""Decoding any picture file into a square float tensor in [-1, 1], and bookkeeping for skipped files.

`load_image` applies the EXIF orientation, turns every PIL mode into 8-bit RGB (transparency is
composited on white, 16-bit and float data are rescaled rather than clipped), crops the long edge to
a centred square and resizes with Lanczos. Sources never crash on a bad file: they skip it and count
it in a `SkipLog` (reason -> count, plus the first few paths) for the trainer to report.
"""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
MAX_EXAMPLES = 10

# Reasons a source skips an item; the keys of `skipped`.
MISSING_CAPTION = "missing caption"
EMPTY_CAPTION = "empty caption"
EMPTY_FILE = "empty file"
MISSING_FILE = "missing file"
UNREADABLE = "unreadable image"
DECODE_ERROR = "decode error"
BAD_RECORD = "bad manifest row"
MISSING_IMAGE = "missing image"

Image.MAX_IMAGE_PIXELS = 300_000_000  # web scrapes hold large pictures; still guards against bombs


def is_image_file(path: Path) -> bool:
    """True for the picture suffixes the file sources read (case-insensitive)."""
    return path.suffix.lower() in IMAGE_EXTENSIONS


def _rescale_to_uint8(values: np.ndarray, full_scale: float) -> np.ndarray:
    return np.clip(np.rint(values.astype(np.float64) * (255.0 / full_scale)), 0, 255).astype(np.uint8)


def _full_scale(values: np.ndarray) -> float:
    """The white level of integer/float single-channel data: 1 (floats in [0, 1]), 255 or 65535."""
    peak = float(values.max(initial=0))
    if values.dtype.kind == "f" and peak <= 1.0:
        return 1.0
    return 255.0 if peak <= 255 else 65535.0


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode -> 8-bit RGB: alpha on white, 16-bit/float greys rescaled, palettes and CMYK converted."""
    mode = image.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        values = np.asarray(image)
        if mode.startswith("I;16"):
            grey = _rescale_to_uint8(values, 65535.0)
        else:  # 32-bit int or float: scale by the white level the data evidently uses
            grey = _rescale_to_uint8(values, _full_scale(values))
        return Image.fromarray(grey, mode="L").convert("RGB")
    if mode == "P" or "transparency" in image.info:
        image = image.convert("RGBA")
        mode = image.mode
    if mode in ("RGBa", "La"):  # premultiplied alpha
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def square_resize(image: Image.Image, resolution: int) -> Image.Image:
    """Centre-crop the long edge to a square, then resize to `resolution` with Lanczos (antialiased)."""
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    box = (left, top, left + side, top + side)
    if side == resolution:
        return image.crop(box)
    return image.resize((resolution, resolution), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)


def image_to_tensor(image: Image.Image) -> torch.Tensor:
    """8-bit RGB PIL image -> float32 [3, H, W] in [-1, 1]."""
    array = np.asarray(image, dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div(127.5).sub(1.0)


def load_image(source: str | Path | bytes, resolution: int) -> torch.Tensor:
    """Decode a picture (path or encoded bytes) into float32 [3, R, R] in [-1, 1]; raises on a bad file."""
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    with Image.open(stream) as image:
        image.load()
        upright = ImageOps.exif_transpose(image)
        return image_to_tensor(square_resize(to_rgb(upright), resolution))


def check_file(path: Path) -> str | None:
    """MISSING_FILE or EMPTY_FILE when `path` is not a non-empty file, else None."""
    try:
        return EMPTY_FILE if path.stat().st_size == 0 else None
    except OSError:
        return MISSING_FILE


def check_image(path: Path, full: bool) -> str | None:
    """Why `path` cannot be used (a skip reason), or None; `full` decodes it, else only the header is checked."""
    reason = check_file(path)
    if reason is not None:
        return reason
    try:
        with Image.open(path) as image:
            image.verify()
    except Exception:
        return UNREADABLE
    if full:
        try:
            load_image(path, 16)
        except Exception:
            return DECODE_ERROR
    return None


def read_caption(path: Path) -> str | None:
    """The stripped text of a caption file (invalid UTF-8 replaced), or None when it is missing."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except (FileNotFoundError, IsADirectoryError):
        return None


class SkipLog:
    """Counts skipped items by reason and keeps the first few as examples; each item counts once."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.examples: list[str] = []
        self._seen: set[str] = set()
        self.pending: list[tuple[str, str]] = []  # recorded here but not yet reported to the main process
        self.history: list[tuple[str, str]] = []  # every (item, reason), in the order recorded

    def add(self, item: str, reason: str) -> bool:
        """Record `item` as skipped for `reason`; False if it was already recorded."""
        if item in self._seen:
            return False
        self._seen.add(item)
        self.history.append((item, reason))
        self.counts[reason] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(f"{item}: {reason}")
        self.pending.append((item, reason))
        return True

    def drain(self) -> list[tuple[str, str]]:
        """The records added since the last drain (a DataLoader worker ships them to the main process)."""
        records, self.pending = self.pending, []
        return records

    def __contains__(self, item: str) -> bool:
        return item in self._seen

    def summary(self) -> str:
        """E.g. "3 skipped (2 missing caption, 1 unreadable image)"."""
        total = sum(self.counts.values())
        reasons = ", ".join(f"{count} {reason}" for reason, count in self.counts.most_common())
        return f"{total} skipped ({reasons})" if total else "none skipped"


class ReportsSkips:
    """Mixin for sources that keep their skipped items in a `SkipLog` at `self._log`."""

    _log: SkipLog

    @property
    def skipped(self) -> dict[str, int]:
        """Skipped items by reason (seen in this process, or merged in from workers by BatchStream)."""
        return dict(self._log.counts)

    @property
    def skipped_examples(self) -> list[str]:
        """The first few skipped items with their reasons."""
        return list(self._log.examples)

    @property
    def skip_log(self) -> SkipLog:
        """The underlying log; `BatchStream` merges load failures from DataLoader workers into it."""
        return self._log
