"""Upsampler presets: they build, and the paper-scale ones match the published sizes (meta device)."""

from __future__ import annotations

import pytest
import torch

from gigagan import GigaGANError
from gigagan.config.upsampler import get_upsampler_preset, list_upsampler_presets
from gigagan.models.summary import count_parameters
from gigagan.models.upsampler import Upsampler, UpsamplerDiscriminator


def _meta_counts(name: str) -> tuple[int, int, int]:
    """(trainable upsampler, frozen CLIP, trainable discriminator) parameters."""
    config = get_upsampler_preset(name)
    with torch.device("meta"):
        upsampler = Upsampler(config.upsampler)
        discriminator = UpsamplerDiscriminator(config.discriminator)
    trainable = count_parameters(upsampler)
    return trainable, count_parameters(upsampler, trainable_only=False) - trainable, count_parameters(discriminator)


@pytest.mark.parametrize(("name", "paper_millions"), [("upsampler-64to256", 359.1), ("upsampler-128to1024", 693.0)])
def test_paper_presets_match_the_published_sizes(name: str, paper_millions: float) -> None:
    """Trainable parameters, the frozen CLIP ViT-L/14 text tower (123.7M) not counted."""
    trainable, frozen, discriminator = _meta_counts(name)
    assert abs(trainable / 1e6 - paper_millions) / paper_millions < 0.05, trainable
    assert 123e6 < frozen < 124.5e6
    assert discriminator > 0


def test_every_preset_builds_with_consistent_shapes() -> None:
    assert set(list_upsampler_presets()) == {
        "upsampler-tiny",
        "upsampler-64to256",
        "upsampler-64to512",
        "upsampler-128to1024",
    }
    scales = {"upsampler-tiny": (16, 64), "upsampler-64to256": (64, 256), "upsampler-64to512": (64, 512)}
    scales["upsampler-128to1024"] = (128, 1024)
    for name, (low, high) in scales.items():
        config = get_upsampler_preset(name)
        assert (config.upsampler.input_resolution, config.upsampler.output_resolution) == (low, high)
        assert config.discriminator.resolution == high
    trainable, _, _ = _meta_counts("upsampler-tiny")
    assert trainable < 200_000
    # the same network one octave lower has the same parameters
    assert _meta_counts("upsampler-64to512")[0] == _meta_counts("upsampler-128to1024")[0]
    with pytest.raises(GigaGANError, match="unknown upsampler preset"):
        get_upsampler_preset("upsampler-huge")


def test_presets_are_fresh_copies() -> None:
    first = get_upsampler_preset("upsampler-tiny")
    first.upsampler.channels[0] = 999
    assert get_upsampler_preset("upsampler-tiny").upsampler.channels[0] != 999
