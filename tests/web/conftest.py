"""Fixtures of the web studio tests: a tiny saved generator (the tiny upsampler is tests/conftest.py's), an
in-process `Studio` over them, and one `gigagan serve` child process (127.0.0.1, a free port) shared by the
API, load and browser tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from studio_helpers import SERVER_MAX_QUEUE

from gigagan import get_preset
from gigagan.inference import GigaGANPipeline
from gigagan.inference.upsample import UpsamplerPipeline
from gigagan.models import Generator
from gigagan.web.process import ServerProcess, start_server
from gigagan.web.service import Studio


@pytest.fixture(scope="session")
def generator_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `save_pretrained` folder of a randomly initialised tiny generator (32 px, 4 levels)."""
    torch.manual_seed(1)
    generator = Generator(get_preset("tiny").generator)
    directory = tmp_path_factory.mktemp("tiny-generator")
    generator.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def studio(generator_dir: Path, upsampler_dir: Path) -> Iterator[Studio]:
    pipe = GigaGANPipeline.from_pretrained(generator_dir, device="cpu")
    upsampler = UpsamplerPipeline.from_pretrained(upsampler_dir, device="cpu")
    studio = Studio(pipe, upsampler, max_queue=2)
    yield studio
    studio.close()


@pytest.fixture(scope="session")
def server(
    generator_dir: Path, upsampler_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """`gigagan serve` on the tiny models, CPU, one thread, --max-queue 4."""
    log = tmp_path_factory.mktemp("server") / "serve.log"
    extra = ["--upsampler", str(upsampler_dir), "--device", "cpu", "--max-queue", str(SERVER_MAX_QUEUE)]
    process = start_server(generator_dir, log, *extra, env={"OMP_NUM_THREADS": "1"})
    yield process
    process.stop()


@pytest.fixture(scope="session")
def client(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A gradio_client for the served studio; its downloads go to a test folder (not gradio's /tmp/gradio)."""
    from gradio_client import Client

    return Client(server.url, verbose=False, max_workers=64, download_files=tmp_path_factory.mktemp("downloads"))
