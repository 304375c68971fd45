"""Metrics while training: every N steps, score the EMA generator, log the values, keep the best.

The trainer knows nothing about metrics (they sit above it in the package's layers); the CLI, or a
user of the Python API, attaches a `TrainingMetrics` as the trainer's `on_step` callback:

    trainer = Trainer(model_config, train_config, "runs/x")
    trainer.on_step = TrainingMetrics(trainer, ["fid", "kid"], every=1000, num_images=5000)
    trainer.run()

With FID among the metrics, `RUN/best` holds the EMA generator (config.json +
generator_ema.safetensors, loadable by `from_pretrained`) of the step with the lowest FID so far,
and `RUN/best/metrics.json` says which step and what it scored. It is written to a temporary
folder and renamed, so it is never half-written, and checkpoint pruning never touches it.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from gigagan.io import atomic_write_bytes
from gigagan.metrics.evaluate import EvalSettings, evaluate_generator
from gigagan.metrics.registry import parse_metric_names

BEST_DIR = "best"
BEST_METRIC = "fid"


class TrainerView(Protocol):
    """What `TrainingMetrics` reads of its trainer (`gigagan.training.Trainer` has it all; metrics sit
    beside training and import nothing from it)."""

    context: Any  # .device, .is_main
    config: Any  # the TrainConfig: .data, .caption_template
    run_dir: Path
    ema: Any  # .model: the EMA generator
    logger: Any  # .scalars(step, values), .event(step, kind, text)


class TrainingMetrics:
    """An `on_step` callback that evaluates the EMA generator every `every` steps (rank 0 only)."""

    def __init__(
        self,
        trainer: TrainerView,
        metrics: str | Sequence[str],
        every: int,
        num_images: int,
        settings: EvalSettings | None = None,
        data_spec: str | None = None,
    ) -> None:
        self.trainer = trainer
        self.names = parse_metric_names(metrics)
        self.every = every
        self.num_images = num_images
        self.settings = settings or EvalSettings(device=str(trainer.context.device))
        self.data_spec = data_spec or trainer.config.data
        self.best_value = self._read_best(trainer.run_dir)

    @staticmethod
    def _read_best(run_dir: Path) -> float:
        """The best FID of an earlier part of this run (resume), or infinity."""
        try:
            return float(json.loads((run_dir / BEST_DIR / "metrics.json").read_text())[BEST_METRIC])
        except (OSError, ValueError, KeyError, TypeError):
            return math.inf

    def __call__(self, step: int, stats: dict[str, float]) -> None:
        if self.every <= 0 or step % self.every or not self.trainer.context.is_main:
            return
        self.evaluate(step)

    def evaluate(self, step: int) -> dict[str, float]:
        """Score the EMA generator now; log the values; update `best` if FID improved."""
        generator = self.trainer.ema.model
        was_training = generator.training
        generator.eval()
        try:
            result = evaluate_generator(
                generator,
                self.data_spec,
                self.names,
                self.num_images,
                self.settings,
                caption_template=self.trainer.config.caption_template,
            )
        finally:
            generator.train(was_training)
        values = result.metrics
        self.trainer.logger.scalars(step, {f"metrics/{name}": value for name, value in values.items()})
        fid = values.get(BEST_METRIC)
        if fid is not None and fid < self.best_value:
            self.best_value = fid
            self._save_best(step, values)
        return values

    def _save_best(self, step: int, values: dict[str, float]) -> None:
        run_dir = self.trainer.run_dir
        staging = run_dir / f".{BEST_DIR}.tmp-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        self.trainer.ema.model.save_pretrained(staging, weights_name="generator_ema.safetensors")
        record = {"step": step, "num_images": self.num_images, "data": self.data_spec, **values}
        atomic_write_bytes(staging / "metrics.json", (json.dumps(record, indent=2) + "\n").encode())
        target = run_dir / BEST_DIR
        retired = run_dir / f".{BEST_DIR}.old-{os.getpid()}"
        if target.exists():
            target.rename(retired)
        staging.rename(target)
        shutil.rmtree(retired, ignore_errors=True)
        self.trainer.logger.event(step, "best", f"new best {BEST_METRIC} {values[BEST_METRIC]:.3f} at step {step}")
