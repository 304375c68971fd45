"""Where a training step of a preset spends its time on this machine: wall-clock per phase of
`Trainer.train_step` (data, G phase, fakes for D, D phase, R1, EMA) and the top operators by self
CPU time from torch.profiler.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/profile_step.py --steps 20
    .venv/bin/python benchmarks/profile_step.py --model-set discriminator.input_mode='"centred"'
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from contextlib import nullcontext

import torch
from torch.profiler import ProfilerActivity, profile

from gigagan import get_preset
from gigagan.config import preset_training, with_overrides
from gigagan.training import Trainer
from reference_gan import nested_overrides


def timed_phases(trainer: Trainer) -> dict[str, list[float]]:
    """Wrap the trainer's phase methods so each call's wall time is recorded under its name."""
    times: dict[str, list[float]] = defaultdict(list)

    def wrap(owner: object, name: str, label: str) -> None:
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            out = original(*args, **kwargs)
            times[label].append(time.perf_counter() - start)
            return out

        setattr(owner, name, timed)

    wrap(trainer, "_next_batch", "data")
    wrap(trainer.loss, "generator_loss", "G forward (loss)")
    wrap(trainer.loss, "generate_for_discriminator", "fakes for D")
    wrap(trainer.loss, "discriminator_loss", "D forward (loss)")
    wrap(trainer.loss, "r1_loss", "R1 forward")
    wrap(trainer.ema, "update", "EMA update")
    wrap(trainer.phases, "main_phases", "G and D main phases (forward + backward + step)")
    wrap(trainer.phases, "phase", "R1 phase (forward + backward + step)")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="quickstart")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--model-set", action="append", default=[], metavar="FIELD=JSON")
    parser.add_argument("--train-set", action="append", default=[], metavar="FIELD=JSON")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--no-profiler", action="store_true", help="phase times only (no operator table, no overhead)")
    parser.add_argument("--by-shape", action="store_true", help="operator table split by input shapes")
    parser.add_argument("--channels-last", action="store_true", help="G, D and the EMA in channels-last memory format")
    parser.add_argument("--flush-denormal", action="store_true", help="torch.set_flush_denormal(True) first")
    args = parser.parse_args()
    if args.flush_denormal:
        torch.set_flush_denormal(True)

    overrides = {"max_steps": args.warmup + args.steps} | nested_overrides(args.train_set)
    if args.batch_size:
        overrides["batch_size"] = args.batch_size
    config = preset_training(args.preset, overrides)
    model_config = with_overrides(get_preset(args.preset), nested_overrides(args.model_set))
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(model_config, config, run_dir, progress=False)
        if args.channels_last:
            for module in (trainer.generator, trainer.discriminator, trainer.ema.model):
                for tensor in [*module.parameters(), *module.buffers()]:
                    if tensor.dim() == 4:
                        tensor.data = tensor.data.contiguous(memory_format=torch.channels_last)
        for _ in range(args.warmup):
            trainer.train_step()
        times = timed_phases(trainer)
        start = time.perf_counter()
        with (
            profile(activities=[ProfilerActivity.CPU], record_shapes=args.by_shape)
            if not args.no_profiler
            else nullcontext() as prof
        ):
            for _ in range(args.steps):
                trainer.train_step()
        total = time.perf_counter() - start
    per_step = total / args.steps
    print(
        f"{args.preset}, batch {config.batch_size}, {torch.get_num_threads()} threads: "
        f"{per_step * 1000:.0f} ms/step, {config.batch_size / per_step:.1f} img/s"
        + ("" if args.no_profiler else " (profiler on)")
    )
    print(f"{'phase':<42} {'ms/step':>8}")
    for label, values in times.items():
        print(f"{label:<42} {sum(values) / args.steps * 1000:8.1f}")
    if prof is not None:
        print(
            prof.key_averages(group_by_input_shape=args.by_shape).table(
                sort_by="self_cpu_time_total", row_limit=args.top
            )
        )


if __name__ == "__main__":
    main()
