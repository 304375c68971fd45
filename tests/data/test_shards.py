"""WebDataset shards: brace patterns, seeded resampled streams per rank and worker, skip counting."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import webdataset
from data_files import write_shards

from gigagan.data import BatchStream, WebDatasetSource
from gigagan.errors import GigaGANError


def first_captions(source: WebDatasetSource, count: int) -> list[str]:
    return [item["caption"] for item in itertools.islice(iter(source), count)]


def test_brace_pattern_stream_items_and_skips(tmp_path: Path) -> None:
    source = WebDatasetSource(write_shards(tmp_path / "shards"), 16, seed=0, shuffle_buffer=4)
    assert len(source.urls) == 2
    items = list(itertools.islice(iter(source), 60))
    for item in items:
        assert item["image"].shape == (3, 16, 16) and item["image"].min() >= -1 and item["image"].max() <= 1
    captions = {item["caption"] for item in items}
    assert captions == {f"shard {s} item {i}" for s in range(2) for i in (0, 1, 2, 4, 5)}  # txt and json
    assert source.skipped == {"decode error": 2, "missing caption": 2}
    assert any("bad: decode error" in line for line in source.skipped_examples)


def test_streams_are_seeded_per_rank(tmp_path: Path) -> None:
    pattern = write_shards(tmp_path / "shards", shards=4)
    rank0 = first_captions(WebDatasetSource(pattern, 16, seed=1, rank=0, world_size=2), 30)
    assert rank0 == first_captions(WebDatasetSource(pattern, 16, seed=1, rank=0, world_size=2), 30)
    assert rank0 != first_captions(WebDatasetSource(pattern, 16, seed=1, rank=1, world_size=2), 30)
    assert rank0 != first_captions(WebDatasetSource(pattern, 16, seed=2, rank=0, world_size=2), 30)
    reseeded = WebDatasetSource(pattern, 16, seed=1, rank=0, world_size=2)
    reseeded.set_epoch(1)
    assert rank0 != first_captions(reseeded, 30)


def test_workers_get_different_streams_and_report_skips(tmp_path: Path) -> None:
    source = WebDatasetSource(write_shards(tmp_path / "shards", shards=3), 16, seed=0, shuffle_buffer=2)
    stream = BatchStream(source, 4, num_workers=2)
    batches = [next(stream) for _ in range(12)]
    stream.close()
    for images, captions in batches:
        assert images.shape == (4, 3, 16, 16) and len(captions) == 4
    worker0 = [c for images, captions in batches[0::2] for c in captions]  # workers take turns
    worker1 = [c for images, captions in batches[1::2] for c in captions]
    assert worker0 != worker1
    assert source.skipped == stream.skipped == {"decode error": 3, "missing caption": 3}  # merged from workers


def test_pipe_urls_and_missing_shards(tmp_path: Path) -> None:
    write_shards(tmp_path / "shards", shards=1)
    source = WebDatasetSource(f"pipe:cat {tmp_path / 'shards' / '00000.tar'}", 16, shuffle_buffer=1)
    assert len(first_captions(source, 5)) == 5
    partly = WebDatasetSource(str(tmp_path / "shards" / "{00000..00002}.tar"), 16)
    assert partly.urls == [str(tmp_path / "shards" / "00000.tar")] and partly.skipped == {"missing file": 2}
    with pytest.raises(GigaGANError, match="no WebDataset shards"):
        WebDatasetSource(str(tmp_path / "nowhere" / "{0..3}.tar"), 16)


def test_shards_without_usable_samples_raise(tmp_path: Path) -> None:
    with webdataset.TarWriter(str(tmp_path / "bad.tar")) as writer:
        writer.write({"__key__": "a", "jpg": b"nope", "txt": b"caption"})
    (tmp_path / "notatar.tar").write_bytes(np.random.default_rng(0).bytes(3000))
    for url in ("bad.tar", "notatar.tar"):
        with pytest.raises(GigaGANError, match="no usable samples"):
            next(iter(WebDatasetSource(str(tmp_path / url), 16, shuffle_buffer=1)))


def test_stream_resume_reseeds(tmp_path: Path) -> None:
    source = WebDatasetSource(write_shards(tmp_path / "shards"), 16, seed=0, shuffle_buffer=2)
    stream = BatchStream(source, 2)
    [next(stream) for _ in range(3)]
    state = json.loads(json.dumps(stream.state_dict()))
    assert state["kind"] == "stream" and state["batches"] == 3
    resumed = BatchStream(WebDatasetSource(write_shards(tmp_path / "shards"), 16, seed=0, shuffle_buffer=2), 2)
    resumed.load_state_dict(state)
    images, captions = next(resumed)
    assert resumed.batches == 4 and resumed.epoch == 1 and images.shape == (2, 3, 16, 16)
    assert isinstance(images, torch.Tensor) and len(captions) == 2
