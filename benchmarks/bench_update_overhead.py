"""Time the per-step parameter updates of a preset's G and D on this machine: AdamW with its
per-parameter loop against the fused kernel, and the EMA of G as one lerp per tensor against one
foreach call. Prints a table (ms per call) and optionally writes JSON.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_update_overhead.py --preset quickstart
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import torch

from gigagan.config import get_preset
from gigagan.models import Discriminator, Generator


def _time(fn: Callable[[], None], repeats: int) -> float:
    fn()  # warm-up (allocates optimizer state)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="quickstart")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    config = get_preset(args.preset)
    generator, discriminator = Generator(config.generator), Discriminator(config.discriminator)
    rows = {}
    for name, module in (("G", generator), ("D", discriminator)):
        params = [p for p in module.parameters() if p.requires_grad]
        for p in params:
            p.grad = torch.randn_like(p) * 1e-3
        for fused in (False, True):
            optimizer = torch.optim.AdamW(params, lr=1e-4, betas=(0.0, 0.99), eps=1e-8, fused=fused)
            rows[f"AdamW step, {name} ({len(params)} tensors), {'fused' if fused else 'loop'}"] = _time(
                optimizer.step, args.repeats
            )

    source = [p.detach() for p in generator.parameters()]
    target = [p.detach().clone() for p in source]

    def lerp_loop() -> None:
        for ema, param in zip(target, source, strict=True):
            ema.lerp_(param, 0.01)

    rows[f"EMA of G ({len(source)} tensors), one lerp_ per tensor"] = _time(lerp_loop, args.repeats)
    rows["EMA of G, one torch._foreach_lerp_"] = _time(lambda: torch._foreach_lerp_(target, source, 0.01), args.repeats)

    width = max(map(len, rows))
    print(f"{'update':<{width}}  ms/call   ({torch.get_num_threads()} threads, preset {args.preset})")
    for label, ms in rows.items():
        print(f"{label:<{width}}  {ms:7.2f}")
    if args.json:
        report = {"preset": args.preset, "threads": torch.get_num_threads(), "ms": rows}
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
