"""Run logs: JSON lines (one object per logged step) and TensorBoard scalars and images."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)


class RunLogger:
    """Writes `DIR/log.jsonl` and TensorBoard events under `DIR/tensorboard` (rank 0 only)."""

    def __init__(self, run_dir: Path, enabled: bool = True) -> None:
        self.enabled = enabled
        self.jsonl = None
        self.tensorboard = None
        if not enabled:
            return
        run_dir.mkdir(parents=True, exist_ok=True)
        self.jsonl = (run_dir / "log.jsonl").open("a", buffering=1)
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tensorboard = SummaryWriter(str(run_dir / "tensorboard"))
        except ImportError:  # tensorboard is optional at run time
            log.warning("tensorboard is not installed; logging to log.jsonl only")

    def scalars(self, step: int, values: dict[str, Any]) -> None:
        if not self.enabled:
            return
        assert self.jsonl is not None
        self.jsonl.write(json.dumps({"step": step, **values}) + "\n")
        if self.tensorboard is not None:
            for key, value in values.items():
                if isinstance(value, (int, float)):
                    self.tensorboard.add_scalar(key, value, step)

    def event(self, step: int, kind: str, message: str) -> None:
        """A non-scalar event (skipped step, notice) in the JSONL log."""
        if self.enabled and self.jsonl is not None:
            self.jsonl.write(json.dumps({"step": step, "event": kind, "message": message}) + "\n")

    def image(self, step: int, tag: str, grid: torch.Tensor) -> None:
        if self.enabled and self.tensorboard is not None:
            self.tensorboard.add_image(tag, grid, step)

    def close(self) -> None:
        if self.jsonl is not None:
            self.jsonl.close()
        if self.tensorboard is not None:
            self.tensorboard.close()
