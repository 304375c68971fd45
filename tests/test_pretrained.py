"""Checkpoint format: config.json + safetensors, bit-identical round trip, clear refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from gigagan import GigaGANError
from gigagan.config import ModelConfig
from gigagan.models import Discriminator, Generator
from gigagan.nn import image_pyramid


def test_generator_round_trip_is_bit_identical(tiny: ModelConfig, tmp_path: Path) -> None:
    generator = Generator(tiny.generator).eval()
    with torch.no_grad():  # move every parameter off its initial value
        for parameter in generator.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.01)
    generator.save_pretrained(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "generator.safetensors"]
    assert not any(p.suffix in {".pt", ".pth", ".bin", ".pkl"} for p in tmp_path.iterdir())
    loaded = Generator.from_pretrained(tmp_path)
    for (name, a), (_, b) in zip(generator.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    z, ids = torch.randn(2, tiny.generator.z_dim), generator.tokenize(["a red circle", "a cube"])
    for a, b in zip(generator(z, ids, noise_mode="const"), loaded(z, ids, noise_mode="const")):
        assert torch.equal(a, b)


def test_discriminator_round_trip_is_bit_identical(tiny: ModelConfig, tmp_path: Path) -> None:
    generator = Generator(tiny.generator)
    discriminator = Discriminator(tiny.discriminator).eval()
    discriminator.save_pretrained(tmp_path)
    generator.save_pretrained(tmp_path)  # both share one config.json
    config = json.loads((tmp_path / "config.json").read_text())
    assert {"generator", "discriminator", "format_version"} <= set(config)
    loaded = Discriminator.from_pretrained(tmp_path)
    features = generator.text_encoder.clip(generator.tokenize(["a red circle"]))
    pyramid = image_pyramid(torch.rand(1, 3, 32, 32), discriminator.num_levels)
    a, b = discriminator(pyramid, features), loaded(pyramid, features)
    for x, y in zip(a.multiscale + a.vision, b.multiscale + b.vision):
        assert torch.equal(x, y)


def test_ema_weights_are_preferred(tiny: ModelConfig, tmp_path: Path) -> None:
    generator = Generator(tiny.generator)
    generator.save_pretrained(tmp_path)
    ema = Generator(tiny.generator)
    ema.save_pretrained(tmp_path, weights_name="generator_ema.safetensors")
    loaded = Generator.from_pretrained(tmp_path)
    assert torch.equal(loaded.synthesis.const, ema.synthesis.const)
    raw = Generator.from_pretrained(tmp_path, weights_name="generator.safetensors")
    assert torch.equal(raw.synthesis.const, generator.synthesis.const)


def one_line_error(call) -> str:
    with pytest.raises(GigaGANError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    return message


def test_missing_directory_config_and_weights_are_refused(tiny: ModelConfig, tmp_path: Path) -> None:
    assert "not found" in one_line_error(lambda: Generator.from_pretrained(tmp_path / "nowhere"))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "config.json" in one_line_error(lambda: Generator.from_pretrained(empty))
    Generator(tiny.generator).save_pretrained(tmp_path / "model")
    (tmp_path / "model" / "generator.safetensors").unlink()
    assert "generator.safetensors" in one_line_error(lambda: Generator.from_pretrained(tmp_path / "model"))


def test_truncated_weights_are_refused(tiny: ModelConfig, tmp_path: Path) -> None:
    path = Generator(tiny.generator).save_pretrained(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    message = one_line_error(lambda: Generator.from_pretrained(tmp_path))
    assert "generator.safetensors" in message and "corrupt or truncated" in message


def test_mismatched_weights_are_refused(tiny: ModelConfig, tmp_path: Path) -> None:
    Generator(tiny.generator).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["generator"]["channels"][0] = 48
    (tmp_path / "config.json").write_text(json.dumps(config))
    message = one_line_error(lambda: Generator.from_pretrained(tmp_path))
    assert "generator.safetensors" in message and "does not match" in message


def test_corrupt_config_is_refused(tiny: ModelConfig, tmp_path: Path) -> None:
    Generator(tiny.generator).save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    assert "config.json" in one_line_error(lambda: Generator.from_pretrained(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"generator": {"bogus_field": 1}}))
    assert "bogus_field" in one_line_error(lambda: Generator.from_pretrained(tmp_path))


def test_a_file_path_is_refused_with_a_hint(tiny: ModelConfig, tmp_path: Path) -> None:
    path = Generator(tiny.generator).save_pretrained(tmp_path)
    assert "directory" in one_line_error(lambda: Generator.from_pretrained(path))


def test_saving_leaves_no_temporary_files(tiny: ModelConfig, tmp_path: Path) -> None:
    Generator(tiny.generator).save_pretrained(tmp_path)
    Generator(tiny.generator).save_pretrained(tmp_path)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
