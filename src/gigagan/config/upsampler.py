"""Configurations and named presets of the GigaGAN upsampler and its discriminator.

The upsampler is an asymmetric U-Net. Its encoder starts at the input resolution and halves it
`len(encoder_channels) - 1` times; its decoder starts at that bottleneck and doubles the resolution
up to `input_resolution * scale_factor`. Encoder lists run from the input resolution downwards;
decoder lists (`channels`, `blocks`, `kernels`, `attention`) run from the bottleneck (coarsest) to
the output (finest), one entry per power-of-two resolution, like `GeneratorConfig`'s.

JSON round trip: `gigagan.config.config_to_dict` / `config_from_dict` are generic over nested
dataclasses and serve these configs unchanged.

How the paper-scale presets match the published sizes (trainable upsampler parameters, the frozen
CLIP ViT-L/14 text tower excluded, exactly as for the base generator's 652.5M; counted on the meta
device by `count_parameters`):

- `upsampler-64to256`, the paper's ImageNet 64->256 model (359.1M): 354.5M (-1.3%). Encoder
  64 -> 32 -> 16 -> 8 with channels 128, 256, 512, 768 (three downsampling blocks, one residual block
  per level); six decoder levels 8 ... 256 with channels 768, 768, 640, 512, 256, 128, two blocks
  (four modulated convolutions) per level, kernel banks 4, 4, 2, 2, 1, 1, self- plus
  cross-attention after every block at 8, 16 and 32. Text: 2 learned layers T (14.2M); mapping
  128 + 1024 -> 1024 x 4 (5.1M). Run with the empty prompt it is the unconditional ImageNet
  upsampler. Most parameters sit in the adaptive kernel banks at 8 and 16 px (108M and 123M).
- `upsampler-128to1024`, the paper's text-conditioned LAION model (693M): 695.6M (+0.4%). Encoder
  128 -> 64 -> 32 -> 16 with channels 128, 256, 512, 1024, one residual block per level; seven
  decoder levels 16 ... 1024 with channels 1024, 1024, 1024, 512, 256, 128, 64, two blocks per
  level, kernel banks 4, 4, 4, 2, 1, 1, 1, attention at 16, 32 and 64; 4 text layers (28.4M).
- `upsampler-64to512` is the same network one octave lower (the base generator's 64px output to
  512px): the network is fully convolutional, so it has the same 695.6M parameters.
The exact counts live in the tests (`tests/upsampler/test_upsampler_presets.py`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from gigagan.config.model import CLIPConfig, TextEncoderConfig
from gigagan.config.presets import TEXT_HEAD_FIELDS, PresetRegistry, fields_of, get_preset
from gigagan.config.validation import POSITIVE, FieldRule, at_least, check_fields, register_field_rules
from gigagan.errors import GigaGANError

__all__ = [
    "DEFAULT_UPSAMPLER_PRESET",
    "UPSAMPLER_PRESETS",
    "UpsamplerConfig",
    "UpsamplerDiscriminatorConfig",
    "UpsamplerModelConfig",
    "get_upsampler_preset",
    "list_upsampler_presets",
]

DEFAULT_UPSAMPLER_PRESET = "upsampler-tiny"  # of `gigagan train-upsampler`


def _is_power_of_two(value: int) -> bool:
    return value >= 1 and not value & (value - 1)


@dataclass
class UpsamplerConfig:
    """Text-conditioned GAN upsampler: residual encoder, modulated adaptive-kernel decoder."""

    input_resolution: int = 64  # training crop of the low-resolution input (inference takes any size)
    scale_factor: int = 8
    z_dim: int = 128
    w_dim: int = 1024
    mapping_layers: int = 4
    mapping_lr_multiplier: float = 0.01
    text: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    encoder_channels: list[int] = field(default_factory=lambda: [128, 256, 512, 1024])
    encoder_blocks: list[int] = field(default_factory=lambda: [1, 1, 1, 1])  # residual blocks per level
    channels: list[int] = field(default_factory=lambda: [1024, 1024, 1024, 512, 256, 128, 64])
    blocks: list[int] = field(default_factory=lambda: [2, 2, 2, 2, 2, 2, 2])  # two modulated convs each
    kernels: list[int] = field(default_factory=lambda: [4, 4, 4, 2, 1, 1, 1])
    attention: list[bool] = field(default_factory=lambda: [True, True, True, False, False, False, False])
    attention_head_dim: int = 64
    ff_mult: int = 4
    kernel_size: int = 3

    @property
    def num_downsamples(self) -> int:
        return len(self.encoder_channels) - 1

    @property
    def alignment(self) -> int:
        """Input sizes (and tile offsets) must be multiples of this: 2 ** num_downsamples."""
        return 2**self.num_downsamples

    @property
    def output_resolution(self) -> int:
        return self.input_resolution * self.scale_factor

    @property
    def encoder_resolutions(self) -> list[int]:
        """Encoder levels from the input resolution down to the bottleneck."""
        return [self.input_resolution >> i for i in range(len(self.encoder_channels))]

    @property
    def num_levels(self) -> int:
        """Decoder levels (= RGB pyramid levels), bottleneck to output."""
        return self.num_downsamples + int(math.log2(self.scale_factor)) + 1

    @property
    def resolutions(self) -> list[int]:
        """Decoder resolutions from the bottleneck (coarsest) to the output (finest)."""
        bottleneck = self.input_resolution >> self.num_downsamples
        return [bottleneck * 2**i for i in range(self.num_levels)]

    def validate(self) -> None:
        check_fields(self, "upsampler")
        if not _is_power_of_two(self.scale_factor) or self.scale_factor < 2:
            raise GigaGANError(f"scale_factor must be a power of two of at least 2, got {self.scale_factor}")
        if not self.encoder_channels:
            raise GigaGANError("encoder_channels needs at least one entry (the input level)")
        if len(self.encoder_blocks) != len(self.encoder_channels):
            raise GigaGANError(
                f"encoder_blocks needs {len(self.encoder_channels)} entries (one per encoder level), "
                f"got {len(self.encoder_blocks)}"
            )
        if self.input_resolution < 1 or self.input_resolution % self.alignment:
            raise GigaGANError(
                f"input_resolution {self.input_resolution} must be a positive multiple of {self.alignment} "
                f"(2 ** {self.num_downsamples} downsamplings)"
            )
        for name in ("channels", "blocks", "kernels", "attention"):
            values = getattr(self, name)
            if len(values) != self.num_levels:
                raise GigaGANError(
                    f"UpsamplerConfig.{name} needs {self.num_levels} entries (one per decoder level "
                    f"{self.resolutions[0]} ... {self.output_resolution}), got {len(values)}"
                )
        if min(self.encoder_channels + self.channels) < 1 or min(self.blocks + self.kernels) < 1:
            raise GigaGANError("upsampler channels, blocks and kernels must be at least 1 at every level")
        if min(self.encoder_blocks) < 0:
            raise GigaGANError("encoder_blocks must not be negative")
        if self.z_dim < 1 or self.w_dim < 1 or self.mapping_layers < 1:
            raise GigaGANError("z_dim, w_dim and mapping_layers must be positive")


@dataclass
class UpsamplerDiscriminatorConfig:
    """Multi-scale input / output discriminator of the upsampler, text-conditioned, with minibatch-std.

    It reads the finest `len(channels)` levels of the upsampler's pyramid; lists run from the
    coarsest of those levels to `resolution`."""

    resolution: int = 512
    channels: list[int] = field(default_factory=lambda: [1024, 1024, 1024, 512, 256, 128, 64])
    blocks: list[int] = field(default_factory=lambda: [1, 1, 1, 1, 1, 1, 1])
    attention: list[bool] = field(default_factory=lambda: [False] * 7)
    text_width: int = 768
    text_layers: int = 2
    text_heads: int = 8
    t_dim: int = 512
    head_channels: int = 256
    attention_head_dim: int = 64
    mbstd_group_size: int = 4  # samples per minibatch-std group (StyleGAN2's default)
    mbstd_channels: int = 1

    @property
    def num_levels(self) -> int:
        return len(self.channels)

    @property
    def resolutions(self) -> list[int]:
        return [self.resolution >> (self.num_levels - 1 - i) for i in range(self.num_levels)]

    def validate(self) -> None:
        check_fields(self, "upsampler_discriminator")
        if not _is_power_of_two(self.resolution):
            raise GigaGANError(f"discriminator resolution must be a power of two, got {self.resolution}")
        if not self.channels or self.resolution >> (self.num_levels - 1) < 1:
            raise GigaGANError(f"{self.num_levels} levels do not fit below {self.resolution}px")
        for name in ("blocks", "attention"):
            if len(getattr(self, name)) != self.num_levels:
                raise GigaGANError(f"UpsamplerDiscriminatorConfig.{name} needs {self.num_levels} entries")
        if self.mbstd_group_size < 1 or self.mbstd_channels < 0:
            raise GigaGANError("mbstd_group_size must be positive and mbstd_channels not negative")


@dataclass
class UpsamplerModelConfig:
    """A named pair of upsampler and discriminator configs (what an upsampler preset is)."""

    upsampler: UpsamplerConfig = field(default_factory=UpsamplerConfig)
    discriminator: UpsamplerDiscriminatorConfig = field(default_factory=UpsamplerDiscriminatorConfig)

    def validate(self) -> None:
        self.upsampler.validate()
        self.discriminator.validate()
        if self.upsampler.output_resolution != self.discriminator.resolution:
            raise GigaGANError("upsampler output and discriminator resolutions differ")
        if self.discriminator.num_levels > self.upsampler.num_levels:
            raise GigaGANError(
                f"the discriminator reads {self.discriminator.num_levels} pyramid levels; "
                f"the upsampler makes {self.upsampler.num_levels}"
            )


register_field_rules(
    UpsamplerConfig,
    {"mapping_lr_multiplier": POSITIVE, "encoder_blocks": at_least(0)}
    | dict.fromkeys(("input_resolution", "z_dim", "w_dim", "mapping_layers", "encoder_channels"), at_least(1))
    | dict.fromkeys(("channels", "blocks", "kernels", "attention_head_dim", "ff_mult", "kernel_size"), at_least(1)),
)
register_field_rules(
    UpsamplerDiscriminatorConfig,
    {"resolution": FieldRule(minimum=1, power_of_two=True), "blocks": at_least(0), "text_layers": at_least(0)}
    | {"mbstd_group_size": at_least(1), "mbstd_channels": at_least(0)}
    | dict.fromkeys(
        ("channels", "text_width", "text_heads", "t_dim", "head_channels", "attention_head_dim"), at_least(1)
    ),
)


# --------------------------------------------------------------------------------------------
# Presets


def _upsampler_tiny() -> UpsamplerModelConfig:
    # the tiny text-to-image preset's text encoder, mapping and discriminator text head, at 16 -> 64 px
    tiny = get_preset("tiny")
    upsampler = UpsamplerConfig(
        input_resolution=16,
        scale_factor=4,
        encoder_channels=[16, 32],
        encoder_blocks=[1, 1],
        channels=[32, 16, 16, 8],  # 8, 16, 32, 64
        blocks=[1, 1, 1, 1],
        kernels=[2, 2, 1, 1],
        attention=[True, False, False, False],
        **fields_of(tiny.generator, "z_dim", "w_dim", "mapping_layers", "text", "attention_head_dim", "ff_mult"),
    )
    discriminator = UpsamplerDiscriminatorConfig(
        resolution=64,
        channels=[32, 16, 16, 8],
        blocks=[1, 1, 1, 1],
        attention=[False, False, False, False],
        **fields_of(tiny.discriminator, *TEXT_HEAD_FIELDS),
    )
    return UpsamplerModelConfig(upsampler, discriminator)


def _paper_text(num_layers: int) -> TextEncoderConfig:
    return TextEncoderConfig(clip=CLIPConfig(model_name="ViT-L-14"), clip_layer=-2, num_layers=num_layers)


def _paper_discriminator(resolution: int, channels: list[int]) -> UpsamplerDiscriminatorConfig:
    return UpsamplerDiscriminatorConfig(
        resolution=resolution,
        channels=channels,
        blocks=[1] * len(channels),
        attention=[False] * len(channels),
        text_width=768,
        text_layers=1,
        text_heads=12,
        t_dim=512,
        head_channels=256,
    )


def _upsampler_64to256() -> UpsamplerModelConfig:
    upsampler = UpsamplerConfig(
        input_resolution=64,
        scale_factor=4,
        text=_paper_text(2),
        encoder_channels=[128, 256, 512, 768],  # 64, 32, 16, 8
        encoder_blocks=[1, 1, 1, 1],
        channels=[768, 768, 640, 512, 256, 128],  # 8 ... 256
        blocks=[2, 2, 2, 2, 2, 2],
        kernels=[4, 4, 2, 2, 1, 1],
        attention=[True, True, True, False, False, False],
    )
    return UpsamplerModelConfig(upsampler, _paper_discriminator(256, [1024, 768, 512, 256, 128]))


def _upsampler_128to1024(input_resolution: int = 128) -> UpsamplerModelConfig:
    upsampler = UpsamplerConfig(
        input_resolution=input_resolution,
        scale_factor=8,
        text=_paper_text(4),
        encoder_channels=[128, 256, 512, 1024],
        encoder_blocks=[1, 1, 1, 1],
        channels=[1024, 1024, 1024, 512, 256, 128, 64],
        blocks=[2, 2, 2, 2, 2, 2, 2],
        kernels=[4, 4, 4, 2, 1, 1, 1],
        attention=[True, True, True, False, False, False, False],
    )
    resolution = input_resolution * 8
    return UpsamplerModelConfig(upsampler, _paper_discriminator(resolution, [1024, 1024, 512, 256, 128, 64]))


def _upsampler_64to512() -> UpsamplerModelConfig:
    return _upsampler_128to1024(input_resolution=64)


UPSAMPLER_PRESETS = PresetRegistry(
    "upsampler preset",
    {
        "upsampler-tiny": (_upsampler_tiny, "unit tests: 16 -> 64 px (4x), a forward pass in well under a second"),
        "upsampler-64to256": (_upsampler_64to256, "64 -> 256 px (4x), the paper's ImageNet upsampler (359.1M)"),
        "upsampler-64to512": (_upsampler_64to512, "64 -> 512 px (8x), after the 64px base generator"),
        "upsampler-128to1024": (
            _upsampler_128to1024,
            "128 -> 1024 px (8x), the paper's text-conditioned model (693M)",
        ),
    },
)


def list_upsampler_presets() -> dict[str, str]:
    """Upsampler preset names and one-line descriptions."""
    return UPSAMPLER_PRESETS.describe()


def get_upsampler_preset(name: str) -> UpsamplerModelConfig:
    """A fresh copy of a named upsampler preset."""
    return UPSAMPLER_PRESETS.get(name)
