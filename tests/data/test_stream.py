"""BatchStream: seeded epochs, disjoint rank shards, exact resume with and without workers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset

from gigagan.data import BatchStream, ImageFolderWithCaptions, ShapesDataset
from gigagan.errors import GigaGANError


class Numbered(Dataset):
    """Item i is a picture filled with i, captioned "i": batches reveal exactly which items they hold."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str]:
        return {"image": torch.full((3, 2, 2), float(index)), "caption": str(index)}


def take(stream: BatchStream, count: int) -> list[list[int]]:
    return [[int(c) for c in next(stream)[1]] for _ in range(count)]


@pytest.mark.parametrize("num_workers", [0, 2])
def test_resume_continues_bit_for_bit(num_workers: int) -> None:
    dataset = ShapesDataset(32, length=40)
    reference = BatchStream(dataset, 6, seed=3, num_workers=num_workers)
    expected = [next(reference) for _ in range(12)]  # crosses two epoch boundaries
    reference.close()
    for k in (0, 5, 6, 10):
        first = BatchStream(dataset, 6, seed=3, num_workers=num_workers)
        for _ in range(k):
            next(first)
        state = json.loads(json.dumps(first.state_dict()))
        first.close()
        resumed = BatchStream(dataset, 6, seed=0, num_workers=num_workers)  # the saved seed wins
        resumed.load_state_dict(state)
        for images, captions in expected[k : k + 2]:
            got_images, got_captions = next(resumed)
            assert got_captions == captions and torch.equal(got_images, images)
        resumed.close()


def test_epochs_are_seeded_permutations_and_drop_last() -> None:
    stream = BatchStream(Numbered(10), 4, seed=1)
    batches = take(stream, 6)
    for epoch in range(3):  # 10 items, batch 4, drop_last: two batches per epoch, 8 distinct items
        items = batches[2 * epoch] + batches[2 * epoch + 1]
        assert len(set(items)) == 8
    assert batches[:2] != batches[2:4]
    assert take(BatchStream(Numbered(10), 4, seed=1), 6) == batches
    assert take(BatchStream(Numbered(10), 4, seed=2), 6) != batches
    assert stream.state_dict()["epoch"] == 3 and stream.state_dict()["position"] == 0


def test_without_drop_last_batches_wrap_across_epochs() -> None:
    stream = BatchStream(Numbered(10), 4, seed=1, drop_last=False)
    flat = [i for batch in take(stream, 5) for i in batch]  # 20 items: exactly two epochs
    assert sorted(flat[:10]) == list(range(10)) and sorted(flat[10:]) == list(range(10))
    tiny = BatchStream(Numbered(3), 8, drop_last=False)
    assert len(take(tiny, 1)[0]) == 8
    with pytest.raises(GigaGANError, match="too small"):
        BatchStream(Numbered(3), 8)


def test_ranks_see_disjoint_parts_of_each_epoch() -> None:
    ranks = [BatchStream(Numbered(23), 2, seed=4, rank=r, world_size=3) for r in range(3)]
    for epoch in range(2):
        parts = [set(stream.epoch_indices(epoch).tolist()) for stream in ranks]
        assert all(len(part) == 7 for part in parts)
        assert not parts[0] & parts[1] and not parts[0] & parts[2] and not parts[1] & parts[2]
    seen = [[i for batch in take(stream, 3) for i in batch] for stream in ranks]  # one epoch each
    assert seen == [stream.epoch_indices(0)[:6].tolist() for stream in ranks]  # 7th is the dropped tail


def test_changed_layout_warns_on_resume() -> None:
    stream = BatchStream(Numbered(10), 2)
    take(stream, 2)
    other = BatchStream(Numbered(12), 2)
    with pytest.warns(UserWarning, match="dataset_size"):
        other.load_state_dict(stream.state_dict())
    with pytest.raises(GigaGANError, match="stream"):
        other.load_state_dict({**stream.state_dict(), "kind": "stream"})


def test_worker_decode_failures_reach_the_main_process(messy_folder: Path) -> None:
    dataset = ImageFolderWithCaptions(messy_folder, 16)
    assert "decode error" not in dataset.skipped
    stream = BatchStream(dataset, 4, num_workers=2)
    for _ in range(4):  # two epochs: every item is loaded in some worker
        images, captions = next(stream)
        assert images.shape == (4, 3, 16, 16) and "a picture called trunc" not in captions
    stream.close()
    assert stream.skipped["decode error"] == 1 and dataset.skipped["decode error"] == 1
    assert any("trunc.jpg: decode error" in line for line in stream.skipped_examples)


def test_stream_leaves_the_global_rng_alone() -> None:
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    stream = BatchStream(Numbered(10), 2)
    take(stream, 3)
    assert torch.equal(torch.rand(3), expected)
