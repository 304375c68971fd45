"""Two processes under torchrun (gloo, CPU) stay in sync and follow a one-process run."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

WORKER = Path(__file__).with_name("ddp_worker.py")


def free_port() -> int:
    """A TCP port that nothing listens on now: the one the OS picks for a socket bound to port 0."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_two_ranks(out: Path, *worker_args: str, timeout: float = 600) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    command += ["--master_addr", "127.0.0.1", "--master_port", str(free_port())]
    result = subprocess.run(
        [*command, str(WORKER), str(out), *worker_args], env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_two_ranks_stay_in_sync_and_match_one_process(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run_two_ranks(tmp_path / "two", "4", "8")
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
        init = load_file(tmp_path / "one" / f"{name}-init.safetensors")
        assert all(torch.equal(rank0[k], rank1[k]) for k in rank0), f"{name} replicas diverged"
        # Same trajectory up to float reduction order, which Adam's first steps can amplify on
        # elements with near-zero gradients: the gap must be tiny next to how far training moved.
        moved = sum((one[k].double() - init[k].double()).abs().sum() for k in one)
        gap = sum((rank0[k].double() - one[k].double()).abs().sum() for k in one)
        assert moved > 0
        assert gap < 0.02 * moved, f"{name}: 2-rank vs 1-process gap {gap:.4g} vs movement {moved:.4g}"
        for key in one:  # no element strays by more than one step of Adam at this learning rate
            assert (rank0[key] - one[key]).abs().max() <= 0.0025 * 2, f"{name}.{key}"
    assert (tmp_path / "two" / "latest").exists() and not (tmp_path / "two" / "rank1").exists()


def test_ranks_stop_together_at_the_time_cap(tmp_path: Path) -> None:
    """Each rank has its own clock (here rank 1 starts a second late): the time cap must stop every
    rank at the same step, or the first to stop leaves the others waiting in a collective."""
    run_two_ranks(tmp_path, "1000000", "8", "0.04", timeout=240)
    for name in ("generator", "discriminator"):
        rank0 = load_file(tmp_path / f"{name}-rank0.safetensors")
        rank1 = load_file(tmp_path / f"{name}-rank1.safetensors")
        assert all(torch.equal(rank0[k], rank1[k]) for k in rank0), f"{name} replicas diverged"
    assert (tmp_path / "latest").exists()


def test_torchrun_trains_through_the_cli(tmp_path: Path) -> None:
    """`torchrun -m gigagan.cli train`: two gloo ranks share the global batch, rank 0 writes the run and
    reports the data items skipped on either rank, each once."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "data"))
    from data_files import BAD, GOOD, write_messy_folder

    folder = write_messy_folder(tmp_path / "messy")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    command += ["--master_addr", "127.0.0.1", "--master_port", str(free_port()), "-m", "gigagan.cli", "train"]
    command += ["--preset", "tiny", "--data", str(folder), "--max-steps", "4", "--batch-size", "4"]
    command += ["--sample-every", "0", "--checkpoint-every", "2", "--device", "cpu", "--out", str(tmp_path / "run")]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # every rank scans the folder (the BAD files, counted once) and the ranks' shares of two epochs
    # cover every picture, so the one that fails to decode (trunc.jpg) is met on some rank
    assert len(GOOD) == 8 and "trunc.jpg" in GOOD
    assert f"0 non-finite steps skipped; {len(BAD) + 1} unreadable data items skipped" in result.stdout
    state = json.loads((tmp_path / "run" / "checkpoints" / "step-00000002" / "training_state.json").read_text())
    assert state["step"] == 2 and state["images_seen"] == 8  # 2 steps of the global batch of 4
    assert state["data"]["world_size"] == 2 and state["data"]["batch_size"] == 2  # 2 per rank
    assert (tmp_path / "run" / "latest").exists()
    assert sorted(path.name for path in (tmp_path / "run").iterdir()) == sorted(
        path.name for path in (tmp_path / "run").iterdir() if not path.name.startswith("rank")
    )
