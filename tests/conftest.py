"""Shared fixtures: tiny configs, fixed seeds, no network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never touch the network

from gigagan import get_preset
from gigagan.config import ModelConfig

# Tests use tiny networks, for which one thread is fastest, and some start subprocesses that
# would otherwise compete for the same two cores.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def upsampler_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `save_pretrained` folder of a randomly initialised tiny upsampler (4x)."""
    from gigagan.config.upsampler import get_upsampler_preset
    from gigagan.models.upsampler import Upsampler

    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("upsampler")
    Upsampler(get_upsampler_preset("upsampler-tiny").upsampler).save_pretrained(directory)
    return directory


@pytest.fixture
def tiny() -> ModelConfig:
    return get_preset("tiny")


@pytest.fixture
def tiny64() -> ModelConfig:
    """The tiny preset grown to 64px: five pyramid levels, 15 discriminator predictions."""
    config = get_preset("tiny")
    for network in (config.generator, config.discriminator):
        network.resolution = 64
        network.channels = [*network.channels, 16]
        network.blocks = [*network.blocks, 1]
        network.attention = [*network.attention, False]
    config.generator.kernels = [*config.generator.kernels, 2]
    return config


@pytest.fixture
def open_attention_branches():
    """A function that gives the zero-initialised last layers of every generator attention block
    small random weights: blocks start as the identity, so nothing behind those layers gets a
    gradient at initialisation (for tests that check every parameter is reached)."""
    from gigagan.models.generator import AttentionBlock

    def open_branches(model: torch.nn.Module) -> None:
        with torch.no_grad():
            for module in model.modules():
                if isinstance(module, AttentionBlock):
                    for layer in module.branch_outputs():
                        layer.weight.normal_(0.0, 0.1)

    return open_branches
