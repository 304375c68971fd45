"""Picture decoding: every PIL mode to 8-bit RGB, EXIF orientation, square crop, [-1, 1] tensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from data_files import gradient16
from PIL import Image

from gigagan.data.images import SkipLog, check_image, load_image, square_resize, to_rgb


def rgb_array(image: Image.Image) -> np.ndarray:
    return np.asarray(to_rgb(image)).astype(int)


def test_16_bit_grey_is_rescaled_not_clipped(tmp_path: Path) -> None:
    Image.fromarray(gradient16()).save(tmp_path / "deep.png")
    with Image.open(tmp_path / "deep.png") as image:
        assert image.mode.startswith("I;16")
        rgb = rgb_array(image)
    assert rgb[:, 0].max() == 0 and rgb[:, -1].min() == 255
    expected = np.rint(gradient16()[0] / 257)
    assert np.abs(rgb[0, :, 0] - expected).max() <= 1
    assert 110 < rgb.mean() < 145  # a ramp averages mid-grey; clipping would give ~250
    tensor = load_image(tmp_path / "deep.png", 16)
    columns = tensor[0, 0]  # the centre crop keeps the middle two thirds of the ramp
    assert -0.1 < tensor.mean() < 0.1 and columns[0] < -0.5 and columns[-1] > 0.5
    assert bool((columns.diff() > 0).all())


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (np.array([[0, 128, 255]], dtype=np.int32), [0, 128, 255]),  # 8-bit range held in mode I
        (np.array([[0, 32768, 65535]], dtype=np.int32), [0, 128, 255]),  # 16-bit range held in mode I
        (np.array([[0.0, 0.5, 1.0]], dtype=np.float32), [0, 128, 255]),  # floats in [0, 1]
    ],
)
def test_wide_modes_use_their_white_level(values: np.ndarray, expected: list[int]) -> None:
    image = Image.fromarray(values, "F" if values.dtype.kind == "f" else "I")
    assert rgb_array(image)[0, :, 0].tolist() == expected


def test_transparency_is_composited_on_white() -> None:
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[:, 2:] = (255, 0, 0, 255)
    rgba[0, 0] = (0, 0, 255, 128)  # half-transparent blue over white
    rgb = rgb_array(Image.fromarray(rgba, "RGBA"))
    assert rgb[1, 0].tolist() == [255, 255, 255] and rgb[1, 3].tolist() == [255, 0, 0]
    assert rgb[0, 0, 2] == 255 and 120 <= rgb[0, 0, 0] <= 135
    assert rgb_array(Image.new("LA", (2, 2), (0, 0)))[0, 0].tolist() == [255, 255, 255]


def test_palette_with_transparency_and_cmyk_and_grey() -> None:
    palette = Image.new("P", (2, 1), 0)
    palette.putpalette([0, 0, 255, 0, 255, 0] + [0] * 762)
    palette.putpixel((1, 0), 1)
    palette.info["transparency"] = 0
    assert rgb_array(palette)[0].tolist() == [[255, 255, 255], [0, 255, 0]]
    assert rgb_array(Image.new("CMYK", (1, 1), (0, 255, 255, 0)))[0, 0].tolist() == [255, 0, 0]
    assert rgb_array(Image.new("L", (1, 1), 77))[0, 0].tolist() == [77, 77, 77]
    assert rgb_array(Image.new("1", (1, 1), 1))[0, 0].tolist() == [255, 255, 255]


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    pixels = np.zeros((20, 40, 3), dtype=np.uint8)
    pixels[:, :20] = (255, 0, 0)  # red left, blue right
    pixels[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 3  # rotated 180 degrees: displayed blue left, red right
    Image.fromarray(pixels).save(tmp_path / "turned.jpg", exif=exif, quality=95)
    tensor = load_image(tmp_path / "turned.jpg", 20)
    assert tensor[2, :, :5].mean() > 0.8 and tensor[0, :, :5].mean() < -0.8  # blue on the left
    assert tensor[0, :, -5:].mean() > 0.8


def test_square_crop_keeps_the_centre_and_resizes() -> None:
    pixels = np.zeros((10, 30, 3), dtype=np.uint8)
    pixels[:, 10:20] = 255  # only the middle third is white
    assert np.asarray(square_resize(Image.fromarray(pixels), 10)).min() == 255
    big = square_resize(Image.fromarray(np.full((300, 200, 3), 9, dtype=np.uint8)), 32)
    assert big.size == (32, 32) and np.asarray(big).max() == 9


def test_load_image_bytes_shape_and_range(tmp_path: Path) -> None:
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (50, 70, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    tensor = load_image((tmp_path / "a.png").read_bytes(), 32)
    assert tensor.shape == (3, 32, 32) and tensor.dtype == torch.float32
    assert tensor.min() >= -1 and tensor.max() <= 1 and tensor.std() > 0.1


def test_check_image_reasons(messy_folder: Path) -> None:
    assert check_image(messy_folder / "rgb.jpg", full=True) is None
    assert check_image(messy_folder / "corrupt.jpg", full=False) == "unreadable image"
    assert check_image(messy_folder / "empty.jpg", full=False) == "empty file"
    assert check_image(messy_folder / "nope.jpg", full=False) == "missing file"
    assert check_image(messy_folder / "trunc.jpg", full=False) is None  # the header is intact
    assert check_image(messy_folder / "trunc.jpg", full=True) == "decode error"


def test_skip_log_counts_each_item_once() -> None:
    log = SkipLog()
    assert log.add("a.jpg", "decode error") and not log.add("a.jpg", "decode error")
    log.add("b.jpg", "empty file")
    assert log.counts == {"decode error": 1, "empty file": 1}
    assert log.examples == ["a.jpg: decode error", "b.jpg: empty file"] and "a.jpg" in log
    assert log.drain() == [("a.jpg", "decode error"), ("b.jpg", "empty file")] and log.drain() == []
    assert log.summary() == "2 skipped (1 decode error, 1 empty file)"
