"""Fixtures of the upsampler tests."""

from __future__ import annotations

import pytest

from gigagan.config.upsampler import UpsamplerModelConfig, get_upsampler_preset


@pytest.fixture
def tiny_pair() -> UpsamplerModelConfig:
    return get_upsampler_preset("upsampler-tiny")
