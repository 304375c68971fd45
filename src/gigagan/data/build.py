"""`build_dataset`: one data spec string -> the matching source.

| spec | source |
|---|---|
| `shapes`, `shapes:train`, `shapes:heldout` | `ShapesDataset` (procedural, no files; `./shapes` is a folder) |
| `shapes:open` | the training split with a quarter of its captions leaving attributes out (`OPEN_CAPTIONS`) |
| `pipe:...`, `http(s)://...`, `*.tar` / `*.tgz` / `*.tar.gz`, brace patterns, `a.tar::b.tar` | `WebDatasetSource` |
| `*.jsonl`, `*.csv` | `ManifestDataset` |
| a folder with `.tar` files at its top level and no pictures | `WebDatasetSource` over those shards |
| a folder with no pictures at its top level, no `.txt` anywhere, and pictures in sub-folders | `ClassFolderDataset` |
| any other folder | `ImageFolderWithCaptions` (`.txt` beside each picture) |
"""

from __future__ import annotations

import re
from pathlib import Path

from torch.utils.data import Dataset

from gigagan.data.files import ClassFolderDataset, ImageFolderWithCaptions, ManifestDataset, Scan
from gigagan.data.images import is_image_file
from gigagan.data.shapes import OPEN_CAPTIONS, SPLITS, ShapesDataset
from gigagan.data.shards import WebDatasetSource, is_remote
from gigagan.errors import GigaGANError

_TAR = re.compile(r"\.(tar|tgz|tar\.gz)$", re.IGNORECASE)


def is_class_folder(root: Path) -> bool:
    """True when `root` holds no pictures itself, no `.txt` files anywhere, and pictures in a sub-folder."""
    files = [path for path in root.rglob("*") if path.is_file()]
    if any(path.suffix.lower() == ".txt" for path in files):
        return False
    if any(path.parent == root and is_image_file(path) for path in files):
        return False
    return any(path.parent != root and is_image_file(path) for path in files)


def build_dataset(
    spec: str,
    resolution: int,
    *,
    seed: int = 0,
    split: str = "train",
    caption_template: str | None = None,
    rank: int = 0,
    world_size: int = 1,
    scan: Scan = "header",
) -> Dataset:
    """The dataset a spec names (see the module table); user mistakes raise a one-line GigaGANError.

    `split` and `seed` select the shapes split and its stream; `caption_template` (with "{label}")
    applies to class folders only; `rank`/`world_size` shard WebDataset streams (map-style datasets
    are sharded by `BatchStream`); `scan` is how thoroughly file sources check files up front.
    """
    spec = spec.strip()
    if not spec:
        raise GigaGANError("empty data spec: give 'shapes', a folder, a .jsonl/.csv manifest or .tar shards")
    name, _, suffix = spec.partition(":")
    is_shapes = name == "shapes"  # always the built-in set: a folder called shapes is "./shapes"
    open_captions = 0.0
    if is_shapes:
        split = suffix or split
        if split == "open":
            split, open_captions = "train", OPEN_CAPTIONS
        if split not in SPLITS:
            raise GigaGANError(f"unknown shapes split '{split}' (choose from {', '.join(SPLITS)} or open)")
    elif split != "train":
        raise GigaGANError(f"split '{split}' exists only for the shapes dataset, not for '{spec}'")
    if caption_template is not None and is_shapes:
        raise GigaGANError("a caption template applies only to class folders, not to 'shapes'")
    if is_shapes:
        return ShapesDataset(resolution, split=split, seed=seed, open_captions=open_captions)  # type: ignore[arg-type]

    path = Path(spec).expanduser()
    is_shards = is_remote(spec) or any(_TAR.search(part) for part in spec.split("::"))
    tars = sorted(p for p in path.iterdir() if _TAR.search(p.name)) if path.is_dir() and not is_shards else []
    if path.is_dir() and tars and not any(is_image_file(p) for p in path.rglob("*")):
        spec, is_shards = "::".join(str(p) for p in tars), True
    class_folder = path.is_dir() and not is_shards and is_class_folder(path)
    if caption_template is not None and not class_folder:
        raise GigaGANError(f"a caption template applies only to class folders, and '{spec}' is not one")
    if is_shards:
        return WebDatasetSource(spec, resolution, seed=seed, rank=rank, world_size=world_size)
    if path.suffix.lower() in (".jsonl", ".csv"):
        return ManifestDataset(path, resolution, scan=scan)
    if class_folder:
        return ClassFolderDataset(path, resolution, caption_template or "a photo of a {label}", scan=scan)
    if path.is_dir():
        return ImageFolderWithCaptions(path, resolution, scan=scan)
    if path.exists():
        raise GigaGANError(f"unsupported data file '{spec}' (expected .jsonl, .csv or .tar)")
    raise GigaGANError(
        f"data not found: '{spec}' is not 'shapes', an existing folder, a .jsonl/.csv manifest or .tar shards"
    )
