"""Writing small picture folders for the metric tests (imported by name, like tests/data/data_files.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_pictures(folder: Path, count: int, seed: int, size: int = 16, captions: bool = False) -> Path:
    """`count` random-noise PNGs (with "a photo of noise N" captions beside them when asked)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index in range(count):
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{index:03d}.png")
        if captions:
            (folder / f"{index:03d}.txt").write_text(f"a photo of noise {index}\n")
    return folder
