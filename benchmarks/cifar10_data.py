"""CIFAR-10 as class folders: extract the shared tarball once into a cache folder.

The tarball (`../shared/data/cifar10-jpg.tar.gz` beside the checkout) holds
`train/<class>/NNNN.jpg` (5,000 per class) and `test/<class>/NNNN.jpg` (1,000 per class), 32x32
JPEGs. `cifar10_folders()` extracts it (once; a marker file records a complete extraction) and
returns the two folders, which `gigagan.data.build_dataset` reads as class folders.

Usage: python benchmarks/cifar10_data.py [--tarball PATH] [--cache DIR]   (prints the two paths)
"""

from __future__ import annotations

import argparse
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

DEFAULT_TARBALL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cifar10-jpg.tar.gz"
DEFAULT_CACHE = Path(os.environ.get("GIGAGAN_CIFAR10_CACHE", Path(tempfile.gettempdir()) / "gigagan-cifar10"))
SPLITS = ("train", "test")
COMPLETE_MARKER = ".complete"


def cifar10_folders(tarball: str | Path = DEFAULT_TARBALL, cache: str | Path = DEFAULT_CACHE) -> tuple[Path, Path]:
    """(train folder, test folder) of CIFAR-10 class folders, extracting `tarball` into `cache` if needed.

    Extraction goes to a temporary folder beside the target and is renamed into place, so an
    interrupted run never leaves a half-filled cache that looks complete.
    """
    tarball, cache = Path(tarball), Path(cache)
    target = cache / tarball.name.removesuffix(".tar.gz").removesuffix(".tgz")
    if not (target / COMPLETE_MARKER).is_file():
        if not tarball.is_file():
            raise FileNotFoundError(f"CIFAR-10 tarball not found: {tarball}")
        cache.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=cache, prefix=f".{target.name}."))
        try:
            with tarfile.open(tarball, "r:gz") as archive:
                archive.extractall(staging, filter="data")
            missing = [split for split in SPLITS if not (staging / split).is_dir()]
            if missing:
                raise RuntimeError(f"{tarball} has no {', '.join(missing)} folder")
            (staging / COMPLETE_MARKER).write_text(str(tarball) + "\n")
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        finally:
            if staging.exists():
                shutil.rmtree(staging)
    return target / "train", target / "test"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarball", type=Path, default=DEFAULT_TARBALL)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args()
    train, test = cifar10_folders(args.tarball, args.cache)
    print(train)
    print(test)


if __name__ == "__main__":
    main()
