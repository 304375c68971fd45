"""Fixtures for the metric tests: a cheap stand-in for the Inception network and small image folders."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from metric_files import write_pictures
from torch import Tensor, nn


class PoolingFeatures(nn.Module):
    """[N, 3, 299, 299] -> [N, 48]: pooled pixels and their squares, a fast TorchScript with Inception's
    contract except for the width (2048-d statistics cost seconds per FID on one core)."""

    def forward(self, x: Tensor) -> Tensor:
        pooled = nn.functional.adaptive_avg_pool2d(x, (4, 2)).flatten(1)  # 24 values
        return torch.cat([pooled, pooled.square()], dim=1)


@pytest.fixture(scope="session")
def stand_in_inception(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("inception") / "pooling.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated, still the file format
        torch.jit.save(torch.jit.script(PoolingFeatures()), str(path))
    return path


@pytest.fixture
def picture_folders(tmp_path: Path) -> tuple[Path, Path]:
    """(real, fake): 12 pictures each, different noise."""
    return write_pictures(tmp_path / "real", 12, seed=1), write_pictures(tmp_path / "fake", 12, seed=2, captions=True)
