"""Builders for the data tests' fixture files (imported by the tests; pytest does not collect it)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import webdataset
from PIL import Image

GOOD = ("rgb.jpg", "cmyk.jpg", "deep16.png", "rgba.png", "palette.png", "gray.png", "sub/nested.webp", "trunc.jpg")
BAD = {
    "corrupt.jpg": "unreadable image",
    "empty.jpg": "empty file",
    "uncaptioned.png": "missing caption",
    "blank.png": "empty caption",
}


def gradient16(width: int = 48, height: int = 32) -> np.ndarray:
    """A 16-bit left-to-right ramp over the full 0..65535 range."""
    return np.tile(np.linspace(0, 65535, width), (height, 1)).astype(np.uint16)


def write_messy_folder(root: Path) -> Path:
    """Pictures in every awkward mode plus broken ones; `trunc.jpg` passes a header scan but fails to decode."""
    rng = np.random.default_rng(0)
    (root / "sub").mkdir(parents=True)
    Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(root / "rgb.jpg")
    Image.new("CMYK", (30, 20), (0, 255, 255, 0)).save(root / "cmyk.jpg")
    Image.fromarray(gradient16()).save(root / "deep16.png")
    rgba = np.zeros((24, 24, 4), dtype=np.uint8)
    rgba[:, 12:] = (255, 0, 0, 255)  # left half fully transparent, right half opaque red
    Image.fromarray(rgba, "RGBA").save(root / "rgba.png")
    palette = Image.new("P", (20, 20), 0)
    palette.putpalette([0, 0, 255, 0, 255, 0] + [0] * 762)
    palette.paste(1, (0, 0, 10, 20))
    palette.save(root / "palette.png", transparency=0)  # colour 0 (blue) is transparent
    Image.fromarray(np.full((16, 16), 100, dtype=np.uint8), "L").save(root / "gray.png")
    Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(root / "sub" / "nested.webp")
    noisy = Image.fromarray(rng.integers(0, 256, (128, 128, 3), dtype=np.uint8))
    noisy.save(root / "full.jpg", quality=95)
    data = (root / "full.jpg").read_bytes()
    (root / "full.jpg").unlink()
    (root / "trunc.jpg").write_bytes(data[: len(data) // 2])
    (root / "corrupt.jpg").write_bytes(rng.integers(0, 256, 500, dtype=np.uint8).tobytes())
    (root / "empty.jpg").write_bytes(b"")
    Image.new("RGB", (16, 16), "white").save(root / "uncaptioned.png")
    Image.new("RGB", (16, 16), "white").save(root / "blank.png")
    for name in (*GOOD, *BAD):
        if name != "uncaptioned.png":
            text = "   \n" if name == "blank.png" else f"a picture called {Path(name).stem}\n"
            (root / name).with_suffix(".txt").write_text(text)
    return root


def encoded(color: tuple[int, int, int], fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 18), color).save(buffer, format=fmt)
    return buffer.getvalue()


def write_shards(root: Path, shards: int = 2, per_shard: int = 6) -> str:
    """img2dataset-style shards; per shard one corrupt picture and one sample without a caption."""
    root.mkdir(parents=True, exist_ok=True)
    for shard in range(shards):
        with webdataset.TarWriter(str(root / f"{shard:05d}.tar")) as writer:
            for i in range(per_shard):
                key = f"{shard:05d}{i:04d}"
                sample = {"__key__": key, "jpg": encoded((40 * i, 100, 30 * shard))}
                if i % 2:
                    sample["json"] = json.dumps({"caption": f"shard {shard} item {i}", "width": 24}).encode()
                else:
                    sample["txt"] = f"shard {shard} item {i}".encode()
                if i == 3:
                    sample = {"__key__": key, "png": encoded((0, 0, 0), "PNG"), "json": b'{"url": "x"}'}
                writer.write(sample)
            writer.write({"__key__": f"{shard:05d}bad", "jpg": b"\xff\xd8garbage", "txt": b"corrupt"})
    return str(root / f"{{00000..{shards - 1:05d}}}.tar")
