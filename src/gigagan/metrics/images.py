"""Reading evaluation images: folders (recursively) and `.zip` / `.tar` / `.tar.gz` archives of pictures.

Images are read at their own size as uint8 RGB (EXIF orientation applied, any mode converted), so
the Inception resize sees exactly what the files hold. A folder whose pictures all sit in
sub-folders is a class folder: the first path component is each image's class label (for
intra-class FID; "_" and "-" read as spaces, as the training data loader reads class names).
A `.txt` file with the same stem beside a picture is its caption (for CLIP score and shapes
alignment).
"""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, ImageOps

from gigagan.data.files import label_from_folder
from gigagan.data.images import IMAGE_EXTENSIONS, to_rgb
from gigagan.errors import GigaGANError

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")


@dataclass(frozen=True)
class ImageRecord:
    """One picture of an `ImageFiles` source: its path relative to the root, class label and caption."""

    name: str
    label: str | None
    caption: str | None


def decode_uint8(data: bytes | str | os.PathLike[str]) -> np.ndarray:
    """Encoded bytes or a path -> uint8 [H, W, 3] RGB at the picture's own size."""
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    with Image.open(stream) as image:
        image.load()
        return np.asarray(to_rgb(ImageOps.exif_transpose(image)), dtype=np.uint8)


def _is_picture(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in IMAGE_EXTENSIONS


def _is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


class ImageFiles:
    """Pictures of a folder or archive, in sorted path order; `limit` keeps a seeded random subset.

    Archive members are held in memory once read (fine for evaluation sets of tens of thousands of
    small images); folder pictures are read from disk on demand.
    """

    def __init__(self, source: str | os.PathLike[str], limit: int | None = None, seed: int = 0) -> None:
        self.source = Path(source).expanduser()
        self._payloads: dict[str, bytes] = {}
        texts: dict[str, bytes] = {}
        if self.source.is_dir():
            names = sorted(
                path.relative_to(self.source).as_posix()
                for path in self.source.rglob("*")
                if path.is_file() and _is_picture(path.name)
            )
        elif _is_archive(self.source):
            names, texts = self._scan_archive()
        elif self.source.exists():
            raise GigaGANError(f"{self.source} is neither a folder nor a .zip/.tar/.tar.gz archive of images")
        else:
            raise GigaGANError(f"image folder not found: {self.source}")
        if not names:
            raise GigaGANError(f"no image files in {self.source}")
        self.total = len(names)  # pictures in the source before `limit`
        if limit is not None and limit < len(names):
            if limit < 1:
                raise GigaGANError(f"the image count must be positive, got {limit}")
            picked = np.sort(np.random.default_rng(seed).permutation(len(names))[:limit])
            names = [names[i] for i in picked]
        is_class_folder = all("/" in name for name in names)
        self.records = [
            ImageRecord(
                name=name,
                label=label_from_folder(name.split("/", 1)[0]) if is_class_folder else None,
                caption=self._caption(name, texts),
            )
            for name in names
        ]
        if _is_archive(self.source):
            self._load_archive_members({record.name for record in self.records})

    def __len__(self) -> int:
        return len(self.records)

    @property
    def labels(self) -> list[str] | None:
        """Class label of every picture (first sub-folder), or None when the pictures are not in class folders."""
        labels = [record.label for record in self.records]
        return None if any(label is None for label in labels) else labels  # type: ignore[return-value]

    @property
    def captions(self) -> list[str] | None:
        """Caption of every picture (same-stem `.txt`), or None when any is missing."""
        captions = [record.caption for record in self.records]
        return None if any(caption is None for caption in captions) else captions  # type: ignore[return-value]

    def read(self, index: int) -> np.ndarray:
        """Picture `index` as uint8 [H, W, 3]; a file that cannot be decoded raises a GigaGANError naming it."""
        name = self.records[index].name
        try:
            if self._payloads:
                return decode_uint8(self._payloads[name])
            return decode_uint8(self.source / name)
        except Exception as error:
            raise GigaGANError(f"cannot decode {self.source / name} ({type(error).__name__})") from error

    def _caption(self, name: str, texts: dict[str, bytes]) -> str | None:
        text_name = str(PurePosixPath(name).with_suffix(".txt"))
        if self.source.is_dir():
            path = self.source / text_name
            return path.read_text(encoding="utf-8", errors="replace").strip() if path.is_file() else None
        data = texts.get(text_name)
        return None if data is None else data.decode("utf-8", errors="replace").strip()

    def _scan_archive(self) -> tuple[list[str], dict[str, bytes]]:
        """Picture names and caption texts of the archive (captions are small, so read now). Names are
        normalised ("./a/b.png" -> "a/b.png"); `_members` maps them back to the archive's own names."""
        self._members: dict[str, str] = {}
        texts: dict[str, bytes] = {}
        try:
            if self.source.suffix.lower() == ".zip":
                with zipfile.ZipFile(self.source) as archive:
                    for info in archive.infolist():
                        if not info.is_dir():
                            self._remember(info.filename, texts, lambda info=info: archive.read(info))
            else:
                with tarfile.open(self.source) as archive:
                    for member in archive:
                        if member.isfile():
                            self._remember(member.name, texts, lambda member=member: _tar_read(archive, member))
        except (OSError, zipfile.BadZipFile, tarfile.TarError) as error:
            raise GigaGANError(f"cannot read archive {self.source} ({type(error).__name__})") from error
        return sorted(name for name in self._members if _is_picture(name)), texts

    def _remember(self, member: str, texts: dict[str, bytes], read: Callable[[], bytes]) -> None:
        name = PurePosixPath(member).as_posix().removeprefix("./")
        self._members[name] = member
        if name.lower().endswith(".txt"):
            texts[name] = read()

    def _load_archive_members(self, wanted: set[str]) -> None:
        by_member = {self._members[name]: name for name in wanted}
        if self.source.suffix.lower() == ".zip":
            with zipfile.ZipFile(self.source) as archive:
                self._payloads = {name: archive.read(member) for member, name in by_member.items()}
            return
        with tarfile.open(self.source) as archive:
            for member in archive:
                if member.name in by_member:
                    self._payloads[by_member[member.name]] = _tar_read(archive, member)


def _tar_read(archive: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = archive.extractfile(member)
    return handle.read() if handle else b""
