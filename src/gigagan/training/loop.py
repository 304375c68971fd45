"""The training loop: a plain loop over phases (G main, D main, D regularisation at its interval),
with the trainer outside the networks.

Every random draw that shapes a step (z, wrong captions, augmentation) is made for the global batch
from the global RNG, which all ranks seed and advance alike, and each rank keeps its own rows; so
one process and N processes with the same global batch follow the same trajectory, and a resumed
run continues exactly where the checkpoint left off.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from gigagan.config import ModelConfig, TrainConfig, config_to_dict
from gigagan.data.images import SkipLog
from gigagan.errors import GigaGANError
from gigagan.models import Discriminator, Generator
from gigagan.models.text import trim_padding
from gigagan.training import checkpoint as ckpt
from gigagan.training.augment import AugmentParams
from gigagan.training.distributed import (
    DistributedContext,
    all_reduce_flag,
    barrier,
    broadcast_module,
    gather_objects,
)
from gigagan.training.ema import GeneratorEMA
from gigagan.training.logging import RunLogger
from gigagan.training.loss import (
    CLIPContrastiveLoss,
    GigaGANLoss,
    TrainingBatch,
    mismatched_captions,
)
from gigagan.training.phases import PhaseRunner, adamw_optimizer

log = logging.getLogger(__name__)


class TrainingDiverged(GigaGANError):
    """Too many non-finite steps in a row."""


@dataclass
class TrainResult:
    step: int
    images_seen: int
    last_checkpoint: Path | None
    skipped_steps: int
    stats: dict[str, float]


class Trainer:
    """Trains a generator and discriminator pair on one data source; see `gigagan train --help`."""

    def __init__(
        self,
        model_config: ModelConfig,
        config: TrainConfig,
        run_dir: str | Path,
        context: DistributedContext | None = None,
        resume: bool | str | Path = False,
        progress: bool = True,
        on_step: Callable[[int, dict[str, float]], None] | None = None,
    ) -> None:
        self.context = context or DistributedContext()
        self.config = config
        self.run_dir = Path(run_dir)
        self.progress = progress and self.context.is_main
        self.on_step = on_step
        config.validate()  # every field's type and range, the loss's included: library callers too
        if config.batch_size % self.context.world_size:
            raise GigaGANError(
                f"batch size {config.batch_size} is not divisible by the {self.context.world_size} ranks"
            )
        self.local_batch = config.batch_size // self.context.world_size
        if config.deterministic:
            torch.use_deterministic_algorithms(True)
        self.model_config = self._configure_clip(model_config)
        self.logger = RunLogger(self.run_dir, enabled=self.context.is_main)

        torch.manual_seed(config.seed)
        device = self.context.device
        generator, discriminator = self._build_networks()
        self.generator = generator.to(device).train()
        self.discriminator = discriminator.to(device).train()
        broadcast_module(self.generator, self.context)
        broadcast_module(self.discriminator, self.context)
        self.ema = GeneratorEMA(self.generator, config.ema_half_life_images, config.ema_rampup)
        interval = config.loss.r1_interval
        ratio = interval / (interval + 1) if self._regularises() else 1.0
        decay = config.attention_weight_decay
        self.optimizers = {
            "generator": adamw_optimizer(self.generator, config.lr_generator, config.betas, decay),
            "discriminator": adamw_optimizer(self.discriminator, config.lr_discriminator, config.betas, decay, ratio),
        }
        self.phases = PhaseRunner(
            {"generator": self.generator, "discriminator": self.discriminator},
            self.optimizers,
            self.context,
            overlap=config.overlap_phases,
        )
        self.g_params, self.d_params = self.phases.params["generator"], self.phases.params["discriminator"]
        self.loss = self._build_loss()
        self.step = 0
        self._prompts: list[str] | None = None
        self._skips_all_ranks = SkipLog()  # unreadable data items gathered from every rank, each once
        self._skip_cursor = 0  # how much of this rank's skip history has been gathered
        self.stream = self._build_stream()
        self.images_seen = 0
        self.skipped_steps = 0
        self.bad_in_a_row = 0
        self.last_checkpoint: Path | None = None  # on rank 0; the other ranks write none
        self.checkpointed_step: int | None = None  # the step of the last checkpoint, on every rank
        self.sample_z = torch.randn(
            len(self.sample_prompts()),
            self.z_dim,
            generator=torch.Generator().manual_seed(config.seed + 12345),
        )
        if resume:
            self._resume(resume)

    # ------------------------------------------------------------------ set-up helpers
    # (the hooks a trainer of another generator-discriminator pair overrides: see training/upsampler.py)

    @property
    def z_dim(self) -> int:
        return self.model_config.generator.z_dim

    @property
    def image_resolution(self) -> int:
        """Resolution of the real images the data source must deliver."""
        return self.model_config.generator.resolution

    def _build_networks(self) -> tuple[nn.Module, nn.Module]:
        """The generator and discriminator to train (on the CPU; the trainer moves them)."""
        generator = Generator(self.model_config.generator)
        if self.config.grad_checkpointing:
            generator.synthesis.gradient_checkpointing = True
        return generator, Discriminator(self.model_config.discriminator)

    def _build_loss(self) -> GigaGANLoss:
        config = self.config
        clip_loss = None
        if config.clip_weights and config.loss.clip_weight > 0 and self.model_config.discriminator.vision_aided:
            clip_loss = CLIPContrastiveLoss(self.model_config.discriminator.vision_aided.clip).to(self.context.device)
        return GigaGANLoss(
            self.generator,
            self.discriminator,
            config.loss,
            clip_loss=clip_loss,
            use_vision_aided=bool(config.clip_weights) and config.loss.vision_aided_weight > 0,
            autocast_dtype=torch.bfloat16 if config.bf16 else None,
            noise_mode=config.noise_mode,
        )

    def _model_configs(self) -> dict[str, dict[str, Any]]:
        """The config.json entries of a checkpoint that describe the networks."""
        return {
            "generator": config_to_dict(self.model_config.generator),
            "discriminator": config_to_dict(self.model_config.discriminator),
        }

    def condition_captions(self, captions: list[str]) -> list[str]:
        """The captions the networks are conditioned on (all of them, by default)."""
        return captions

    def _configure_clip(self, model_config: ModelConfig) -> ModelConfig:
        model_config = dataclasses.replace(model_config, discriminator=dataclasses.replace(model_config.discriminator))
        vision = model_config.discriminator.vision_aided
        if self.config.clip_weights and vision is not None:
            clip = dataclasses.replace(vision.clip, pretrained=self.config.clip_weights)
            model_config.discriminator.vision_aided = dataclasses.replace(vision, clip=clip)
        elif vision is not None:
            model_config.discriminator.vision_aided = None
            if self.context.is_main:
                log.warning(
                    "notice: no CLIP weights configured (--clip-weights): the vision-aided discriminator "
                    "and the CLIP contrastive loss are off"
                )
        return model_config

    def _build_stream(self) -> Any:
        from gigagan.data import BatchStream, build_dataset

        resolution = self.config.resolution or self.image_resolution
        if resolution != self.image_resolution:
            raise GigaGANError(f"training.resolution {resolution} differs from the model's {self.image_resolution}")
        self.dataset = build_dataset(
            self.config.data,
            resolution,
            seed=self.config.seed,
            caption_template=self.config.caption_template,
            rank=self.context.rank,
            world_size=self.context.world_size,
        )
        self.report_skipped_data()
        return BatchStream(
            self.dataset,
            self.local_batch,
            seed=self.config.seed,
            rank=self.context.rank,
            world_size=self.context.world_size,
            num_workers=self.config.num_workers,
        )

    def report_skipped_data(self) -> None:
        """Count the items the data source skipped on any rank (each item once: a folder scan that
        every rank makes alike counts once) into `data_skipped` (reason -> count), and log them when
        they changed since the last report: a warning the first time, then a note, and each time a
        "data" event in log.jsonl. Every rank must call it (it gathers the new records)."""
        history = getattr(getattr(self.dataset, "skip_log", None), "history", None)  # a SkipLog's records
        records = history[self._skip_cursor :] if history is not None else []
        self._skip_cursor += len(records)
        added = sum(
            self._skips_all_ranks.add(item, reason)
            for rank_records in gather_objects(records, self.context)
            for item, reason in rank_records
        )
        if not added or not self.context.is_main:
            return
        examples = "; ".join(self._skips_all_ranks.examples[:3])
        first = added == sum(self._skips_all_ranks.counts.values())
        (log.warning if first else log.info)("skipped %s (e.g. %s)", self.data_skipped, examples)
        self.logger.event(self.step, "data", f"skipped {self.data_skipped}; e.g. {examples}")

    @property
    def data_skipped(self) -> dict[str, int]:
        """Unreadable data items skipped on any rank, by reason (as of the last `report_skipped_data`)."""
        return dict(self._skips_all_ranks.counts)

    def sample_prompts(self) -> list[str]:
        """The fixed prompts of the sample grids: the configured ones, held-out shapes prompts, or the
        captions of 8 items spread evenly over the data (so class folders show several classes; the
        first 8 of the stream for iterable sources)."""
        if self._prompts is None:
            self._prompts = self._choose_sample_prompts()
        return list(self._prompts)

    def _choose_sample_prompts(self) -> list[str]:
        if self.config.sample_prompts:
            return list(self.config.sample_prompts)
        if self.config.data.startswith("shapes"):
            from gigagan.data.shapes import heldout_prompts

            return [prompt if isinstance(prompt, str) else prompt[0] for prompt in heldout_prompts(8, seed=0)]
        if hasattr(self.dataset, "__getitem__") and hasattr(self.dataset, "__len__"):
            count = min(8, len(self.dataset))
            return [self.dataset[i * len(self.dataset) // count]["caption"] for i in range(count)]
        with torch.random.fork_rng(devices=[]):  # a stream may draw from the global RNG; keep it exact
            return [str(item["caption"]) for item in itertools.islice(iter(self.dataset), 8)]

    def _resume(self, resume: bool | str | Path) -> None:
        path = ckpt.latest_checkpoint(self.run_dir) if resume is True else Path(resume)
        if path is None:
            raise GigaGANError(f"--resume: no checkpoint found in {self.run_dir}")
        state = ckpt.load_checkpoint(path, self._networks(), self.optimizers)
        self.step = int(state["step"])
        self.images_seen = int(state["images_seen"])
        self.skipped_steps = int(state.get("skipped_steps", 0))
        self.bad_in_a_row = int(state.get("bad_in_a_row", 0))
        self.stream.load_state_dict(state["data"])
        self.last_checkpoint = path
        self.checkpointed_step = self.step
        if self.context.is_main:
            log.info("resumed from %s at step %d", path, self.step)

    def _networks(self) -> dict[str, nn.Module]:
        return {"generator": self.generator, "generator_ema": self.ema.model, "discriminator": self.discriminator}

    # ------------------------------------------------------------------ one step

    def _next_batch(self) -> TrainingBatch:
        with torch.random.fork_rng(devices=[]):  # loaders draw seeds from the global RNG; keep it exact
            images, captions = next(self.stream)
        captions = self.condition_captions(list(captions))
        device = self.context.device
        if self.context.enabled:
            gathered: list[list[str]] = [[] for _ in range(self.context.world_size)]
            dist.all_gather_object(gathered, list(captions))
            # rank r holds global rows r, r + W, ...: interleave back into global order
            global_captions = [gathered[r][i] for i in range(self.local_batch) for r in range(self.context.world_size)]
        else:
            global_captions = list(captions)
        global_batch = len(global_captions)
        z_dim = self.z_dim
        wrong_captions, valid = mismatched_captions(global_captions, strategy=self.config.loss.mismatch)
        z = torch.randn(global_batch, z_dim)
        z_discriminator = torch.randn(global_batch, z_dim)
        augment = AugmentParams.sample(global_batch, torch.device("cpu")) if self.config.loss.augment else None
        rows = torch.arange(self.context.rank, global_batch, self.context.world_size)
        tokenize = self.generator.tokenize
        tokens = tokenize(list(captions))
        mismatched_tokens = tokenize([wrong_captions[int(r)] for r in rows])
        if self.generator.text_encoder.clip.is_causal:  # exact: no real token sees the padding after it
            tokens, mismatched_tokens = trim_padding(tokens, mismatched_tokens)
        return TrainingBatch(
            images=images.to(device, non_blocking=True),
            captions=list(captions),
            tokens=tokens.to(device),
            mismatched_tokens=mismatched_tokens.to(device),
            mismatch_valid=valid[rows].to(device),
            z=z[rows].to(device),
            z_discriminator=z_discriminator[rows].to(device),
            augment=augment.select(rows).to(device) if augment is not None else None,
        )

    def _regularises(self) -> bool:
        """Whether D has a regularisation phase (R1 and/or R2, every r1_interval steps)."""
        loss = self.config.loss
        return (loss.r1_gamma > 0 or loss.r2_gamma > 0) and loss.r1_interval > 0

    def train_step(self) -> dict[str, float]:
        """One G phase, one D phase and, every r1_interval steps, the R1 phase."""
        batch = self._next_batch()
        self.step += 1
        stats: dict[str, Any] = self.phases.main_phases(
            lambda: self.loss.generator_loss(batch),
            lambda: self.loss.discriminator_loss(batch, self.loss.generate_for_discriminator(batch)),
        )
        if self._regularises() and self.step % self.config.loss.r1_interval == 0:
            r1 = self.phases.phase("discriminator", lambda: self.loss.r1_loss(batch))
            stats |= {name: value for name, value in r1.items() if name in ("D/r1_penalty", "D/r2_penalty")}
            stats["discriminator_finite"] = stats["discriminator_finite"] and r1["discriminator_finite"]
        for param in self.g_params + self.d_params:
            param.requires_grad_(True)
        self.images_seen += self.config.batch_size
        self.ema.update(self.generator, self.images_seen, self.config.batch_size)
        finite = stats.pop("generator_finite") and stats.pop("discriminator_finite")
        if finite:
            self.bad_in_a_row = 0
        else:
            self.skipped_steps += 1
            self.bad_in_a_row += 1
            message = f"non-finite loss or gradient at step {self.step}: update skipped"
            log.warning(message)
            self.logger.event(self.step, "nonfinite", message)
            if self.bad_in_a_row >= self.config.max_bad_steps:
                where = f"; last good checkpoint: {self.last_checkpoint}" if self.last_checkpoint else ""
                raise TrainingDiverged(
                    f"training stopped: {self.bad_in_a_row} non-finite steps in a row at step {self.step}{where}"
                )
        return {k: float(v) for k, v in stats.items()}

    # ------------------------------------------------------------------ outputs

    def save(self) -> Path | None:
        """Checkpoint the current step (rank 0 writes; all ranks wait)."""
        path = None
        if self.context.is_main:
            training = config_to_dict(self.config)
            path = ckpt.save_checkpoint(
                self.run_dir,
                self.step,
                self._networks(),
                self.optimizers,
                {
                    "images_seen": self.images_seen,
                    "skipped_steps": self.skipped_steps,
                    "bad_in_a_row": self.bad_in_a_row,
                    "data": self.stream.state_dict(),
                    "data_skipped": self.stream.skipped,
                },
                {**self._model_configs(), "training": training},
            )
            ckpt.prune_checkpoints(self.run_dir, self.config.keep_checkpoints, protect={path})
        barrier(self.context)
        self.last_checkpoint = path
        self.checkpointed_step = self.step
        return path

    @torch.no_grad()
    def save_samples(self) -> Path | None:
        """A grid of EMA samples for the fixed prompts and fixed z."""
        if not self.context.is_main:
            return None
        from torchvision.utils import make_grid

        prompts = self.sample_prompts()
        generator = self.ema.model
        tokens = generator.tokenize(prompts)
        images = generator(self.sample_z.to(self.context.device), tokens, noise_mode="const")[0].float()
        grid = make_grid((images.clamp(-1, 1) + 1) / 2, nrow=math.ceil(math.sqrt(len(prompts))), padding=1)
        return self.write_samples(grid, prompts)

    def write_samples(self, grid: torch.Tensor, prompts: list[str]) -> Path:
        """Save a sample grid [3, H, W] in [0, 1] as samples/step-N.png (+ prompts.txt, TensorBoard)."""
        from torchvision.utils import save_image

        path = self.run_dir / "samples" / f"step-{self.step:08d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        save_image(grid, path)
        (path.parent / "prompts.txt").write_text("\n".join(prompts) + "\n")
        self.logger.image(self.step, "samples", grid)
        return path

    # ------------------------------------------------------------------ the loop

    def _time_is_up(self, deadline: float) -> bool:
        """Whether the time cap has passed, agreed by every rank (each has its own clock, and a rank
        that stopped one step before the others would leave them waiting in a collective)."""
        if deadline == math.inf:
            return False
        return all_reduce_flag(time.perf_counter() >= deadline, self.context)

    def run(self) -> TrainResult:
        config = self.config
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            # the step target gives the bar its total and ETA; a time cap is shown as the time left
            total = config.max_steps if config.max_steps < 10**8 else None
            bar = tqdm(total=total, initial=self.step, unit="step", dynamic_ncols=True)
        stats: dict[str, float] = {}
        started, start_step = time.perf_counter(), self.step
        self.phases.use_overlap_threads()
        try:
            deadline = started + config.max_minutes * 60 if config.max_minutes else math.inf
            while self.step < config.max_steps and not self._time_is_up(deadline):
                stats = self.train_step()
                elapsed = time.perf_counter() - started
                images_per_second = (self.step - start_step) * config.batch_size / max(elapsed, 1e-9)
                if bar is not None:
                    bar.update(1)
                    postfix = {
                        "img/s": f"{images_per_second:.1f}",
                        "G": f"{stats['G/total']:.3f}",
                        "D": f"{stats['D/total']:.3f}",
                    }
                    if deadline < math.inf:
                        left = max(deadline - time.perf_counter(), 0.0)
                        postfix["time cap in"] = f"{int(left // 60)}:{int(left % 60):02d}"
                    skipped_items = sum(self.stream.skipped.values())
                    if skipped_items:
                        postfix["skipped"] = str(skipped_items)
                    bar.set_postfix(postfix, refresh=False)
                if self.step % config.log_every == 0 or self.step == config.max_steps:
                    self.logger.scalars(
                        self.step, {**stats, "images_seen": self.images_seen, "images_per_second": images_per_second}
                    )
                    self.report_skipped_data()
                if self.on_step is not None:
                    self.on_step(self.step, stats)
                if config.sample_every > 0 and self.step % config.sample_every == 0:
                    self.save_samples()
                if config.checkpoint_every > 0 and self.step % config.checkpoint_every == 0:
                    if self.bad_in_a_row == 0:
                        self.save()
                    else:  # keep the last good checkpoint as `latest` while steps are being skipped
                        self.logger.event(self.step, "checkpoint", "deferred: the last step was non-finite")
            if self.checkpointed_step != self.step:  # the same answer on every rank: save() waits for all
                self.save()
                self.save_samples()
            self.report_skipped_data()
        finally:
            if bar is not None:
                bar.close()
            self.logger.close()
            self.phases.restore_threads()  # a library call leaves torch's thread count as it found it
        return TrainResult(self.step, self.images_seen, self.last_checkpoint, self.skipped_steps, stats)
