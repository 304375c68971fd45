"""Training on WebDataset shards: the CLI end to end, the shard source, and its split by rank and worker.

Every shard holds good captioned pictures plus two planted bad members: a `.jpg` of garbage bytes
(counted as "decode error") and a picture without any caption (counted as "missing caption").
"""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path

import pytest
import torch
import webdataset
from PIL import Image

from gigagan.cli import main
from gigagan.data import WebDatasetSource

PLANTED_SKIPS_PER_SHARD = {"decode error": 1, "missing caption": 1}


def picture(color: tuple[int, int, int], image_format: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), color).save(buffer, format=image_format)
    return buffer.getvalue()


def write_captioned_shards(root: Path, shards: int = 2, good_per_shard: int = 3) -> str:
    """`shard-00000.tar`... with good samples (captions in .txt or .json) and the two planted bad ones;
    returns the brace pattern over them."""
    root.mkdir(parents=True, exist_ok=True)
    for shard in range(shards):
        with webdataset.TarWriter(str(root / f"shard-{shard:05d}.tar")) as writer:
            for index in range(good_per_shard):
                caption = f"shard {shard} picture {index}"
                sample = {"__key__": f"{shard:05d}{index:04d}", "jpg": picture((50 * index, 90, 60 * shard))}
                if index % 2:
                    sample["json"] = json.dumps({"caption": caption}).encode()
                else:
                    sample["txt"] = caption.encode()
                writer.write(sample)
            writer.write({"__key__": f"{shard:05d}garbage", "jpg": b"\xff\xd8 not a picture", "txt": b"garbage"})
            writer.write({"__key__": f"{shard:05d}uncaptioned", "png": picture((0, 0, 0), "PNG")})
    return str(root / f"shard-{{00000..{shards - 1:05d}}}.tar")


def all_captions(shards: int, good_per_shard: int) -> set[str]:
    return {f"shard {shard} picture {index}" for shard in range(shards) for index in range(good_per_shard)}


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out, captured.err


def test_train_on_two_shards_skips_and_counts_corrupt_members(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # one good picture per shard: most of what the stream draws is bad, so every planted member is met
    pattern = write_captioned_shards(tmp_path / "shards", shards=2, good_per_shard=1)
    out = tmp_path / "run"
    argv = ["train", "--preset", "tiny", "--data", pattern, "--out", str(out), "--max-steps", "2"]
    code, stdout, err = run_cli([*argv, "--batch-size", "4", "--sample-every", "0", "--no-progress"], capsys)

    assert code == 0, err
    expected = {reason: 2 * count for reason, count in PLANTED_SKIPS_PER_SHARD.items()}
    assert "trained 2 steps" in stdout
    assert f"0 non-finite steps skipped; {sum(expected.values())} unreadable data items skipped" in stdout
    assert (out / "latest" / "generator.safetensors").is_file()
    state = json.loads((out / "latest" / "training_state.json").read_text())
    assert state["step"] == 2 and state["data_skipped"] == expected
    events = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    data_events = [event for event in events if event.get("event") == "data"]
    assert data_events and all(
        f"'{reason}': {count}" in data_events[-1]["message"] for reason, count in expected.items()
    )
    prompts = (out / "samples" / "prompts.txt").read_text().splitlines()
    assert len(prompts) == 8 and set(prompts) <= all_captions(2, 1)  # the first items of the stream


def test_no_matching_shard_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pattern = str(tmp_path / "nowhere" / "shard-{00000..00001}.tar")
    argv = ["train", "--preset", "tiny", "--data", pattern, "--out", str(tmp_path / "run"), "--no-progress"]
    code, _, err = run_cli(argv, capsys)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and "no WebDataset shards found" in errors[0], err
    assert "Traceback" not in err


def test_source_yields_decoded_pictures_and_captions(tmp_path: Path) -> None:
    source = WebDatasetSource(write_captioned_shards(tmp_path / "shards"), 16, seed=0, shuffle_buffer=4)
    assert len(source.urls) == 2
    items = list(itertools.islice(iter(source), 60))
    for item in items:
        assert set(item) == {"image", "caption"}
        image = item["image"]
        assert isinstance(image, torch.Tensor) and image.dtype == torch.float32 and image.shape == (3, 16, 16)
        assert image.min() >= -1 and image.max() <= 1
    assert {item["caption"] for item in items} == all_captions(2, 3)
    assert source.skipped == {reason: 2 * count for reason, count in PLANTED_SKIPS_PER_SHARD.items()}
    assert any(example.endswith("00000garbage: decode error") for example in source.skipped_examples)


def shard_of(caption: str) -> int:
    return int(caption.split()[1])


def test_ranks_and_workers_get_disjoint_shards(tmp_path: Path) -> None:
    pattern = write_captioned_shards(tmp_path / "shards", shards=4)
    ranks = [WebDatasetSource(pattern, 16, seed=1, rank=rank, world_size=2, shuffle_buffer=2) for rank in (0, 1)]
    assert [Path(url).name for url in ranks[0].shards()] == ["shard-00000.tar", "shard-00002.tar"]
    assert [Path(url).name for url in ranks[1].shards()] == ["shard-00001.tar", "shard-00003.tar"]
    seen = [{shard_of(item["caption"]) for item in itertools.islice(iter(source), 30)} for source in ranks]
    assert seen == [{0, 2}, {1, 3}]
    # rank 0's two DataLoader workers split its shards again
    workers = [
        {shard_of(item["caption"]) for item in itertools.islice(iter(ranks[0].pipeline(w, 2)), 10)} for w in (0, 1)
    ]
    assert workers == [{0}, {2}]


def test_fewer_shards_than_ranks_are_shared_in_different_orders(tmp_path: Path) -> None:
    pattern = write_captioned_shards(tmp_path / "shards", shards=2)
    ranks = [WebDatasetSource(pattern, 16, seed=1, rank=rank, world_size=4, shuffle_buffer=2) for rank in range(4)]
    assert all(source.shards() == source.urls for source in ranks)
    orders = [[item["caption"] for item in itertools.islice(iter(source), 20)] for source in ranks]
    assert len({tuple(order) for order in orders}) == 4
