"""Named presets of the text-to-image model, and the training settings that suit each preset."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Generic, TypeVar

from gigagan.config.model import (
    CLIPConfig,
    DiscriminatorConfig,
    GeneratorConfig,
    ModelConfig,
    TextEncoderConfig,
    VisionAidedConfig,
)
from gigagan.config.training import TrainConfig
from gigagan.config.validation import config_from_dict, config_to_dict
from gigagan.errors import GigaGANError

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "PRESET_TRAINING",
    "PresetRegistry",
    "get_preset",
    "list_presets",
    "preset_training",
    "toy_clip",
    "with_overrides",
]

T = TypeVar("T")
PresetT = TypeVar("PresetT")

DEFAULT_PRESET = "quickstart"  # of `gigagan train` and `gigagan info`


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


# the discriminator fields of its text conditioning and heads (DiscriminatorConfig and UpsamplerDiscriminatorConfig)
TEXT_HEAD_FIELDS = ("text_width", "text_layers", "text_heads", "t_dim", "head_channels", "attention_head_dim")


def fields_of(config: Any, *names: str) -> dict[str, Any]:
    """The named fields of a config, as keyword arguments for another config that shares them."""
    return {name: getattr(config, name) for name in names}


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


def _cifar10_small() -> ModelConfig:
    """The `quickstart` networks (adaptive kernels, attention, MS-I/O D reading the bands+detail
    pyramid through strided convolutions, pooled t_D) with a longer z for photographs. Wider fine
    levels (G 128/128/64/32, D 96/64/48/32) cost 1.4x the step time on 2 cores for 1.2x the
    parameters (measured beside another process; docs/RESULTS.md, CIFAR-10)."""
    model = _quickstart()
    return ModelConfig(replace(model.generator, z_dim=128), model.discriminator)


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
        "cifar10-small": (_cifar10_small, "32px, CIFAR-10 and other small photographs on 2 CPU cores"),
        "cifar10": (_cifar10, "32px, CIFAR-10 class captions, GPU-sized (125M G)"),
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


# The small presets' GAN: D at 1.6x G's learning rate (docs/RESULTS.md, run X9), and D judges the
# pyramid downsampled from G's finest image: objects placed at 98% of held-out prompts after 5
# minutes on one thread in both replicates, against 7.5-10 minutes and 0.66-0.98 with G's own
# pyramid (runs Y4, Y5). The contrastive term at 0.3 lifts the object's colour from 0.29-0.32 to
# 0.40-0.46 in 10-minute runs over four seeds (runs C2-C5; weight 1 was worse).
SMALL_GAN_TRAINING: dict[str, Any] = {
    "lr_discriminator": 0.004,
    # G's backward beside D's phase on two threads of one intra-op thread each: 0.73x the step
    # time of the sequential phases on one thread, the same result (docs/RESULTS.md, 2026-12-07)
    "overlap_phases": True,
    # D judges the G phase's fakes: 8% less time per step (docs/RESULTS.md, 2026-12-07).
    # The loss trains on the coarsest depth's predictions (one per input level) and D skips the
    # finer depths' heads: 0.84x the step time, and shape 0.31 after 4,000 steps against 0.15-0.20
    # by that step with every prediction (docs/RESULTS.md, 2026-12-07, run SB)
    "loss": {
        "r1_gamma": 0.05,
        "fake_pyramid": "downsampled",
        "contrastive_weight": 0.3,
        "reuse_generator_fakes": True,
        "predictions": "coarsest",
    },
}

# Each preset's training settings on TrainConfig's defaults (the learning rates are tuned for each
# preset's size, as in the paper). A run's --config file and command-line flags go on top of these.
PRESET_TRAINING: dict[str, dict[str, Any]] = {
    # Batch 8 makes 1.7x the steps of batch 16 in the same time, and on these small images the
    # object's colour and shape arrive after a number of updates more than of images: colour 0.99
    # and size 0.87 after 15 minutes on one thread against 0.94 and 0.84 (runs V1, B1).
    "quickstart": {
        **SMALL_GAN_TRAINING,
        "batch_size": 8,
        # G draws two of the batch's captions again from a second z and is rewarded for pictures
        # that differ (up to the real data's spread): its seeds spread 2-4x wider (pixel distance
        # 0.041 against 0.023; real renders 0.051) at equal accuracy for 1.13x the step time
        # (docs/RESULTS.md, 2026-12-07, runs N1-N4)
        "loss": {**SMALL_GAN_TRAINING["loss"], "diversity_weight": 1.0, "diversity_pairs": 2},
    },
    # 50,000 photographs are few for a GAN, so D sees them through differentiable augmentation
    # (translation, colour, cutout), as DiffAugment does. Without a diversity term the seeds of one
    # class collapse to one picture, more so the longer it trains; the term on the full-resolution
    # pictures made them differ with speckle (FID 138.7 against 123.7 after 1,683 steps), the same term
    # on pictures pooled to 8x8 with 2x the seed spread and FID 109.8, intra-class FID 215.4 against
    # 238.8, recall 0.017 against 0.001 (one run each; docs/RESULTS.md, CIFAR-10, E3).
    "cifar10-small": {
        **SMALL_GAN_TRAINING,
        "batch_size": 32,
        "loss": {
            **SMALL_GAN_TRAINING["loss"],
            "augment": True,
            "diversity_weight": 1.0,
            "diversity_pairs": 8,
            "diversity_cap": 0.3,
            "diversity_resolution": 8,
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
    return config_from_dict(TrainConfig, _merged(PRESET_TRAINING.get(name or "", {}), overrides or {}), "training")
