"""`BatchStream`: an endless, rank-sharded, exactly resumable stream of (images, captions) batches.

Map-style datasets: epoch `e` visits the items in the permutation drawn from (seed, e); rank `r` of
`W` takes every W-th entry of it starting at `r` (the permutation is cut to a multiple of W), so the
ranks see disjoint, equally long parts of every epoch. The stream's cursor (epoch, position within
this rank's part) advances only when a batch is handed out, so `state_dict()` taken after k batches
and loaded into a fresh stream (any number of workers) continues with batch k+1 bit for bit.

- `drop_last=True`: batches never span two epochs; each epoch's tail shorter than a batch is left out.
- `drop_last=False`: the tail joins the start of the next epoch, so every batch is still full.

Iterable datasets (WebDataset shards) are streamed as they come; resuming restores the batch count
and re-seeds the stream with the next epoch (best-effort: no replay of the exact samples).

Files that fail to decode inside DataLoader workers are reported back with each batch and merged
into the dataset's `skipped` counts in the main process.
"""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, get_worker_info

from gigagan.data.images import SkipLog
from gigagan.errors import GigaGANError

Batch = tuple[torch.Tensor, list[str]]


def _collate(items: list[dict[str, Any]]) -> tuple[torch.Tensor, list[str], list[tuple[str, str]]]:
    """Stack a batch; in a worker, also ship the worker's new skip records to the main process."""
    images = torch.stack([item["image"] for item in items])
    captions = [item["caption"] for item in items]
    info = get_worker_info()
    log = getattr(info.dataset, "skip_log", None) if info is not None else None
    return images, captions, log.drain() if isinstance(log, SkipLog) else []


class _IndexBatches:
    """The batch sampler: yields index lists and records, in order, the cursor after each one."""

    def __init__(self, plan: Iterator[tuple[list[int], tuple[int, int]]], cursors: deque[tuple[int, int]]) -> None:
        self.plan = plan
        self.cursors = cursors

    def __iter__(self) -> Iterator[list[int]]:
        for batch, cursor in self.plan:
            self.cursors.append(cursor)
            yield batch


class BatchStream:
    """Endless iterator of `(images [B, 3, R, R] float32 in [-1, 1], captions: list[str])`.

    `rank`/`world_size` shard map-style datasets; iterable sources do their own sharding (they get
    rank and world size when built). `seed` fixes the epoch permutations (map-style only).
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        *,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        num_workers: int = 0,
        drop_last: bool = True,
        pin_memory: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world size {world_size}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.num_workers = num_workers
        self.drop_last = drop_last
        self.pin_memory = pin_memory
        self.is_iterable = isinstance(dataset, IterableDataset)
        self.epoch = 0
        self.position = 0  # map-style: items of this rank's epoch part already handed out
        self.batches = 0  # batches handed out since the stream started (kept across resumes)
        self._cursors: deque[tuple[int, int]] = deque()
        self._iterator: Iterator[Any] | None = None
        if not self.is_iterable:
            per_rank = len(dataset) // world_size  # type: ignore[arg-type]
            if per_rank == 0 or (drop_last and per_rank < batch_size):
                raise GigaGANError(
                    f"dataset of {len(dataset)} items is too small for batch size {batch_size} "  # type: ignore[arg-type]
                    f"on {world_size} rank(s){' (try drop_last=False)' if per_rank else ''}"
                )

    # -- map-style plan -------------------------------------------------------------------------

    def epoch_indices(self, epoch: int) -> np.ndarray:
        """This rank's part of epoch `epoch`: dataset indices in visiting order."""
        size = len(self.dataset)  # type: ignore[arg-type]
        order = np.random.default_rng([self.seed, epoch]).permutation(size)
        per_rank = size // self.world_size
        return order[self.rank : per_rank * self.world_size : self.world_size]

    def _plan(self, epoch: int, position: int) -> Iterator[tuple[list[int], tuple[int, int]]]:
        """Batches from cursor (epoch, position) on, each with the cursor after it."""
        size = self.batch_size
        indices = self.epoch_indices(epoch)
        while True:
            if self.drop_last:
                if position + size > len(indices):  # the tail (or a stale cursor): next epoch
                    epoch, position, indices = epoch + 1, 0, self.epoch_indices(epoch + 1)
                    continue
                batch = indices[position : position + size].tolist()
                position += size
                if position + size > len(indices):
                    epoch, position, indices = epoch + 1, 0, self.epoch_indices(epoch + 1)
            else:
                batch = []
                while len(batch) < size:
                    taken = indices[position : position + size - len(batch)].tolist()
                    batch += taken
                    position += len(taken)
                    if position >= len(indices):
                        epoch, position, indices = epoch + 1, 0, self.epoch_indices(epoch + 1)
            yield batch, (epoch, position)

    # -- iteration ------------------------------------------------------------------------------

    def _loader(self) -> DataLoader:
        common: dict[str, Any] = {
            "num_workers": self.num_workers,
            "collate_fn": _collate,
            "pin_memory": self.pin_memory,
            # the loader draws its worker base seed from this, not from (and so never shifts) torch's global RNG
            "generator": torch.Generator().manual_seed(self.seed),
        }
        if self.is_iterable:
            set_epoch = getattr(self.dataset, "set_epoch", None)
            if set_epoch is not None:
                set_epoch(self.epoch)
            return DataLoader(self.dataset, batch_size=self.batch_size, drop_last=True, **common)
        self._cursors.clear()
        sampler = _IndexBatches(self._plan(self.epoch, self.position), self._cursors)
        return DataLoader(self.dataset, batch_sampler=sampler, **common)  # type: ignore[arg-type]

    def __iter__(self) -> BatchStream:
        return self

    def __next__(self) -> Batch:
        if self._iterator is None:
            self._iterator = iter(self._loader())
        try:
            images, captions, skips = next(self._iterator)
        except GigaGANError as error:  # raised in a worker: keep only the original one-line message
            raise GigaGANError(str(error).rsplit("GigaGANError: ", 1)[-1]) from None
        log = getattr(self.dataset, "skip_log", None)
        if isinstance(log, SkipLog):
            for item, reason in skips:
                log.add(item, reason)
            log.drain()
        if not self.is_iterable:
            self.epoch, self.position = self._cursors.popleft()
        self.batches += 1
        return images, captions

    def close(self) -> None:
        """Stop the DataLoader workers (the stream restarts them if iterated again)."""
        self._iterator = None
        self._cursors.clear()

    # -- resuming -------------------------------------------------------------------------------

    @property
    def skipped(self) -> dict[str, int]:
        """The dataset's skipped counts, including failures reported by workers."""
        return dict(getattr(self.dataset, "skipped", {}))

    @property
    def skipped_examples(self) -> list[str]:
        """The dataset's first few skipped items."""
        return list(getattr(self.dataset, "skipped_examples", []))

    def state_dict(self) -> dict[str, Any]:
        """A small JSON-able snapshot: the next batch after `load_state_dict` is the next batch here."""
        state: dict[str, Any] = {"kind": "stream" if self.is_iterable else "map", "seed": self.seed}
        state |= {"epoch": self.epoch, "position": self.position, "batches": self.batches}
        if not self.is_iterable:
            state |= {
                "batch_size": self.batch_size,
                "world_size": self.world_size,
                "dataset_size": len(self.dataset),  # type: ignore[arg-type]
                "drop_last": self.drop_last,
            }
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from `state` (map-style: exactly; iterable: the count, then a freshly seeded stream)."""
        kind = "stream" if self.is_iterable else "map"
        if state.get("kind") != kind:
            raise GigaGANError(f"data stream state is for a {state.get('kind')!r} dataset, this one is {kind!r}")
        self.close()
        self.seed = int(state["seed"])
        self.batches = int(state["batches"])
        if self.is_iterable:
            self.epoch, self.position = int(state["epoch"]) + 1, 0
            return
        current = self.state_dict()
        changed = [
            key for key in ("batch_size", "world_size", "dataset_size", "drop_last") if state[key] != current[key]
        ]
        if changed:
            warnings.warn(
                f"resuming the data stream with a different {', '.join(changed)}: batches will not match the "
                "uninterrupted run",
                stacklevel=2,
            )
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
