"""A tiny saved generator and a pipeline over it, shared by the inference tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from gigagan import get_preset
from gigagan.inference import GigaGANPipeline
from gigagan.models import Generator

PROMPTS = (
    "a large red circle in the center on a blue background",
    "a small green cross at the top left on a white background",
    "a large yellow square at the bottom right on a purple background",
)


@pytest.fixture(scope="session")
def prompts() -> tuple[str, ...]:
    return PROMPTS


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `save_pretrained` folder of a randomly initialised tiny generator (non-zero noise strengths)."""
    torch.manual_seed(1)
    generator = Generator(get_preset("tiny").generator)
    with torch.no_grad():
        for name, parameter in generator.named_parameters():
            if name.endswith("noise_strength"):
                parameter.fill_(0.1)
    directory = tmp_path_factory.mktemp("tiny-model")
    generator.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def pipe(checkpoint: Path) -> GigaGANPipeline:
    return GigaGANPipeline.from_pretrained(checkpoint, device="cpu")
