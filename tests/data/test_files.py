"""File sources: captioned folders, class folders, JSONL/CSV manifests, skip-and-count of bad files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from data_files import BAD, GOOD
from PIL import Image

from gigagan.data import ClassFolderDataset, ImageFolderWithCaptions, ManifestDataset
from gigagan.errors import GigaGANError


def check_items(dataset: torch.utils.data.Dataset, resolution: int) -> list[str]:
    captions = []
    for index in range(len(dataset)):  # type: ignore[arg-type]
        item = dataset[index]
        assert item["image"].shape == (3, resolution, resolution) and item["image"].dtype == torch.float32
        assert item["image"].min() >= -1 and item["image"].max() <= 1
        captions.append(item["caption"])
    return captions


def test_captioned_folder_loads_the_valid_and_counts_the_rest(messy_folder: Path) -> None:
    dataset = ImageFolderWithCaptions(messy_folder, 24)
    assert len(dataset) == len(GOOD)  # trunc.jpg passes the header scan
    assert dataset.skipped == {reason: 1 for reason in BAD.values()}
    assert len(dataset.skipped_examples) == len(BAD) and all(": " in line for line in dataset.skipped_examples)
    assert "a picture called nested" in dataset.captions  # found recursively
    captions = check_items(dataset, 24)
    # trunc.jpg fails only when decoded: its index falls back to the next item and is counted
    assert dataset.skipped["decode error"] == 1 and "a picture called trunc" not in captions
    trunc = dataset.captions.index("a picture called trunc")
    assert captions[trunc] == dataset.captions[(trunc + 1) % len(dataset)]
    assert torch.equal(dataset[trunc]["image"], dataset[(trunc + 1) % len(dataset)]["image"])


def test_full_scan_drops_undecodable_files_up_front(messy_folder: Path) -> None:
    dataset = ImageFolderWithCaptions(messy_folder, 16, scan="full")
    assert len(dataset) == len(GOOD) - 1 and dataset.skipped["decode error"] == 1
    unscanned = ImageFolderWithCaptions(messy_folder, 16, scan="none")
    assert len(unscanned) == len(GOOD) + 1  # corrupt.jpg is only caught when loaded
    assert unscanned.skipped == {"empty file": 1, "missing caption": 1, "empty caption": 1}


def test_decoded_pictures_have_the_right_colours(messy_folder: Path) -> None:
    dataset = ImageFolderWithCaptions(messy_folder, 16)
    by_caption = {dataset.captions[i]: dataset[i]["image"] for i in range(len(dataset))}
    red = torch.tensor([1.0, -1.0, -1.0])
    assert torch.allclose(by_caption["a picture called cmyk"].mean((1, 2)), red, atol=0.1)
    rgba = by_caption["a picture called rgba"]
    assert torch.allclose(rgba[:, :, 0], torch.ones(3, 16), atol=0.02)  # transparent -> white
    assert torch.allclose(rgba[:, :, -1].mean(1), red, atol=0.02)
    palette = by_caption["a picture called palette"]
    assert torch.allclose(palette[:, :, 0].mean(1), torch.tensor([-1.0, 1.0, -1.0]), atol=0.02)
    assert torch.allclose(palette[:, :, -1], torch.ones(3, 16), atol=0.02)
    gray = by_caption["a picture called gray"]
    assert torch.allclose(gray, torch.full_like(gray, 100 / 127.5 - 1), atol=0.01)
    deep = by_caption["a picture called deep16"]
    assert deep[0, 0, 0] < -0.5 and deep[0, 0, -1] > 0.5 and deep.mean().abs() < 0.1


def test_folder_without_usable_images_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"")
    (tmp_path / "b.png").write_bytes(b"not a png")
    (tmp_path / "b.txt").write_text("caption")
    with pytest.raises(GigaGANError) as info:
        ImageFolderWithCaptions(tmp_path, 16)
    message = str(info.value)
    assert "\n" not in message and "2 skipped" in message and "1 missing caption" in message
    (tmp_path / "empty").mkdir()
    with pytest.raises(GigaGANError, match="no image files"):
        ImageFolderWithCaptions(tmp_path / "empty", 16)
    with pytest.raises(GigaGANError, match="not found"):
        ImageFolderWithCaptions(tmp_path / "missing", 16)


def write_classes(root: Path) -> None:
    for folder, count in (("golden_retriever", 3), ("tabby-cat", 2), ("empty_class", 0)):
        (root / folder).mkdir(parents=True)
        for i in range(count):
            Image.new("RGB", (20, 30), (i * 40, 100, 200)).save(root / folder / f"{i}.png")
    (root / "tabby-cat" / "broken.jpg").write_bytes(b"\xff\xd8 nonsense")


def test_class_folders_caption_with_the_template(tmp_path: Path) -> None:
    write_classes(tmp_path)
    dataset = ClassFolderDataset(tmp_path, 16)
    assert dataset.classes == ["golden retriever", "tabby cat"] and len(dataset) == 5
    assert dataset.skipped == {"unreadable image": 1}
    captions = check_items(dataset, 16)
    assert captions.count("a photo of a golden retriever") == 3 and captions.count("a photo of a tabby cat") == 2
    custom = ClassFolderDataset(tmp_path, 16, template="{label}, a pet")
    assert set(custom.captions) == {"golden retriever, a pet", "tabby cat, a pet"}
    with pytest.raises(GigaGANError, match="label"):
        ClassFolderDataset(tmp_path, 16, template="a photo")


def write_manifest_images(root: Path) -> None:
    (root / "img").mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.full((20, 20, 3), 60 * i, dtype=np.uint8)).save(root / "img" / f"{i}.png")


def test_jsonl_manifest_accepts_key_variants_and_skips_bad_rows(tmp_path: Path) -> None:
    write_manifest_images(tmp_path)
    rows = [
        {"path": "img/0.png", "caption": "zero"},
        {"image": str(tmp_path / "img" / "1.png"), "text": "one"},  # absolute path, other keys
        {"file": "img/2.png", "caption": ["two", "deux"]},  # several captions: the first
        {"path": "img/missing.png", "caption": "gone"},
        {"path": "img/0.png"},
        {"caption": "no path"},
    ]
    lines = [json.dumps(row) for row in rows] + ["{not json", "", "[1, 2]"]
    (tmp_path / "data.jsonl").write_text("\n".join(lines))
    dataset = ManifestDataset(tmp_path / "data.jsonl", 16)
    assert check_items(dataset, 16) == ["zero", "one", "two"]
    assert dataset.skipped == {"missing file": 1, "missing caption": 1, "bad manifest row": 3}


def test_csv_manifest(tmp_path: Path) -> None:
    write_manifest_images(tmp_path)
    with (tmp_path / "data.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["Image", "Caption", "extra"])
        writer.writerows([["img/0.png", "zero, with a comma", "x"], ["img/1.png", "", "x"], ["img/2.png", "two", "x"]])
    dataset = ManifestDataset(tmp_path / "data.csv", 16)
    assert check_items(dataset, 16) == ["zero, with a comma", "two"]
    assert dataset.skipped == {"empty caption": 1}
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(GigaGANError, match="header"):
        ManifestDataset(tmp_path / "bad.csv", 16)
