"""Helpers shared by the benchmark workers (ours and the peer's).

This module must import nothing but the standard library and torch: the peer worker runs it in a
separate virtual environment that has no `gigagan` package.
"""

from __future__ import annotations

import json
import math
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

RESULT_MARKER = "BENCH_RESULT "

# Eight distinct captions; a batch of B uses the first B (cycled when B > 8).
PROMPTS = [
    "a red cube on a wooden table",
    "a photo of a small dog running on the beach",
    "an oil painting of a lighthouse at sunset",
    "a blue ceramic vase with yellow flowers",
    "a bowl of ramen with chopsticks, studio lighting",
    "a snowy mountain village at night",
    "a cube with the texture of crochet on a tabletop",
    "a watercolor of a fox in an autumn forest",
]


def prompts_for(batch: int) -> list[str]:
    """`batch` captions, cycling through PROMPTS."""
    return [PROMPTS[i % len(PROMPTS)] for i in range(batch)]


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def time_phases(step: Callable[[], dict[str, float]], warmup: int, iters: int) -> dict[str, Any]:
    """Run `step` warmup + iters times; `step` returns its own phase durations in seconds.

    Returns the median total and median of each phase over the timed iterations, with all raw times.
    """
    for _ in range(warmup):
        step()
    totals: list[float] = []
    phases: dict[str, list[float]] = {}
    for _ in range(iters):
        start = time.perf_counter()
        parts = step()
        totals.append(time.perf_counter() - start)
        for name, seconds in parts.items():
            phases.setdefault(name, []).append(seconds)
    return {
        "median_s": statistics.median(totals),
        "times_s": totals,
        "phases_median_s": {name: statistics.median(values) for name, values in phases.items()},
    }


def all_finite(values: list[float]) -> bool:
    """True when every loss value is a finite number."""
    return all(math.isfinite(v) for v in values)


def emit(result: dict[str, Any]) -> None:
    """Print the worker's result as one marked JSON line for the parent process to pick up."""
    sys.stdout.write(RESULT_MARKER + json.dumps(result) + "\n")
    sys.stdout.flush()


def write_result(path: Any, payload: dict[str, Any]) -> None:
    """Write a benchmark's JSON result (with the machine and torch version added) and say where."""
    import platform
    from pathlib import Path

    import torch

    payload = {
        **payload,
        "machine": {
            "processor": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(),
            **payload.get("machine", {}),
        },
        "torch": torch.__version__,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {path}")
