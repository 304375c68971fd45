"""Device names as the command line and the Python API take them: 'auto', 'cpu', 'cuda' or 'cuda:N'."""

from __future__ import annotations

import torch

from gigagan.errors import GigaGANError


def resolve_device(name: str | torch.device, local_rank: int = 0) -> torch.device:
    """'auto', 'cpu', 'cuda' or 'cuda:N' (or a torch.device) -> a usable device; a one-line GigaGANError
    for anything unavailable. A bare 'cuda' means the `local_rank`th GPU."""
    name = str(name)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise GigaGANError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from error
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise GigaGANError(f"device {name!r} requested but CUDA is not available on this machine")
        if device.index is None:
            device = torch.device("cuda", local_rank)
    elif device.type != "cpu":
        raise GigaGANError(f"unsupported device {name!r}; use auto, cpu, cuda or cuda:N")
    return device
