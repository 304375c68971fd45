"""Typed configurations of the text-to-image networks: generator, discriminator and their CLIP towers.

A config fully describes a model: `from_pretrained(dir)` rebuilds the network from the
`config.json` beside its weights and needs nothing else.

Per-level lists (`channels`, `blocks`, `kernels`, `attention`) run from the coarsest level (4x4)
to the finest (the output resolution), one entry per power-of-two resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from gigagan.config.validation import (
    NON_EMPTY,
    POSITIVE,
    RESOLUTION,
    FieldRule,
    at_least,
    check_fields,
    check_per_level,
    check_resolution,
    register_field_rules,
)
from gigagan.errors import GigaGANError

__all__ = [
    "DISCRIMINATOR_DOWNSAMPLE_MODES",
    "DISCRIMINATOR_INPUT_MODES",
    "TEXT_CLIP_FEATURES",
    "CLIPConfig",
    "DiscriminatorConfig",
    "GeneratorConfig",
    "ModelConfig",
    "TextEncoderConfig",
    "VisionAidedConfig",
]

TEXT_CLIP_FEATURES = ("layer", "token_embeddings")  # gigagan.models.text.CLIP_FEATURES (a test keeps them equal)


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


class PyramidLevels:
    """Levels of an image pyramid from 4 px to `resolution` (a config's field), doubling each time."""

    resolution: int

    @property
    def num_levels(self) -> int:
        return int(math.log2(self.resolution)) - 1

    @property
    def resolutions(self) -> list[int]:
        """Pyramid resolutions from coarsest (4) to finest (`resolution`)."""
        return [4 * 2**i for i in range(self.num_levels)]


@dataclass
class GeneratorConfig(PyramidLevels):
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

    def validate(self) -> None:
        check_fields(self, "generator")
        check_resolution(self.resolution)
        check_per_level(self, ("channels", "blocks", "kernels", "attention"), self.num_levels)
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
class DiscriminatorConfig(PyramidLevels):
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
    # StyleGAN's minibatch-std: `mbstd_channels` feature maps holding the spread of D's features over
    # groups of `mbstd_group_size` images enter every prediction head, so a batch of look-alike fakes
    # can be told from a batch of varied reals (0 channels: off)
    mbstd_group_size: int = 4
    mbstd_channels: int = 0

    def validate(self) -> None:
        check_fields(self, "discriminator")
        check_resolution(self.resolution)
        check_per_level(self, ("channels", "blocks", "attention"), self.num_levels)
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


register_field_rules(CLIPConfig, {"model_name": NON_EMPTY, "embed_dim": at_least(1)})
register_field_rules(
    TextEncoderConfig,
    {"clip_features": FieldRule(choices=TEXT_CLIP_FEATURES), "num_layers": at_least(0), "num_heads": at_least(1)}
    | {"ff_mult": at_least(1)},
)
register_field_rules(
    GeneratorConfig,
    {"resolution": RESOLUTION, "mapping_lr_multiplier": POSITIVE}
    | dict.fromkeys(("z_dim", "w_dim", "mapping_layers", "channels", "blocks", "kernels"), at_least(1))
    | dict.fromkeys(("attention_head_dim", "ff_mult", "kernel_size"), at_least(1)),
)
register_field_rules(VisionAidedConfig, {"head_channels": at_least(1), "head_layers": at_least(1)})
register_field_rules(
    DiscriminatorConfig,
    {
        "resolution": RESOLUTION,
        "blocks": at_least(0),
        "text_layers": at_least(0),
        "text_pool_queries": at_least(0),
        "mbstd_group_size": at_least(1),
        "mbstd_channels": at_least(0),
        "input_mode": FieldRule(choices=DISCRIMINATOR_INPUT_MODES),
        "downsample": FieldRule(choices=DISCRIMINATOR_DOWNSAMPLE_MODES),
    }
    | dict.fromkeys(
        ("channels", "text_width", "text_heads", "t_dim", "head_channels", "attention_head_dim"), at_least(1)
    ),
)
