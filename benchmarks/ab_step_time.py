"""A/B step time of two training settings of a preset, measured in one process by alternating
blocks of steps of A and B on the same trainer (so the machine's drift and the other core's load
fall on both alike). A is the preset; B is the preset with `--b-set` training overrides (of the
loss, or `overlap_phases`; B's other settings must not change the networks or the optimizers).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ab_step_time.py --b-set loss.reuse_generator_fakes=true
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ab_step_time.py --b-set overlap_phases=true

(B with overlap_phases halves torch's threads for A too: compare it at OMP_NUM_THREADS=1, and A at
2 threads in a run without it.)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from gigagan import get_preset
from gigagan.config import preset_training, with_overrides
from gigagan.training import Trainer
from gigagan.training.phases import PhaseRunner
from reference_gan import nested_overrides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="quickstart")
    parser.add_argument("--b-set", action="append", default=[], metavar="FIELD=JSON", help="B's training overrides")
    parser.add_argument("--blocks", type=int, default=6, help="blocks of steps per setting")
    parser.add_argument("--steps", type=int, default=10, help="steps per block")
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()

    config = preset_training(args.preset, {"max_steps": 10**9})
    b_config = with_overrides(config, nested_overrides(args.b_set))
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(get_preset(args.preset), config, run_dir, progress=False)
        b_phases = PhaseRunner(trainer.phases.modules, trainer.optimizers, trainer.context, b_config.overlap_phases)
        settings = {"A": (config, trainer.phases), "B": (b_config, b_phases)}
        for _ in range(args.warmup):
            trainer.train_step()
        times: dict[str, list[float]] = {"A": [], "B": []}
        for _ in range(args.blocks):
            for name, (train_config, phases) in settings.items():
                trainer.config, trainer.loss.config, trainer.phases = train_config, train_config.loss, phases
                start = time.perf_counter()
                for _ in range(args.steps):
                    trainer.train_step()
                times[name].append((time.perf_counter() - start) / args.steps * 1000)
    print(f"{args.preset}, batch {config.batch_size}, {torch.get_num_threads()} threads; B: {args.b_set}")
    for name, values in times.items():
        print(f"{name}: median {statistics.median(values):.0f} ms/step  blocks " + " ".join(f"{v:.0f}" for v in values))
    print(f"B / A step time: {statistics.median(times['B']) / statistics.median(times['A']):.3f}")


if __name__ == "__main__":
    main()
