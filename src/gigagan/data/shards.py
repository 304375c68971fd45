"""WebDataset tar shards in img2dataset layout, as an infinite, resampled, seeded stream.

A shard holds samples as consecutive tar members sharing a key: `000123.jpg` (or png/webp) plus
`000123.txt` and/or `000123.json` (caption under "caption" or "text"). Every DataLoader worker on
every rank draws shards at random with replacement from its own generator, seeded by (seed, epoch,
rank, world size, worker, number of workers), and shuffles samples through a small buffer: streams
differ between workers and ranks and repeat exactly for the same settings. Urls may be local paths,
brace patterns (`shards/{00000..00009}.tar`), several patterns joined by "::", `pipe:` commands or
remote urls (opened with webdataset's `gopen`).

Resuming is best-effort: `set_epoch` re-seeds the stream (BatchStream bumps the epoch on resume), so
a resumed run draws a fresh random stream instead of replaying the one it had consumed.
"""

from __future__ import annotations

import json
import re
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from gigagan.data.images import (
    DECODE_ERROR,
    EMPTY_CAPTION,
    MISSING_CAPTION,
    MISSING_FILE,
    MISSING_IMAGE,
    ReportsSkips,
    SkipLog,
    load_image,
)
from gigagan.errors import GigaGANError

IMAGE_KEYS = ("jpg", "jpeg", "png", "webp")
UNREADABLE_SHARD = "unreadable shard"
_REMOTE = re.compile(r"^(pipe:|[a-zA-Z][a-zA-Z0-9+.-]*://)")


def is_remote(url: str) -> bool:
    """True for `pipe:` commands and scheme urls (http://, s3://, ...) other than file://."""
    return bool(_REMOTE.match(url)) and not url.startswith("file://")


def expand_urls(urls: str | Sequence[str]) -> list[str]:
    """Expand brace patterns and "::"-joined lists into a flat list of shard urls."""
    from braceexpand import braceexpand

    patterns = urls.split("::") if isinstance(urls, str) else list(urls)
    return [url for pattern in patterns if pattern for url in braceexpand(pattern)]


def _open(url: str) -> BinaryIO:
    if is_remote(url):
        from webdataset.gopen import gopen

        return gopen(url, "rb")
    return open(url.removeprefix("file://"), "rb")


def _tar_samples(stream: BinaryIO) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(key, {extension: bytes}) for each run of consecutive members sharing a key."""
    key, parts = None, {}
    with tarfile.open(fileobj=stream, mode="r|*") as tar:
        for member in tar:
            folder, _, name = member.name.rpartition("/")
            stem, dot, extension = name.partition(".")
            if not member.isfile() or not dot or name.startswith("__"):
                continue
            member_key = f"{folder}/{stem}" if folder else stem
            if member_key != key:
                if parts:
                    yield key, parts  # type: ignore[misc]
                key, parts = member_key, {}
            file = tar.extractfile(member)
            parts[extension.lower()] = file.read() if file is not None else b""
    if parts:
        yield key, parts  # type: ignore[misc]


def _caption(parts: dict[str, bytes]) -> str | None:
    if "txt" in parts:
        return parts["txt"].decode("utf-8", errors="replace").strip()
    if "json" in parts:
        try:
            record = json.loads(parts["json"])
        except ValueError:
            return None
        if isinstance(record, dict):
            value = record.get("caption", record.get("text"))
            return None if value is None else str(value).strip()
    return None


class WebDatasetSource(ReportsSkips, IterableDataset):
    """Infinite stream of {"image": float32 [3, R, R] in [-1, 1], "caption": str} from tar shards."""

    def __init__(
        self,
        urls: str | Sequence[str],
        resolution: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        *,
        shuffle_buffer: int = 256,
    ) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world size {world_size}")
        try:
            expanded = expand_urls(urls)
        except ImportError as error:
            raise GigaGANError("WebDataset shards need the 'webdataset' package: pip install webdataset") from error
        self._log = SkipLog()
        self.urls: list[str] = []
        for url in expanded:
            if is_remote(url) or Path(url.removeprefix("file://")).is_file():
                self.urls.append(url)
            else:
                self._log.add(url, MISSING_FILE)
        self._log.drain()
        if not self.urls:
            raise GigaGANError(f"no WebDataset shards found for {urls!r} ({len(expanded)} expected)")
        self.resolution = resolution
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.shuffle_buffer = max(1, shuffle_buffer)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Re-seed the stream: each epoch value gives a different, reproducible stream."""
        self.epoch = epoch

    def _stream_generator(self) -> np.random.Generator:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        return np.random.default_rng([self.seed, self.epoch, self.rank, self.world_size, worker, workers])

    def _shard_samples(self, url: str) -> Iterator[tuple[str, dict[str, bytes]]]:
        try:
            stream = _open(url)
        except Exception:
            self._log.add(url, UNREADABLE_SHARD)
            return
        try:
            yield from _tar_samples(stream)
        except Exception:  # a truncated or corrupt shard: keep what was read, count the shard
            self._log.add(url, UNREADABLE_SHARD)
        finally:
            try:
                stream.close()
            except Exception:
                self._log.add(url, UNREADABLE_SHARD)

    def _decode(self, item: str, parts: dict[str, bytes]) -> dict[str, torch.Tensor | str] | None:
        caption = _caption(parts)
        image = next((parts[key] for key in IMAGE_KEYS if key in parts), None)
        reason = None
        if image is None:
            reason = MISSING_IMAGE
        elif caption is None:
            reason = MISSING_CAPTION
        elif not caption:
            reason = EMPTY_CAPTION
        else:
            try:
                return {"image": load_image(image, self.resolution), "caption": caption}
            except Exception:
                reason = DECODE_ERROR
        self._log.add(item, reason)
        return None

    def __iter__(self) -> Iterator[dict[str, torch.Tensor | str]]:
        rng = self._stream_generator()
        buffer: list[tuple[str, dict[str, bytes]]] = []
        barren_shards = 0  # shards in a row that were unreadable or gave only unusable samples
        while True:
            url = self.urls[int(rng.integers(len(self.urls)))]
            read = decoded = produced = 0
            for key, parts in self._shard_samples(url):
                read += 1
                buffer.append((f"{url}:{key}", parts))
                if len(buffer) < self.shuffle_buffer:
                    continue
                pick = int(rng.integers(len(buffer)))
                buffer[pick], buffer[-1] = buffer[-1], buffer[pick]
                sample = self._decode(*buffer.pop())
                decoded += 1
                if sample is not None:
                    produced += 1
                    yield sample
            if produced:
                barren_shards = 0
            elif read == 0 or decoded > 0:
                barren_shards += 1
                if barren_shards >= max(16, 4 * len(self.urls)):
                    raise GigaGANError(f"no usable samples in the WebDataset shards: {self._log.summary()}")
