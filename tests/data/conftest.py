"""Fixtures for the data tests: a folder of pictures in awkward formats, written with PIL."""

from __future__ import annotations

from pathlib import Path

import pytest
from data_files import write_messy_folder


@pytest.fixture
def messy_folder(tmp_path: Path) -> Path:
    return write_messy_folder(tmp_path / "messy")
