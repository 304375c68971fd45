"""Run by tests/training/test_distributed.py under torchrun: train a few steps (or, given a time cap,
until it passes, rank 1 starting a second late so the ranks' clocks disagree), then every rank
writes its own generator and discriminator weights so the test can compare replicas."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from safetensors.torch import save_file

from gigagan import get_preset
from gigagan.config import TrainConfig
from gigagan.training import Trainer
from gigagan.training.distributed import init_distributed, shutdown


def main(out: str, steps: int, batch_size: int, max_minutes: float | None = None) -> None:
    context = init_distributed("cpu")
    config = TrainConfig(
        data="shapes",
        batch_size=batch_size,
        max_steps=steps,
        seed=11,
        log_every=1,
        sample_every=0,
        checkpoint_every=0,
        deterministic=True,
        noise_mode="const",  # per-pixel noise is drawn per rank
        max_minutes=max_minutes,
    )
    config.loss.r1_interval = 2
    trainer = Trainer(get_preset("tiny"), config, Path(out), context=context, progress=False)
    if context.is_main:
        save_file(
            {k: v.clone().contiguous() for k, v in trainer.generator.state_dict().items()},
            str(Path(out) / "generator-init.safetensors"),
        )
        save_file(
            {k: v.clone().contiguous() for k, v in trainer.discriminator.state_dict().items()},
            str(Path(out) / "discriminator-init.safetensors"),
        )
    if max_minutes is not None and context.rank == 1:
        time.sleep(1.0)
    trainer.run()
    for name, module in (("generator", trainer.generator), ("discriminator", trainer.discriminator)):
        state = {k: v.contiguous() for k, v in module.state_dict().items()}
        save_file(state, str(Path(out) / f"{name}-rank{context.rank}.safetensors"))
    shutdown(context)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]) if len(sys.argv) > 4 else None)
