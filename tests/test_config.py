"""Configs and presets: JSON round trip, validation, paper-scale parameter counts."""

from __future__ import annotations

import json

import pytest

from gigagan import GigaGANError, ModelConfig, get_preset, list_presets
from gigagan.config import config_from_dict, config_to_dict, config_to_json
from gigagan.models.summary import summarize


@pytest.mark.parametrize("name", list(list_presets()))
def test_every_preset_round_trips_through_json(name: str) -> None:
    config = get_preset(name)
    restored = config_from_dict(ModelConfig, json.loads(config_to_json(config)))
    assert restored == config
    assert config_to_dict(restored) == config_to_dict(config)


def test_unknown_preset_and_bad_levels_are_refused() -> None:
    with pytest.raises(GigaGANError, match="unknown preset"):
        get_preset("huge")
    config = get_preset("tiny")
    config.generator.channels = [32, 32]
    with pytest.raises(GigaGANError, match="channels needs 4 entries"):
        config.validate()
    config = get_preset("tiny")
    config.generator.resolution = 48
    with pytest.raises(GigaGANError, match="power of two"):
        config.generator.validate()


def within(value: int, target: float, tolerance: float = 0.05) -> bool:
    return abs(value - target) <= tolerance * target


def test_giga_matches_the_paper_sizes() -> None:
    summary = summarize(get_preset("giga"))
    assert within(summary.generator_params, 652.5e6), summary.generator_params
    assert within(summary.discriminator_params, 381.4e6), summary.discriminator_params
    assert summary.resolution == 64 and summary.num_predictions == 15
    assert summary.frozen_clip_params > 100e6  # ViT-L/14 text + ViT-B/32 image towers, not counted


def test_base_is_the_deeper_ablation_size() -> None:
    assert within(summarize(get_preset("base")).generator_params, 161.9e6)


def test_giga_uses_the_clip_vit_l14_text_tower_penultimate_layer() -> None:
    text = get_preset("giga").generator.text
    assert text.clip.model_name == "ViT-L-14" and text.clip_layer == -2
