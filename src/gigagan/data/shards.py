"""WebDataset tar shards in img2dataset layout, as an infinite, resampled, seeded stream.

A shard holds samples as consecutive tar members sharing a key: `000123.jpg` (or png/webp) plus
`000123.txt` and/or `000123.json` (caption under "caption" or "text"). The stream is webdataset's own
pipeline, built afresh in every DataLoader worker:

    resampled shards -> tar to samples -> shuffle buffer -> caption check -> PIL decode -> items

Shards are split by node and by worker the way webdataset splits them (rank r of W takes every W-th
shard from r, then worker w of N every N-th of those) while there are at least as many shards as
parts; with fewer, every part resamples all of them. Each part draws its shards with replacement
from its own seed (seed, epoch, rank, world size, worker, number of workers), so streams differ
between workers and ranks and repeat exactly for the same settings. Urls may be local paths, brace
patterns (`shards/{00000..00009}.tar`), several patterns joined by "::", `pipe:` commands or remote
urls (opened with webdataset's `gopen`).

Nothing bad crashes the run: webdataset's error handlers count unreadable shards, samples without a
picture or caption and pictures that fail to decode in the source's `SkipLog`, and go on. Only a
stream that keeps reading shards without producing anything raises a one-line `GigaGANError`.

Resuming is best-effort: `set_epoch` re-seeds the stream (BatchStream bumps the epoch on resume), so
a resumed run draws a fresh random stream instead of replaying the one it had consumed.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from webdataset import DataPipeline

IMAGE_KEYS = ("jpg", "jpeg", "png", "webp")
UNREADABLE_SHARD = "unreadable shard"
_REMOTE = re.compile(r"^(pipe:|[a-zA-Z][a-zA-Z0-9+.-]*://)")

Item = dict[str, torch.Tensor | str]
Sample = dict[str, Any]


def is_remote(url: str) -> bool:
    """True for `pipe:` commands and scheme urls (http://, s3://, ...) other than file://."""
    return bool(_REMOTE.match(url)) and not url.startswith("file://")


def expand_urls(urls: str | Sequence[str]) -> list[str]:
    """Expand brace patterns and "::"-joined lists into a flat list of shard urls."""
    from braceexpand import braceexpand

    patterns = urls.split("::") if isinstance(urls, str) else list(urls)
    return [url for pattern in patterns if pattern for url in braceexpand(pattern)]


def split_shards(urls: list[str], part: int, parts: int) -> list[str]:
    """Every `parts`-th url from `part` on (webdataset's node and worker split); all of them when
    there are fewer urls than parts, so that every part still has shards to resample."""
    return urls[part::parts] if len(urls) >= parts else list(urls)


def _caption(parts: Sample) -> str | None:
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


class SkippedSample(Exception):
    """Raised inside the pipeline for a sample that cannot be used; the source's handler counts it."""

    def __init__(self, item: str, reason: str) -> None:
        super().__init__(f"{item}: {reason}")
        self.item = item
        self.reason = reason


class _Progress:
    """Shards opened and samples read since the stream last produced an item (to detect barren shards)."""

    def __init__(self) -> None:
        self.shards = 0
        self.samples = 0


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
            import webdataset  # noqa: F401

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

    def shards(self, worker: int = 0, workers: int = 1) -> list[str]:
        """The shards this rank's DataLoader worker `worker` of `workers` resamples."""
        return split_shards(split_shards(self.urls, self.rank, self.world_size), worker, workers)

    def stream_seed(self, worker: int = 0, workers: int = 1) -> int:
        """The seed of one worker's stream on this rank, for the current epoch."""
        key = [self.seed, self.epoch, self.rank, self.world_size, worker, workers]
        return int(np.random.SeedSequence(key).generate_state(1)[0])

    # -- webdataset error handlers: count the failure, return True to go on -----------------------

    def _shard_failed(self, error: Exception) -> bool:
        """Handler of the tar stages: a shard that cannot be opened or read (to its end) is counted once."""
        url = next((arg for arg in reversed(error.args) if isinstance(arg, str) and arg in self.urls), None)
        self._log.add(url or f"{type(error).__name__}: {error}", UNREADABLE_SHARD)
        return True

    def _sample_failed(self, error: Exception) -> bool:
        """Handler of the sample stages: an unusable sample or a picture that fails to decode is counted."""
        from webdataset.autodecode import DecodingError

        if isinstance(error, SkippedSample):
            self._log.add(error.item, error.reason)
        elif isinstance(error, DecodingError):
            self._log.add(f"{error.url}:{error.key}", DECODE_ERROR)
        else:
            raise error
        return True

    # -- pipeline stages ----------------------------------------------------------------------------

    @staticmethod
    def _captioned(sample: Sample) -> Sample:
        """The sample's first picture (still encoded) and its caption; raises SkippedSample without them."""
        item = f"{sample['__url__']}:{sample['__key__']}"
        extension = next((key for key in IMAGE_KEYS if key in sample), None)
        caption = _caption(sample)
        if extension is None:
            raise SkippedSample(item, MISSING_IMAGE)
        if caption is None:
            raise SkippedSample(item, MISSING_CAPTION)
        if not caption:
            raise SkippedSample(item, EMPTY_CAPTION)
        return {
            "__key__": sample["__key__"],
            "__url__": sample["__url__"],
            extension: sample[extension],
            "caption": caption,
        }

    def _decode_picture(self, extension: str, data: bytes) -> torch.Tensor | None:
        """webdataset decoder handler: encoded picture -> float32 [3, R, R] in [-1, 1] (PIL, `load_image`)."""
        return load_image(data, self.resolution) if extension.lstrip(".") in IMAGE_KEYS else None

    def _watch_shards(self, shards: Iterator[Sample], progress: _Progress, limit: int) -> Iterator[Sample]:
        """Pass shards on; raise once `limit` shards in a row were unreadable or gave only unusable samples."""
        for shard in shards:
            progress.shards += 1
            # while fewer samples than a shuffle buffer were read, the buffer may still be filling
            filling = 0 < progress.samples <= self.shuffle_buffer
            if progress.shards > limit and not filling:
                raise GigaGANError(f"no usable samples in the WebDataset shards: {self._log.summary()}")
            yield shard

    def _close_finished(self, sources: Iterator[Sample]) -> Iterator[Sample]:
        """Close each shard's stream once the next shard is asked for; a failed close counts the shard."""
        previous: Sample | None = None
        try:
            for source in sources:
                self._close(previous)
                previous = source
                yield source
        finally:
            self._close(previous)

    def _close(self, source: Sample | None) -> None:
        if source is None:
            return
        try:
            source["stream"].close()
        except Exception:  # e.g. a `pipe:` command that exited with an error
            self._log.add(source["url"], UNREADABLE_SHARD)

    @staticmethod
    def _count_samples(samples: Iterator[Sample], progress: _Progress) -> Iterator[Sample]:
        for sample in samples:
            progress.samples += 1
            yield sample

    @staticmethod
    def _items(samples: Iterator[Sample], progress: _Progress) -> Iterator[Item]:
        for sample in samples:
            progress.shards = progress.samples = 0
            image = next(sample[key] for key in IMAGE_KEYS if key in sample)
            yield {"image": image, "caption": sample["caption"]}

    def pipeline(self, worker: int = 0, workers: int = 1) -> DataPipeline:
        """The webdataset pipeline of one worker's stream (see the module docstring)."""
        import webdataset as wds
        from webdataset.tariterators import group_by_keys, tar_file_expander, url_opener

        shards = self.shards(worker, workers)
        seed = self.stream_seed(worker, workers)
        progress = _Progress()
        return wds.DataPipeline(
            wds.ResampledShards(shards, seed=seed, worker_seed=lambda: 0, deterministic=True),
            lambda source: self._watch_shards(source, progress, max(16, 4 * len(shards))),
            # webdataset's tarfile_to_samples, with each shard's stream closed when it is done
            partial(url_opener, handler=self._shard_failed),
            self._close_finished,
            partial(tar_file_expander, handler=self._shard_failed),
            partial(group_by_keys, handler=self._shard_failed),
            lambda source: self._count_samples(source, progress),
            wds.shuffle(self.shuffle_buffer, initial=self.shuffle_buffer, rng=random.Random(seed)),
            wds.map(self._captioned, handler=self._sample_failed),
            wds.decode(self._decode_picture, only=IMAGE_KEYS, handler=self._sample_failed),
            lambda source: self._items(source, progress),
        )

    def __iter__(self) -> Iterator[Item]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        return iter(self.pipeline(worker, workers))
