"""Two processes under torchrun (gloo, CPU) stay in sync and follow a one-process run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

WORKER = Path(__file__).with_name("ddp_worker.py")


def test_two_ranks_stay_in_sync_and_match_one_process(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        "29533",
        str(WORKER),
        str(tmp_path / "two"),
        "4",
        "8",
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    single = subprocess.run(
        [sys.executable, str(WORKER), str(tmp_path / "one"), "4", "8"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert single.returncode == 0, single.stderr[-3000:]
    for name in ("generator", "discriminator"):
        rank0 = load_file(tmp_path / "two" / f"{name}-rank0.safetensors")
        rank1 = load_file(tmp_path / "two" / f"{name}-rank1.safetensors")
        one = load_file(tmp_path / "one" / f"{name}-rank0.safetensors")
        assert all(torch.equal(rank0[k], rank1[k]) for k in rank0), f"{name} replicas diverged"
        moved = [k for k in one if not torch.equal(one[k], rank0[k])]
        for key in one:
            torch.testing.assert_close(rank0[key], one[key], rtol=1e-3, atol=2e-3, msg=f"{name}.{key}")
        assert len(one) > 0 and len(moved) <= len(one)
    assert (tmp_path / "two" / "latest").exists() and not (tmp_path / "two" / "rank1").exists()
