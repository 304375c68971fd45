"""Typed configurations for every network, named presets, and their JSON form.

A config fully describes a model: `from_pretrained(dir)` rebuilds the network from the
`config.json` beside its weights and needs nothing else.

Per-level lists (`channels`, `blocks`, `kernels`, `attention`) run from the coarsest level (4x4)
to the finest (the output resolution), one entry per power-of-two resolution.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from gigagan.errors import GigaGANError

T = TypeVar("T")
PresetT = TypeVar("PresetT")


@dataclass
class CLIPConfig:
    """Which open_clip tower to build and where its weights come from.

    `pretrained` is a local checkpoint file, an open_clip pretrained tag (e.g. "openai", which
    needs internet the first time), or None for random initialisation. `text_overrides` and
    `vision_overrides` are merged into the architecture's open_clip `text_cfg` / `vision_cfg`,
    which is how toy towers for tests and CPU presets are made.
    """

    model_name: str = "ViT-L-14"
    pretrained: str | None = None
    embed_dim: int | None = None
    text_overrides: dict[str, Any] = field(default_factory=dict)
    vision_overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class TextEncoderConfig:
    """CLIP text tower plus the learned transformer layers `T` on top of it."""

    clip: CLIPConfig = field(default_factory=CLIPConfig)
    clip_layer: int = -2  # which CLIP block's output feeds T; -2 is the penultimate (the paper's)
    # "layer": T reads the output of block `clip_layer` (right for pretrained CLIP). "token_embeddings":
    # T reads the tower's input embeddings (token + position), layer-normalised, and the tower's blocks
    # are not run: for randomly initialised toy towers, whose blocks mix the words into an entangled
    # code that the generator learns from far more slowly (see docs/RESULTS.md).
    clip_features: str = "layer"
    train_clip: bool = False
    num_layers: int = 4
    num_heads: int = 8
    ff_mult: int = 4


@dataclass
class GeneratorConfig:
    """Text-conditioned StyleGAN-like generator with adaptive kernels and attention."""

    resolution: int = 64
    z_dim: int = 128
    w_dim: int = 1024
    mapping_layers: int = 4
    mapping_lr_multiplier: float = 0.01
    text: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    channels: list[int] = field(default_factory=lambda: [1024, 1024, 1024, 512, 256])
    blocks: list[int] = field(default_factory=lambda: [2, 2, 2, 2, 2])  # two modulated convs each
    kernels: list[int] = field(default_factory=lambda: [8, 8, 8, 8, 8])  # adaptive kernel bank size
    attention: list[bool] = field(default_factory=lambda: [True, True, True, True, False])
    attention_head_dim: int = 64
    ff_mult: int = 4
    kernel_size: int = 3

    @property
    def num_levels(self) -> int:
        return int(math.log2(self.resolution)) - 1

    @property
    def resolutions(self) -> list[int]:
        """Pyramid resolutions from coarsest (4) to finest (`resolution`)."""
        return [4 * 2**i for i in range(self.num_levels)]

    def validate(self) -> None:
        _check_resolution(self.resolution)
        _check_per_level(self, ("channels", "blocks", "kernels", "attention"), self.num_levels)
        if any(b < 1 for b in self.blocks) or any(k < 1 for k in self.kernels):
            raise GigaGANError("generator blocks and kernels must be at least 1 at every level")
        if self.z_dim < 1 or self.w_dim < 1 or self.mapping_layers < 1:
            raise GigaGANError("z_dim, w_dim and mapping_layers must be positive")


@dataclass
class VisionAidedConfig:
    """Frozen CLIP image tower with trainable, text-conditioned heads (vision-aided D)."""

    clip: CLIPConfig = field(default_factory=lambda: CLIPConfig(model_name="ViT-B-32"))
    tap_layers: list[int] = field(default_factory=lambda: [-1])  # CLIP blocks whose tokens feed heads
    head_channels: int = 512
    head_layers: int = 2


@dataclass
class DiscriminatorConfig:
    """Multi-scale input, multi-scale output discriminator with a text branch."""

    resolution: int = 64
    channels: list[int] = field(default_factory=lambda: [1024, 1024, 1024, 512, 256])
    blocks: list[int] = field(default_factory=lambda: [1, 1, 1, 1, 1])  # residual blocks per level
    attention: list[bool] = field(default_factory=lambda: [False, False, False, False, False])
    text_width: int = 768  # width of the CLIP text features the text branch reads
    text_layers: int = 2
    text_heads: int = 8
    t_dim: int = 512  # size of the global text code t_D
    # 0: t_D from the EOT token (the paper); k > 0: from the tokens attention-pooled by k learned
    # queries, each free to read one word (see discriminator.AttentionPool)
    text_pool_queries: int = 0
    # every MS-I/O head's logit is the projection term <h, embed(t_D)> alone, with no unconditional
    # logit (StyleGAN2-ADA's and StyleGAN-T's conditional heads; see discriminator.PredictionHead);
    # the vision-aided heads keep theirs
    projection_only: bool = False
    head_channels: int = 256
    attention_head_dim: int = 64
    vision_aided: VisionAidedConfig | None = None
    # the coarsest (4x4) depth predicts one logit per image from all its positions (see DenseHead)
    dense_final_head: bool = False
    # the dense head's image embedding also reads the spatial mean of the coarsest features, so what
    # an object looks like is learned once for every place it can be (see DenseHead)
    dense_head_pooled: bool = False
    # learned position embeddings on the features every head reads (see MultiScaleDiscriminator)
    head_positions: bool = False
    # one prediction head per (input level, output depth) pair instead of one per depth shared by
    # every input level (see MultiScaleDiscriminator)
    separate_heads: bool = False
    # the coarsest depth's heads also read the 4x4 image itself (3 channels concatenated to every
    # path's features there): a path fed detail bands sees an object only as contrast to a background
    # it never sees, so without this no path can tell the object's absolute colour
    head_reads_coarsest_image: bool = False
    # what each pyramid level but the coarsest feeds D: "image" (the level itself, the paper's MS-I),
    # "bands" (its detail band: level minus the upsampled next coarser level), "detail" (level minus
    # the upsampled coarsest level: zero on a flat field, an object's whole area and colour contrast
    # on a real picture), "centred" (level minus its own mean colour: the whole picture up to a
    # constant, so fill and outline are judged together), "bands+image" (band and image stacked
    # as 6 channels) or "bands+detail" (band and detail stacked: both zero on a flat field, and the
    # detail shows the finer levels composed, which no band alone does), "bands+finest_detail" (bands,
    # but the finest level enters as its detail: one path that sees the picture composed),
    # "bands+finest_image" (bands, but the finest level enters as the image itself: one path that
    # sees absolute colours, which bands show only as contrast to the background); the coarsest level always
    # enters as the image
    input_mode: str = "image"
    # how the trunk halves the resolution between depths (see discriminator.DownsampleBlock): "blur"
    # (low-pass, subsample, then a 3x3 convolution), "strided" (a 4x4 stride-2 convolution on the
    # full-resolution map) or "conv_first" (3x3 convolution, then low-pass and subsample)
    downsample: str = "blur"

    @property
    def num_levels(self) -> int:
        return int(math.log2(self.resolution)) - 1

    @property
    def resolutions(self) -> list[int]:
        return [4 * 2**i for i in range(self.num_levels)]

    def validate(self) -> None:
        _check_resolution(self.resolution)
        _check_per_level(self, ("channels", "blocks", "attention"), self.num_levels)
        if self.input_mode not in DISCRIMINATOR_INPUT_MODES:
            modes = ", ".join(DISCRIMINATOR_INPUT_MODES)
            raise GigaGANError(f"discriminator input_mode must be one of {modes}, got {self.input_mode!r}")
        if self.downsample not in DISCRIMINATOR_DOWNSAMPLE_MODES:
            modes = ", ".join(DISCRIMINATOR_DOWNSAMPLE_MODES)
            raise GigaGANError(f"discriminator downsample must be one of {modes}, got {self.downsample!r}")
        if self.dense_head_pooled and not self.dense_final_head:
            raise GigaGANError("discriminator dense_head_pooled needs dense_final_head")


DISCRIMINATOR_DOWNSAMPLE_MODES = ("blur", "strided", "conv_first")
DISCRIMINATOR_INPUT_MODES = (
    "image",
    "bands",
    "detail",
    "centred",
    "bands+image",
    "bands+detail",
    "bands+finest_detail",
    "bands+finest_image",
)


@dataclass
class ModelConfig:
    """A named pair of generator and discriminator configs (what a preset is)."""

    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)

    def validate(self) -> None:
        self.generator.validate()
        self.discriminator.validate()
        if self.generator.resolution != self.discriminator.resolution:
            raise GigaGANError("generator and discriminator resolutions differ")


@dataclass
class LossConfig:
    """Weights and schedules of every loss term (GigaGAN section 3.4)."""

    r1_gamma: float = 0.2048
    r1_interval: int = 16  # lazy R1: every N discriminator steps, scaled by N
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
    # coarsest depth only; the finer per-position heads are left out of training)
    predictions: str = "all"
    # D's phase judges the G phase's fakes (drawn before G's update, detached) instead of a fresh
    # batch from the updated G: one generator forward less per step
    reuse_generator_fakes: bool = False
    clip_weight: float = 0.2  # CLIP contrastive loss on generated images (needs CLIP weights)
    vision_aided_weight: float = 0.5  # vision-aided discriminator (needs CLIP weights)
    augment: bool = False  # differentiable translation / colour / cutout for small datasets

    def validate(self) -> None:
        for name, choices in (
            ("mismatch", MISMATCH_STRATEGIES),
            ("fake_pyramid", FAKE_PYRAMIDS),
            ("predictions", LOSS_PREDICTIONS),
        ):
            value = getattr(self, name)
            if value not in choices:
                raise GigaGANError(f"loss.{name} must be one of {', '.join(choices)}, got {value!r}")


MISMATCH_STRATEGIES = ("random", "similar", "mixed", "swap", "random+swap")
FAKE_PYRAMIDS = ("generator", "downsampled")
LOSS_PREDICTIONS = ("all", "coarsest")


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


def _check_resolution(resolution: int) -> None:
    if resolution < 4 or resolution & (resolution - 1):
        raise GigaGANError(f"resolution must be a power of two of at least 4, got {resolution}")


def _check_per_level(config: Any, names: tuple[str, ...], num_levels: int) -> None:
    for name in names:
        values = getattr(config, name)
        if len(values) != num_levels:
            raise GigaGANError(
                f"{type(config).__name__}.{name} needs {num_levels} entries (one per level from 4 to "
                f"{config.resolution}), got {len(values)}"
            )


# --------------------------------------------------------------------------------------------
# JSON round trip


def config_to_dict(config: Any) -> dict[str, Any]:
    """A plain, JSON-ready dict of a (nested) config dataclass."""
    return dataclasses.asdict(config)


def config_from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild a config dataclass from `config_to_dict` output; unknown keys are refused."""
    if not isinstance(data, dict):
        raise GigaGANError(f"{cls.__name__} must be a JSON object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise GigaGANError(f"unknown {cls.__name__} fields: {', '.join(unknown)}")
    values = {}
    for name, value in data.items():
        nested = _dataclass_in(hints[name])
        if nested and value is not None:
            value = config_from_dict(nested, value)
        elif typing.get_origin(hints[name]) is tuple and isinstance(value, list):
            value = tuple(value)
        values[name] = value
    return cls(**values)


def _dataclass_in(hint: Any) -> type | None:
    """The dataclass type inside a hint such as `X` or `X | None`, else None."""
    if dataclasses.is_dataclass(hint):
        return hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            if dataclasses.is_dataclass(arg):
                return arg
    return None


def config_to_json(config: Any) -> str:
    return json.dumps(config_to_dict(config), indent=2, sort_keys=True)


# --------------------------------------------------------------------------------------------
# Presets


def toy_clip(model_name: str, width: int, layers: int, heads: int, image_size: int = 32) -> CLIPConfig:
    """A small, randomly initialised open_clip architecture (real tokenizer, tiny towers)."""
    return CLIPConfig(
        model_name=model_name,
        embed_dim=width,
        text_overrides={"width": width, "layers": layers, "heads": heads},
        vision_overrides={
            "image_size": image_size,
            "patch_size": 8,
            "width": width,
            "layers": layers,
            "head_width": width // heads,
        },
    )


def _tiny() -> ModelConfig:
    clip = toy_clip("ViT-B-32", width=32, layers=1, heads=2)
    text = TextEncoderConfig(clip=clip, clip_layer=-1, num_layers=1, num_heads=2, ff_mult=2)
    generator = GeneratorConfig(
        resolution=32,
        z_dim=16,
        w_dim=32,
        mapping_layers=2,
        text=text,
        channels=[32, 32, 16, 16],
        blocks=[1, 1, 1, 1],
        kernels=[2, 2, 2, 1],
        attention=[False, True, True, False],
        attention_head_dim=8,
        ff_mult=2,
    )
    discriminator = DiscriminatorConfig(
        resolution=32,
        channels=[32, 32, 16, 16],
        blocks=[1, 1, 1, 1],
        attention=[False, True, False, False],
        text_width=32,
        text_layers=1,
        text_heads=2,
        t_dim=32,
        head_channels=16,
        attention_head_dim=8,
        vision_aided=VisionAidedConfig(clip=clip, tap_layers=[-1], head_channels=32, head_layers=1),
    )
    return ModelConfig(generator, discriminator)


def _quickstart() -> ModelConfig:
    clip = toy_clip("ViT-B-32", width=128, layers=2, heads=4)
    # The toy tower is randomly initialised: T reads its token embeddings, not its entangled block outputs.
    text = TextEncoderConfig(
        clip=clip, clip_layer=-1, clip_features="token_embeddings", num_layers=2, num_heads=4, ff_mult=2
    )
    generator = GeneratorConfig(
        resolution=32,
        z_dim=64,
        w_dim=256,
        mapping_layers=2,
        text=text,
        channels=[128, 96, 48, 24],  # narrow fine levels: ~2.7x the images/s of 192/192/128/64 on 2 cores
        blocks=[1, 1, 1, 1],
        kernels=[2, 2, 2, 1],
        attention=[False, True, True, False],
        attention_head_dim=32,
        ff_mult=2,
    )
    discriminator = DiscriminatorConfig(
        resolution=32,
        channels=[96, 64, 32, 16],
        blocks=[1, 1, 1, 1],
        attention=[False, False, False, False],
        text_width=128,
        text_layers=1,
        text_heads=4,
        t_dim=128,
        head_channels=64,
        attention_head_dim=32,
        vision_aided=VisionAidedConfig(clip=toy_clip("ViT-B-32", width=128, layers=2, heads=4), head_channels=64),
        # the image-pyramid D with per-position heads never asked for the object (flat fields):
        # detail bands and a position-aware 4x4 head let it (docs/RESULTS.md, issue 16 bisection).
        # The detail (each level minus the upsampled 4x4 image) stacked on each band shows the
        # object's whole area, not only its outline: filled objects and size 0.59-0.72 against
        # 0.47-0.48 with bands alone, colour and placement as good (runs C2-C5)
        input_mode="bands+detail",
        dense_final_head=True,
        # t_D from 4 attention-pooling queries over the caption's tokens, and heads whose logit is
        # the caption's projection alone: t_D keeps the object's colour through training (0.80 vs
        # 0.06-0.40 from the EOT token) and 10-minute runs draw it 0.29-0.32 over three seeds with
        # position 0.99 (docs/RESULTS.md, Z16-Z20)
        text_pool_queries=4,
        projection_only=True,
        # 4x4 stride-2 convolutions between depths: with the blur-then-subsample blocks no filter
        # reads full-resolution detail through a downsampling step, and the object's shape stayed
        # at chance (0.22 after 1,225 steps on the nine-position sprint) where strided
        # downsampling reaches 0.76 after 1,138 (docs/RESULTS.md, runs E2, H3, H5)
        downsample="strided",
    )
    return ModelConfig(generator, discriminator)


def _cifar10() -> ModelConfig:
    clip = toy_clip("ViT-B-32", width=256, layers=4, heads=4)
    text = TextEncoderConfig(clip=clip, clip_layer=-1, train_clip=True, num_layers=2, num_heads=4)
    generator = GeneratorConfig(
        resolution=32,
        z_dim=128,
        w_dim=512,
        mapping_layers=4,
        text=text,
        channels=[512, 512, 256, 256],
        blocks=[2, 2, 2, 2],
        kernels=[4, 4, 4, 2],
        attention=[False, True, True, False],
        attention_head_dim=64,
    )
    discriminator = DiscriminatorConfig(
        resolution=32,
        channels=[512, 512, 256, 256],
        blocks=[1, 1, 1, 1],
        attention=[False, False, False, False],
        text_width=256,
        text_layers=1,
        text_heads=4,
        t_dim=256,
        head_channels=128,
        vision_aided=None,
    )
    return ModelConfig(generator, discriminator)


def _paper_scale(
    channels: list[int],
    blocks: list[int],
    kernels: list[int],
    attention: list[bool],
    d_channels: list[int],
    d_blocks: list[int],
    d_attention: list[bool],
    text_layers: int,
    d_text_layers: int,
    vision_head_channels: int,
    head_channels: int,
) -> ModelConfig:
    text = TextEncoderConfig(clip=CLIPConfig(model_name="ViT-L-14"), clip_layer=-2, num_layers=text_layers)
    generator = GeneratorConfig(
        resolution=64,
        z_dim=128,
        w_dim=1024,
        mapping_layers=4,
        text=text,
        channels=channels,
        blocks=blocks,
        kernels=kernels,
        attention=attention,
    )
    discriminator = DiscriminatorConfig(
        resolution=64,
        channels=d_channels,
        blocks=d_blocks,
        attention=d_attention,
        text_width=768,
        text_layers=d_text_layers,
        text_heads=12,
        t_dim=512,
        head_channels=head_channels,
        vision_aided=VisionAidedConfig(
            clip=CLIPConfig(model_name="ViT-B-32"), tap_layers=[3, 7, 11], head_channels=vision_head_channels
        ),
    )
    return ModelConfig(generator, discriminator)


def _base() -> ModelConfig:
    return _paper_scale(
        channels=[512, 512, 512, 512, 256],
        blocks=[2, 2, 2, 2, 2],
        kernels=[2, 3, 3, 2, 2],
        attention=[True, True, True, False, False],
        d_channels=[512, 512, 512, 256, 128],
        d_blocks=[1, 1, 1, 1, 1],
        d_attention=[False, False, False, False, False],
        text_layers=2,
        d_text_layers=1,
        vision_head_channels=256,
        head_channels=256,
    )


def _giga() -> ModelConfig:
    return _paper_scale(
        channels=[1024, 1024, 1024, 512, 256],
        blocks=[2, 2, 2, 2, 2],
        kernels=[4, 4, 4, 3, 2],
        attention=[True, True, True, True, False],
        d_channels=[1536, 1536, 1024, 1024, 512],
        d_blocks=[3, 2, 2, 2, 2],
        d_attention=[False, False, False, False, False],
        text_layers=4,
        d_text_layers=2,
        vision_head_channels=512,
        head_channels=512,
    )


class PresetRegistry(Generic[PresetT]):
    """Named config factories with one-line descriptions; `get` returns a fresh, validated copy."""

    def __init__(self, kind: str, presets: dict[str, tuple[Callable[[], PresetT], str]]) -> None:
        self.kind = kind
        self.presets = presets

    def describe(self) -> dict[str, str]:
        """Preset names and one-line descriptions."""
        return {name: description for name, (_, description) in self.presets.items()}

    def get(self, name: str) -> PresetT:
        if name not in self.presets:
            raise GigaGANError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.presets)}")
        config = copy.deepcopy(self.presets[name][0]())
        config.validate()  # type: ignore[attr-defined]
        return config


PRESETS = PresetRegistry(
    "preset",
    {
        "tiny": (_tiny, "unit tests: a forward pass in well under a second"),
        "quickstart": (_quickstart, "32px, trains on 2 CPU cores in minutes"),
        "cifar10": (_cifar10, "32px, CIFAR-10 class captions"),
        "base": (_base, "64px, ~160M generator (the paper's 'deeper' ablation step)"),
        "giga": (_giga, "64px, the paper's base model: 652.5M G, 381.4M D"),
    },
)


def list_presets() -> dict[str, str]:
    """Preset names and one-line descriptions."""
    return PRESETS.describe()


def get_preset(name: str) -> ModelConfig:
    """A fresh copy of a named preset's ModelConfig."""
    return PRESETS.get(name)


# Training settings that suit each preset better than TrainConfig's defaults (which follow the
# paper). A run's --config file and command-line flags go on top of these.
PRESET_TRAINING: dict[str, dict[str, Any]] = {
    # D at 1.6x G's learning rate (docs/RESULTS.md, run X9), and D judges the pyramid downsampled from
    # G's finest image: objects placed at 98% of held-out prompts after 5 minutes on one thread in
    # both replicates, against 7.5-10 minutes and 0.66-0.98 with G's own pyramid (runs Y4, Y5)
    # The contrastive term at 0.3 lifts the object's colour from 0.29-0.32 to 0.40-0.46 in 10-minute
    # runs over four seeds (runs C2-C5; weight 1 was worse).
    # Batch 8 makes 1.7x the steps of batch 16 in the same time, and on these small images the
    # object's colour and shape arrive after a number of updates more than of images: colour 0.99
    # and size 0.87 after 15 minutes on one thread against 0.94 and 0.84 (runs V1, B1).
    "quickstart": {
        "batch_size": 8,
        "lr_discriminator": 0.004,
        # D judges the G phase's fakes: 8% less time per step (docs/RESULTS.md, 2026-12-07)
        "loss": {
            "r1_gamma": 0.05,
            "fake_pyramid": "downsampled",
            "contrastive_weight": 0.3,
            "reuse_generator_fakes": True,
        },
    },
}


def _merged(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """`base` with `update` on top, nested dicts merged key by key."""
    merged = dict(base)
    for key, value in update.items():
        nested = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = _merged(merged[key], value) if nested else value
    return merged


def with_overrides(config: T, overrides: dict[str, Any]) -> T:
    """A copy of a config dataclass with a nested dict of field values on top (unknown keys refused)."""
    return config_from_dict(type(config), _merged(config_to_dict(config), overrides))


def preset_training(name: str | None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The TrainConfig for a preset (its PRESET_TRAINING entry on TrainConfig's defaults), with
    `overrides` (e.g. a config file's "training" object) on top."""
    return config_from_dict(TrainConfig, _merged(PRESET_TRAINING.get(name or "", {}), overrides or {}))
