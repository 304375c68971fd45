"""Typed configurations of a training run: the loss terms and everything besides the networks."""

from __future__ import annotations

from dataclasses import dataclass, field

from gigagan.config.validation import (
    NON_EMPTY,
    NON_NEGATIVE,
    POSITIVE,
    RESOLUTION,
    FieldRule,
    at_least,
    check_fields,
    register_field_rules,
)
from gigagan.errors import GigaGANError

__all__ = [
    "FAKE_PYRAMIDS",
    "LOSS_PREDICTIONS",
    "MISMATCH_STRATEGIES",
    "NOISE_MODES",
    "LossConfig",
    "TrainConfig",
]

NOISE_MODES = ("random", "const", "none")


@dataclass
class LossConfig:
    """Weights and schedules of every loss term (GigaGAN section 3.4)."""

    # "non_saturating" (the logistic loss on each logit, GigaGAN and StyleGAN) or "relativistic"
    # (RpGAN, as in R3GAN: each real logit should exceed the logit of the fake drawn for the same
    # caption, softplus(fake - real), and G the other way round; pair it with r2_gamma)
    adversarial: str = "non_saturating"
    r1_gamma: float = 0.2048
    r1_interval: int = 16  # lazy R1: every N discriminator steps, scaled by N
    r2_gamma: float = 0.0  # R2: the same penalty on the fakes D judges, in the R1 phase (R3GAN: = r1_gamma)
    matching_aware_weight: float = 1.0  # real images with wrong captions count as fake (D and G)
    # which wrong caption: "random" (any other caption in the batch) or "similar" (the other caption
    # sharing the most words, a hard negative: D must then read more than the easiest attribute), or
    # "mixed" (either, by a fair coin per caption: the easy negatives keep the background checked),
    # "swap" (the caption itself with one word or phrase replaced by what another caption of the batch
    # has there: a negative that differs in one attribute, whichever it is) or "random+swap"
    # (a random caption or a one-word swap, by a fair coin per caption)
    mismatch: str = "random"
    # contrastive (InfoNCE) term on D's dense head, as XMC-GAN's image-sentence loss with D's own
    # embeddings: D learns to score each real image highest under its own caption among all the
    # batch's captions, G that its image scores highest under its own. Unlike the matching-aware
    # term's one random wrong caption, the softmax weights the hardest wrong captions most (the ones
    # that differ in a single word once the easy ones are told apart). Needs dense_final_head.
    contrastive_weight: float = 0.0
    # the contrastive softmax also holds each image's matching-aware wrong caption (see `mismatch`):
    # with "swap" negatives, a caption that differs from the image's own in one attribute only
    contrastive_mismatched: bool = False
    # what D judges of a fake: "generator" (G's own pyramid, one RGB output per level: the paper's
    # MS-I/O) or "downsampled" (the pyramid downsampled from G's finest image, as reals are built,
    # so every input level shows the picture G actually draws)
    fake_pyramid: str = "generator"
    # which MS-I/O predictions the adversarial and matching-aware terms (and R1) use: "all" (every
    # input level at every depth, the paper) or "coarsest" (each input level's prediction at the
    # coarsest depth only; D does not run the finer per-position heads at all)
    predictions: str = "all"
    # D's phase judges the G phase's fakes (drawn before G's update, detached) instead of a fresh
    # batch from the updated G: one generator forward less per step
    reuse_generator_fakes: bool = False
    # diversity-sensitive term (DSGAN, Yang et al. 2019): G is rewarded for drawing different
    # pictures from different z under one caption, as mean |G(z1) - G(z2)| / mean |z1 - z2| over half
    # `diversity_pairs` of the batch's captions (a second z for each), capped at `diversity_cap` so it
    # asks for spread, not noise. Against a conditional G that ignores z once its caption fixes most
    # of the picture. Each pair costs one more image through G (forward and backward).
    diversity_weight: float = 0.0
    diversity_cap: float = 0.1  # real renders of one `shapes` caption sit near 0.1
    diversity_pairs: int = 4  # per rank and step (at most the rank's batch)
    # compare the two pictures after average pooling to this side (None: at full resolution), so that
    # only differences of layout and colour count and high-frequency speckle earns nothing
    diversity_resolution: int | None = None
    clip_weight: float = 0.2  # CLIP contrastive loss on generated images (needs CLIP weights)
    vision_aided_weight: float = 0.5  # vision-aided discriminator (needs CLIP weights)
    augment: bool = False  # differentiable translation / colour / cutout for small datasets

    def validate(self, where: str = "loss") -> None:
        """Every field's type and range (see FIELD_RULES); a one-line GigaGANError naming the field."""
        check_fields(self, where)


MISMATCH_STRATEGIES = ("random", "similar", "mixed", "swap", "random+swap")
FAKE_PYRAMIDS = ("generator", "downsampled")
LOSS_PREDICTIONS = ("all", "coarsest")
ADVERSARIAL_LOSSES = ("non_saturating", "relativistic")


@dataclass
class TrainConfig:
    """Everything a training run needs besides the networks (stored in the run's config.json)."""

    data: str = "shapes"
    resolution: int | None = None  # defaults to the model's
    caption_template: str | None = None  # class-folder data: e.g. "a photo of a {label}"
    max_steps: int = 10_000
    max_minutes: float | None = None  # also stop (with a checkpoint) after this much wall-clock time
    batch_size: int = 16
    seed: int = 0
    lr_generator: float = 0.0025
    lr_discriminator: float = 0.0025
    betas: tuple[float, float] = (0.0, 0.99)
    attention_weight_decay: float = 0.01
    ema_half_life_images: int = 10_000  # EMA of G: half-life in images (StyleGAN's ema_kimg)
    ema_rampup: float | None = 0.05  # half-life at most step * batch * rampup early in training
    loss: LossConfig = field(default_factory=LossConfig)
    # G's backward pass on a second thread while D's phase runs (two CPU cores both busy); needs
    # loss.reuse_generator_fakes, and gives the same result as without
    overlap_phases: bool = False
    bf16: bool = False
    grad_checkpointing: bool = False
    noise_mode: str = "random"  # per-pixel noise in training: random (drawn per rank), const or none
    num_workers: int = 0
    log_every: int = 10
    sample_every: int = 500
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    max_bad_steps: int = 10  # stop after this many non-finite steps in a row
    deterministic: bool = False
    clip_weights: str | None = None  # CLIP checkpoint for the vision-aided D and the CLIP loss
    sample_prompts: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)  # scored on the EMA G during training (gigagan.metrics)
    metrics_every: int = 0  # steps between evaluations; 0 = never
    metrics_num_images: int = 5000  # generated (and real) images per evaluation

    def validate(self, where: str = "training") -> None:
        """Every field's type and range, the loss's included (see FIELD_RULES); a one-line GigaGANError
        naming the field, the bad value and what is allowed."""
        check_fields(self, where)
        if self.overlap_phases and not self.loss.reuse_generator_fakes:
            raise GigaGANError(
                f"{where}.overlap_phases needs {where}.loss.reuse_generator_fakes=true "
                "(D's phase must judge the G phase's fakes, not wait for G's update)"
            )


register_field_rules(
    LossConfig,
    {
        "adversarial": FieldRule(choices=ADVERSARIAL_LOSSES),
        "r1_gamma": NON_NEGATIVE,
        "r2_gamma": NON_NEGATIVE,
        "r1_interval": at_least(0),  # 0: no R1 phase
        "mismatch": FieldRule(choices=MISMATCH_STRATEGIES),
        "fake_pyramid": FieldRule(choices=FAKE_PYRAMIDS),
        "predictions": FieldRule(choices=LOSS_PREDICTIONS),
        "diversity_cap": POSITIVE,
        "diversity_pairs": at_least(1),
        "diversity_resolution": FieldRule(minimum=1, power_of_two=True),
    }
    | dict.fromkeys(
        ("matching_aware_weight", "contrastive_weight", "diversity_weight", "clip_weight", "vision_aided_weight"),
        NON_NEGATIVE,
    ),
)
register_field_rules(
    TrainConfig,
    {
        "data": NON_EMPTY,
        "resolution": RESOLUTION,
        "max_steps": at_least(0),
        "max_minutes": POSITIVE,
        "batch_size": at_least(1),
        "seed": at_least(0),
        "lr_generator": POSITIVE,
        "lr_discriminator": POSITIVE,
        "betas": FieldRule(minimum=0, maximum=1, exclusive_maximum=True),
        "attention_weight_decay": NON_NEGATIVE,
        "ema_half_life_images": at_least(0),
        "ema_rampup": NON_NEGATIVE,
        "noise_mode": FieldRule(choices=NOISE_MODES),
        "num_workers": at_least(0),
        "log_every": at_least(1),
        "sample_every": at_least(0),  # 0: no sample grids
        "checkpoint_every": at_least(0),  # 0: only the final checkpoint
        "keep_checkpoints": at_least(0),  # 0: keep all
        "max_bad_steps": at_least(1),
        "caption_template": NON_EMPTY,
        "clip_weights": NON_EMPTY,
        "sample_prompts": NON_EMPTY,
        "metrics": NON_EMPTY,
        "metrics_every": at_least(0),  # 0: never
        "metrics_num_images": at_least(2),
    },
)
