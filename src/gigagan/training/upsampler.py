"""Training the upsampler with the generator's trainer: `UpsamplerTrainer(Trainer)` and `UpsamplerLoss`.

The loop, phases, EMA, checkpoints, exact resume, data sources and multi-process support are the
generator's (`gigagan.training.loop.Trainer`); this module only changes what differs:

- networks: `Upsampler` and `UpsamplerDiscriminator`; checkpoints hold `upsampler`,
  `upsampler_ema` and `upsampler_discriminator` weights, so `Upsampler.from_pretrained(run/latest)`
  loads the EMA upsampler;
- data: real images at the output resolution; each batch also carries `low_res`, the real images
  made low-resolution by `gigagan.training.degrade.make_low_res` (antialiased downsampling, Gaussian
  noise augmentation, optional real-photo degradations), seeded by (seed, step, row) for exact resume;
- losses: GigaGAN's non-saturating, matching-aware and R1 terms on the upsampler's pyramid, plus a
  perceptual distance between the output and the real image (LPIPS with `lpips_weights`, otherwise
  the documented fallback of `gigagan.training.perceptual`), weight `perceptual_weight` (10, the
  paper's LPIPS weight for 64 -> 512);
- `unconditional`: every image is trained with the empty prompt (the ImageNet-style upsampler).
"""

from __future__ import annotations

import copy
import itertools
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from gigagan.config import (
    NON_EMPTY,
    NON_NEGATIVE,
    PROBABILITY,
    FieldRule,
    LossConfig,
    TrainConfig,
    config_to_dict,
    register_field_rules,
)
from gigagan.config.upsampler import UpsamplerModelConfig
from gigagan.errors import GigaGANError
from gigagan.models.text import TextEncoding
from gigagan.models.upsampler import Upsampler, UpsamplerDiscriminator
from gigagan.training.degrade import RESIZE_MODES, Degradation, make_low_res, resize, sample_rng
from gigagan.training.loop import Trainer
from gigagan.training.loss import GigaGANLoss, TrainingBatch
from gigagan.training.perceptual import build_perceptual_distance

log = logging.getLogger(__name__)

SAMPLE_COUNT = 8
SAMPLE_STEP = 2**32  # the (seed, step) key of the fixed sample inputs, beyond any training step


@dataclass
class UpsamplerTrainConfig(TrainConfig):
    """`TrainConfig` plus the upsampler's input construction and perceptual loss."""

    input_noise: tuple[float, float] = (0.0, 0.05)  # sigma range of the low-res input's Gaussian noise
    degrade: bool = False  # real-photo degradations (blur, resize kernel, noise, JPEG) of the input
    degradation: Degradation = field(default_factory=Degradation)
    unconditional: bool = False  # train with the empty prompt
    perceptual_weight: float = 10.0
    lpips_weights: str | None = None  # LPIPS VGG16 weights (file or folder); else the fallback distance

    def check(self) -> None:
        self.validate()
        low, high = self.input_noise
        if not 0 <= low <= high:
            raise GigaGANError(f"input noise range must satisfy 0 <= min <= max, got {low}, {high}")
        if self.perceptual_weight < 0:
            raise GigaGANError(f"perceptual weight must not be negative, got {self.perceptual_weight}")


register_field_rules(
    UpsamplerTrainConfig,
    {
        "input_noise": FieldRule(minimum=0, ordered=True),
        "perceptual_weight": NON_NEGATIVE,
        "lpips_weights": NON_EMPTY,
    },
)
register_field_rules(
    Degradation,
    {
        "blur_probability": PROBABILITY,
        "blur_sigma": FieldRule(minimum=0, exclusive_minimum=True, ordered=True),
        "noise_probability": PROBABILITY,
        "noise_sigma": FieldRule(minimum=0, ordered=True),
        "jpeg_probability": PROBABILITY,
        "jpeg_quality": FieldRule(minimum=1, maximum=100, ordered=True),
        "resize_modes": FieldRule(choices=RESIZE_MODES, min_items=1),
    },
)


class UpsamplerLoss(GigaGANLoss):
    """GigaGAN's losses for the upsampler: fakes come from `batch.low_res`; G adds a perceptual term."""

    def __init__(
        self,
        upsampler: Upsampler,
        discriminator: UpsamplerDiscriminator,
        config: LossConfig,
        perceptual: nn.Module,
        perceptual_weight: float,
        autocast_dtype: torch.dtype | None = None,
        noise_mode: str = "random",
    ) -> None:
        if config.diversity_weight > 0:
            raise GigaGANError("loss.diversity_weight is for the text-to-image generator, not the upsampler")
        super().__init__(upsampler, discriminator, config, autocast_dtype=autocast_dtype, noise_mode=noise_mode)  # type: ignore[arg-type]
        self.perceptual = perceptual
        self.perceptual_weight = perceptual_weight

    def generate(self, batch: TrainingBatch, z: Tensor, text: TextEncoding | None = None) -> list[Tensor]:
        if batch.low_res is None:
            raise ValueError("upsampler training batches need low_res inputs")
        text = self._generator_text(batch) if text is None else text
        return self.generator(batch.low_res, z, text=text, noise_mode=self.noise_mode)

    def extra_generator_terms(self, batch: TrainingBatch, fake: list[Tensor]) -> tuple[Tensor | None, dict[str, float]]:
        if self.perceptual_weight <= 0:
            return None, {}
        distance = self.perceptual(fake[0].float(), batch.images.float()).mean()
        return self.perceptual_weight * distance, {"G/perceptual": float(distance.detach())}


class UpsamplerTrainer(Trainer):
    """Trains an upsampler and its discriminator; see `gigagan train-upsampler --help`."""

    model_config: UpsamplerModelConfig
    config: UpsamplerTrainConfig

    def __init__(self, model_config: UpsamplerModelConfig, config: UpsamplerTrainConfig, *args: Any, **kwargs: Any):
        config.check()
        model_config.validate()
        self._samples: tuple[Tensor, Tensor, list[str]] | None = None
        super().__init__(model_config, config, *args, **kwargs)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ the trainer's hooks

    @property
    def z_dim(self) -> int:
        return self.model_config.upsampler.z_dim

    @property
    def image_resolution(self) -> int:
        return self.model_config.upsampler.output_resolution

    def _configure_clip(self, model_config: UpsamplerModelConfig) -> UpsamplerModelConfig:  # type: ignore[override]
        return copy.deepcopy(model_config)  # no vision-aided branch and no CLIP loss to configure

    def _build_networks(self) -> tuple[nn.Module, nn.Module]:
        upsampler = Upsampler(self.model_config.upsampler)
        upsampler.gradient_checkpointing = self.config.grad_checkpointing
        return upsampler, UpsamplerDiscriminator(self.model_config.discriminator)

    def _build_loss(self) -> UpsamplerLoss:
        perceptual = None
        if self.config.perceptual_weight > 0:
            perceptual = build_perceptual_distance(self.config.lpips_weights).to(self.context.device)
        return UpsamplerLoss(
            self.generator,  # type: ignore[arg-type]
            self.discriminator,  # type: ignore[arg-type]
            self.config.loss,
            perceptual=perceptual or nn.Identity(),
            perceptual_weight=self.config.perceptual_weight if perceptual is not None else 0.0,
            autocast_dtype=torch.bfloat16 if self.config.bf16 else None,
            noise_mode=self.config.noise_mode,
        )

    def _model_configs(self) -> dict[str, dict[str, Any]]:
        return {
            "upsampler": config_to_dict(self.model_config.upsampler),
            "upsampler_discriminator": config_to_dict(self.model_config.discriminator),
        }

    def _networks(self) -> dict[str, nn.Module]:
        return {
            "upsampler": self.generator,
            "upsampler_ema": self.ema.model,
            "upsampler_discriminator": self.discriminator,
        }

    def condition_captions(self, captions: list[str]) -> list[str]:
        return [""] * len(captions) if self.config.unconditional else captions

    def low_res(self, images: Tensor, step: int, rows: list[int], noise: bool = True) -> Tensor:
        """The upsampler inputs for real `images` (CPU) of global `rows` at `step` (see `make_low_res`)."""
        rngs = [sample_rng(self.config.seed, step, row) for row in rows]
        return make_low_res(
            images,
            self.model_config.upsampler.input_resolution,
            rngs,
            self.config.input_noise if noise else (0.0, 0.0),
            self.config.degradation if self.config.degrade else None,
        )

    def _next_batch(self) -> TrainingBatch:
        batch = super()._next_batch()
        world = self.context.world_size
        rows = [self.context.rank + world * i for i in range(batch.images.shape[0])]
        batch.low_res = self.low_res(batch.images.cpu(), self.step, rows).to(batch.images.device)
        return batch

    # ------------------------------------------------------------------ samples

    def _sample_items(self) -> tuple[Tensor, Tensor, list[str]]:
        """Fixed (real images, low-res inputs, captions) of the first dataset items, for sample grids."""
        if self._samples is None:
            with torch.random.fork_rng(devices=[]):
                if hasattr(self.dataset, "__getitem__") and hasattr(self.dataset, "__len__"):
                    items = [self.dataset[i] for i in range(min(SAMPLE_COUNT, len(self.dataset)))]
                else:
                    items = list(itertools.islice(iter(self.dataset), SAMPLE_COUNT))
            images = torch.stack([item["image"] for item in items])
            captions = self.condition_captions([str(item["caption"]) for item in items])
            low = self.low_res(images, SAMPLE_STEP, list(range(len(items))), noise=False)
            self._samples = (images, low, captions)
        return self._samples

    def sample_prompts(self) -> list[str]:
        return self._sample_items()[2]

    @torch.no_grad()
    def save_samples(self) -> Path | None:
        """A grid of (bicubic input, EMA upsampler output, real image) rows for fixed inputs and z."""
        if not self.context.is_main:
            return None
        from torchvision.utils import make_grid

        images, low, captions = self._sample_items()
        upsampler = self.ema.model
        device = self.context.device
        output = upsampler(low.to(device), self.sample_z.to(device), upsampler.tokenize(captions), noise_mode="const")[
            0
        ].float()
        bicubic = resize(low, images.shape[-1], "bicubic")
        cells = torch.stack([bicubic, output.cpu(), images], dim=1).flatten(0, 1)
        grid = make_grid((cells.clamp(-1, 1) + 1) / 2, nrow=6, padding=1)  # two samples per row
        return self.write_samples(grid, captions)
