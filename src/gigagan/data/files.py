"""Map-style sources over picture files: captioned folders, class folders and manifests.

All share `FileListDataset`: a list of (path, caption) fixed at construction. Files with no usable
caption, missing or empty files and (with `scan="header"`, the default) files PIL cannot identify
are dropped then and counted in `skipped`. A picture that still fails to decode when loaded is
replaced by the next loadable index (deterministic, so batches stay reproducible) and counted too.
`scan="full"` decodes everything up front (slow for big folders); `scan="none"` only checks sizes.

Item format: {"image": float32 [3, R, R] in [-1, 1], "caption": str}.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import torch
from torch.utils.data import Dataset

from gigagan.data.images import (
    BAD_RECORD,
    DECODE_ERROR,
    EMPTY_CAPTION,
    MISSING_CAPTION,
    ReportsSkips,
    SkipLog,
    check_file,
    check_image,
    is_image_file,
    load_image,
    read_caption,
)
from gigagan.errors import GigaGANError

Scan = Literal["none", "header", "full"]
PATH_KEYS = ("path", "image", "file", "filename")
CAPTION_KEYS = ("caption", "text")


class FileListDataset(ReportsSkips, Dataset):
    """Base for file sources: validates (path, caption) candidates, then loads them with skip-and-count."""

    def __init__(
        self,
        candidates: Iterable[tuple[Path, str | None]],
        resolution: int,
        *,
        name: str,
        skip_log: SkipLog | None = None,
        scan: Scan = "header",
    ) -> None:
        if resolution < 1:
            raise ValueError(f"resolution must be positive, got {resolution}")
        if scan not in ("none", "header", "full"):
            raise ValueError(f"scan must be 'none', 'header' or 'full', got {scan!r}")
        self.resolution = resolution
        self.name = name
        self._log = skip_log or SkipLog()
        self._undecodable: set[Path] = set()  # found at load time, in this process
        self.entries: list[tuple[Path, str]] = []
        for path, caption in candidates:
            if caption is None:
                reason = MISSING_CAPTION
            elif not caption:
                reason = EMPTY_CAPTION
            elif scan == "none":
                reason = check_file(path)
            else:
                reason = check_image(path, full=scan == "full")
            if reason is not None:
                self._log.add(str(path), reason)
            else:
                self.entries.append((path, caption))  # type: ignore[arg-type]
        self._log.drain()  # construction-time skips are known to every copy of the dataset
        if not self.entries:
            raise GigaGANError(f"no usable images in {name}: {self._log.summary()}")

    @property
    def captions(self) -> list[str]:
        """Every caption, in index order."""
        return [caption for _, caption in self.entries]

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        index %= len(self)
        for attempt in range(len(self)):
            path, caption = self.entries[(index + attempt) % len(self)]
            if path in self._undecodable:
                continue
            try:
                return {"image": load_image(path, self.resolution), "caption": caption}
            except Exception:
                self._undecodable.add(path)
                self._log.add(str(path), DECODE_ERROR)
        raise GigaGANError(f"no image in {self.name} can be decoded: {self._log.summary()}")


def _walk_images(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file() and is_image_file(path))


def _require_directory(root: str | Path) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise GigaGANError(f"image folder not found: {root}")
    return root


class ImageFolderWithCaptions(FileListDataset):
    """Pictures anywhere under `root`, each captioned by the `.txt` file of the same name beside it."""

    def __init__(self, root: str | Path, resolution: int, *, scan: Scan = "header") -> None:
        root = _require_directory(root)
        images = _walk_images(root)
        if not images:
            raise GigaGANError(f"no image files in {root}")
        candidates = ((path, read_caption(path.with_suffix(".txt"))) for path in images)
        super().__init__(candidates, resolution, name=str(root), scan=scan)


def label_from_folder(name: str) -> str:
    """Folder name -> class label: "_" and "-" become spaces ("golden_retriever" -> "golden retriever")."""
    return " ".join(name.replace("_", " ").replace("-", " ").split())


class ClassFolderDataset(FileListDataset):
    """`root/<class>/**/<image>`, captioned by `template` with the class label, e.g. "a photo of a {label}"."""

    def __init__(
        self,
        root: str | Path,
        resolution: int,
        template: str = "a photo of a {label}",
        *,
        scan: Scan = "header",
    ) -> None:
        root = _require_directory(root)
        if "{label}" not in template:
            raise GigaGANError(f"caption template must contain '{{label}}', got {template!r}")
        folders = sorted(path for path in root.iterdir() if path.is_dir())
        self.classes: list[str] = []
        candidates: list[tuple[Path, str | None]] = []
        for folder in folders:
            images = _walk_images(folder)
            if images:
                label = label_from_folder(folder.name)
                self.classes.append(label)
                candidates += [(path, template.replace("{label}", label)) for path in images]
        if not candidates:
            raise GigaGANError(f"no class folders with images in {root}")
        super().__init__(candidates, resolution, name=str(root), scan=scan)


def _pick(record: dict[str, object], keys: tuple[str, ...]) -> object | None:
    return next((record[key] for key in keys if key in record), None)


def _caption_text(value: object | None) -> str | None:
    """A caption from a manifest value: strings and numbers as text, a list by its first entry."""
    if isinstance(value, list):
        value = value[0] if value else None
    return None if value is None or isinstance(value, dict) else str(value).strip()


class ManifestDataset(FileListDataset):
    """A JSONL (`{"path": ..., "caption": ...}` per line) or CSV (header with path/caption columns) manifest.

    Accepted keys: path, image, file or filename for the picture; caption or text for the caption.
    Relative paths are resolved against the manifest's folder. Malformed rows are skipped and counted.
    """

    def __init__(self, path: str | Path, resolution: int, *, scan: Scan = "header") -> None:
        path = Path(path)
        if not path.is_file():
            raise GigaGANError(f"manifest not found: {path}")
        log = SkipLog()
        suffix = path.suffix.lower()
        if suffix == ".jsonl":
            records = self._read_jsonl(path, log)
        elif suffix == ".csv":
            records = self._read_csv(path)
        else:
            raise GigaGANError(f"manifest must be .jsonl or .csv, got {path.name}")
        candidates = []
        for row, (image, caption) in enumerate(records, start=1):
            if image is None or not str(image).strip():
                log.add(f"{path}:{row}", BAD_RECORD)
                continue
            image_path = Path(str(image).strip())
            candidates.append((image_path if image_path.is_absolute() else path.parent / image_path, caption))
        super().__init__(candidates, resolution, name=str(path), skip_log=log, scan=scan)

    @staticmethod
    def _read_jsonl(path: Path, log: SkipLog) -> list[tuple[object | None, str | None]]:
        records = []
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                record = None
            if not isinstance(record, dict):
                log.add(f"{path}:{number}", BAD_RECORD)
                continue
            records.append((_pick(record, PATH_KEYS), _caption_text(_pick(record, CAPTION_KEYS))))
        return records

    @staticmethod
    def _read_csv(path: Path) -> list[tuple[object | None, str | None]]:
        with path.open(newline="", encoding="utf-8", errors="replace") as file:
            reader = csv.DictReader(file)
            columns = {name.strip().lower(): name for name in reader.fieldnames or []}
            path_column = next((columns[key] for key in PATH_KEYS if key in columns), None)
            caption_column = next((columns[key] for key in CAPTION_KEYS if key in columns), None)
            if path_column is None or caption_column is None:
                raise GigaGANError(
                    f"{path} needs a header with a path column ({'/'.join(PATH_KEYS)}) "
                    f"and a caption column ({'/'.join(CAPTION_KEYS)})"
                )
            return [(row.get(path_column), _caption_text(row.get(caption_column))) for row in reader]
