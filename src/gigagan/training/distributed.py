"""Multi-GPU and multi-node training through `torchrun`, and data-parallel training over a
machine's CPU cores through `run_local_ranks` (`gigagan train --processes N`).

Gradients are averaged across ranks with one flattened all-reduce per phase (the approach of
StyleGAN2-ADA): the phases toggle which network receives gradients, which DistributedDataParallel's
reducer does not allow. Every rank draws the same global random numbers and keeps its own slice, so
a run on N ranks follows the same trajectory as one process with the same global batch.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from gigagan.device import resolve_device
from gigagan.errors import GigaGANError


@dataclass
class DistributedContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = dataclasses.field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def local_slice(self, x: torch.Tensor) -> torch.Tensor:
        """This rank's rows of a global-batch tensor (interleaved: rank, rank + W, ...)."""
        return x[self.rank :: self.world_size]


def init_distributed(device_name: str = "auto") -> DistributedContext:
    """Join the process group that `torchrun` describes (RANK, WORLD_SIZE, LOCAL_RANK), if any."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_name, local_rank)
    if world_size > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, timeout=datetime.timedelta(minutes=30))
    return DistributedContext(rank=rank, world_size=world_size, local_rank=local_rank, device=device)


def all_reduce_gradients(module: nn.Module, context: DistributedContext) -> None:
    """Average the gradients of `module`'s trainable parameters over all ranks (one all-reduce)."""
    if not context.enabled:
        return
    params = [p for p in module.parameters() if p.requires_grad]
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.flatten() for g in grads])
    dist.all_reduce(flat)
    flat /= context.world_size
    offset = 0
    for param in params:
        count = param.numel()
        param.grad = flat[offset : offset + count].view_as(param).clone()
        offset += count


def broadcast_module(module: nn.Module, context: DistributedContext) -> None:
    """Copy rank 0's parameters and buffers to every rank."""
    if not context.enabled:
        return
    for tensor in [*module.parameters(), *module.buffers()]:
        dist.broadcast(tensor.data, src=0)


def all_reduce_flag(value: bool, context: DistributedContext) -> bool:
    """True on every rank if `value` is True on any rank."""
    if not context.enabled:
        return value
    flag = torch.tensor([1.0 if value else 0.0], device=context.device)  # NCCL needs a GPU tensor
    dist.all_reduce(flag)
    return bool(flag.item() > 0)


def gather_objects(value: Any, context: DistributedContext) -> list[Any]:
    """Every rank's `value` (picklable), in rank order, on every rank."""
    if not context.enabled:
        return [value]
    gathered: list[Any] = [None] * context.world_size
    dist.all_gather_object(gathered, value)
    return gathered


def barrier(context: DistributedContext) -> None:
    if context.enabled:
        dist.barrier()


def shutdown(context: DistributedContext) -> None:
    if context.enabled and dist.is_initialized():
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _local_rank_main(rank: int, world_size: int, port: int, threads: int, fn: Callable[..., Any], args: tuple) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world_size),
        OMP_NUM_THREADS=str(threads),
    )
    torch.set_num_threads(threads)
    fn(*args)


def run_local_ranks(processes: int, device: str, batch_size: int, fn: Callable[..., Any], *args: Any) -> None:
    """Run `fn(*args)` in this process (`processes` = 1), or in `processes` CPU processes on this
    machine as the ranks of one gloo process group (what `torchrun --standalone` would set up;
    `init_distributed` joins it), sharing the machine's threads between them. On CPUs with few cores,
    small models train faster this way than one process on every thread: each rank's operators are
    too small to use more than one core well. A rank's error is raised here as a one-line GigaGANError."""
    import torch.multiprocessing as mp

    if processes < 1:
        raise GigaGANError(f"--processes must be at least 1, got {processes}")
    if batch_size % processes:
        raise GigaGANError(f"batch size {batch_size} is not divisible by --processes {processes}")
    if processes == 1:
        fn(*args)
        return
    if resolve_device(device).type != "cpu":
        raise GigaGANError("--processes runs CPU ranks; for several GPUs launch with torchrun (see --help)")
    if "WORLD_SIZE" in os.environ:
        raise GigaGANError("--processes starts its own ranks: do not combine it with torchrun")
    threads = max(1, torch.get_num_threads() // processes)
    try:
        mp.start_processes(
            _local_rank_main,
            args=(processes, _free_port(), threads, fn, args),
            nprocs=processes,
            start_method="spawn",
        )
    except mp.ProcessRaisedException as error:
        lines = [line for line in str(error).strip().splitlines() if line.strip()]
        message = lines[-1].split(": ", 1)[-1] if lines else "a training process failed"
        raise GigaGANError(message) from None
    except mp.ProcessExitedException as error:
        raise GigaGANError(f"a training process exited unexpectedly ({error})") from None
