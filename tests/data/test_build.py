"""build_dataset: every spec form picks the right source; bad specs are one-line GigaGANErrors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from data_files import write_shards
from PIL import Image

from gigagan.data import (
    ClassFolderDataset,
    ImageFolderWithCaptions,
    ManifestDataset,
    ShapesDataset,
    WebDatasetSource,
    build_dataset,
    parse_caption,
)
from gigagan.data.shapes import OPEN_CAPTIONS, split_triples
from gigagan.errors import GigaGANError


def test_shapes_specs() -> None:
    train = build_dataset("shapes", 32, seed=2)
    assert isinstance(train, ShapesDataset) and train.split == "train" and train.seed == 2
    heldout = build_dataset("shapes:heldout", 16)
    assert isinstance(heldout, ShapesDataset) and heldout[0]["image"].shape == (3, 16, 16)
    assert parse_caption(heldout[0]["caption"]).triple in split_triples("heldout")
    assert build_dataset("shapes", 32, split="heldout").split == "heldout"
    assert train.open_captions == 0.0 and heldout.open_captions == 0.0
    open_ = build_dataset("shapes:open", 32)
    assert open_.split == "train" and open_.open_captions == OPEN_CAPTIONS > 0


def test_folder_kinds(tmp_path: Path) -> None:
    classes = tmp_path / "classes"
    for label in ("cat", "dog"):
        (classes / label).mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(classes / label / "0.png")
    dataset = build_dataset(str(classes), 16, caption_template="a {label}")
    assert isinstance(dataset, ClassFolderDataset) and set(dataset.captions) == {"a cat", "a dog"}

    captioned = tmp_path / "captioned"
    (captioned / "nested").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(captioned / "nested" / "0.png")
    (captioned / "nested" / "0.txt").write_text("a black square")
    assert isinstance(build_dataset(str(captioned), 16), ImageFolderWithCaptions)  # a .txt: captions, not classes
    with pytest.raises(GigaGANError, match="only to class folders"):
        build_dataset(str(captioned), 16, caption_template="a {label}")


def test_manifests_and_shards(tmp_path: Path) -> None:
    Image.new("RGB", (8, 8)).save(tmp_path / "0.png")
    (tmp_path / "m.jsonl").write_text(json.dumps({"path": "0.png", "caption": "x"}))
    (tmp_path / "m.csv").write_text("path,caption\n0.png,x\n")
    assert isinstance(build_dataset(str(tmp_path / "m.jsonl"), 16), ManifestDataset)
    assert isinstance(build_dataset(str(tmp_path / "m.csv"), 16), ManifestDataset)
    pattern = write_shards(tmp_path / "shards")
    source = build_dataset(pattern, 16, seed=3, rank=1, world_size=2)
    assert isinstance(source, WebDatasetSource) and (source.seed, source.rank, source.world_size) == (3, 1, 2)
    assert isinstance(build_dataset(str(tmp_path / "shards" / "00000.tar"), 16), WebDatasetSource)
    folder = build_dataset(str(tmp_path / "shards"), 16)  # a folder of .tar files
    assert isinstance(folder, WebDatasetSource) and len(folder.urls) == 2
    assert isinstance(build_dataset(f"pipe:cat {tmp_path / 'shards' / '00000.tar'}", 16), WebDatasetSource)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty data spec"),
        ("nowhere/at/all", "data not found"),
        ("shapes:test", "unknown shapes split"),
        ("missing.jsonl", "manifest not found"),
        ("missing/{0..3}.tar", "no WebDataset shards"),
        ("notes.md", "unsupported data file"),
        ("empty_folder", "no image files"),
        ("useless_folder", "2 skipped"),
    ],
)
def test_bad_specs_are_one_line_errors(
    spec: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.md").write_text("hi")
    (tmp_path / "empty_folder").mkdir()
    (tmp_path / "useless_folder").mkdir()
    (tmp_path / "useless_folder" / "a.jpg").write_bytes(b"")
    (tmp_path / "useless_folder" / "b.jpg").write_bytes(b"junk")
    (tmp_path / "useless_folder" / "b.txt").write_text("junk")
    with pytest.raises(GigaGANError) as info:
        build_dataset(spec, 16)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_split_and_template_only_where_they_apply(tmp_path: Path) -> None:
    with pytest.raises(GigaGANError, match="only for the shapes"):
        build_dataset(str(tmp_path), 16, split="heldout")
    with pytest.raises(GigaGANError, match="only to class folders"):
        build_dataset("shapes", 16, caption_template="a {label}")
