"""The GigaGAN upsampler (text-conditioned super-resolution) and its discriminator.

Upsampler: an asymmetric U-Net. A residual encoder (the discriminator's `ResidualBlock` and
`DownsampleBlock`) reads the low-resolution image and halves it a few times; a decoder built like
the generator's synthesis network (modulated convolutions with sample-adaptive kernels driven by
`w`, per-pixel noise, self-attention with w as a token and cross-attention to `t_local`) doubles it
back up to the output resolution, concatenating the encoder features of the same resolution (skip
connections). Every decoder level has a toRGB; the pyramid starts from the input image itself:

    image_r = base_r + residual_r,   residual_r = upsample(residual_{r/2}) + toRGB_r(x_r)

where `base_r` is the input resized to r (antialiased down below the input size, bilinear up above
it). So every level is a complete image for the multi-scale discriminator, and the network only has
to learn the detail.

Noise: `noise_mode="const"` draws each layer's per-pixel noise from a hash of (seed, layer, global
pixel position), so any crop of an image gets the same noise as the whole image, which is what makes
tiled inference seamless (`gigagan.inference.tiling`). `"random"` draws fresh noise (training).

Discriminator: multi-scale input / multi-scale output like the base discriminator, with a
minibatch-standard-deviation feature in front of every prediction head. Its `forward` has the
base discriminator's signature and output, so the GAN losses of `gigagan.training.loss` apply.
"""

from __future__ import annotations

import functools
import itertools

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from gigagan.config.upsampler import UpsamplerConfig, UpsamplerDiscriminatorConfig
from gigagan.models.discriminator import DownsampleBlock, MultiScaleDiscriminator, ResidualBlock
from gigagan.models.generator import AttentionBlock, NoiseMode, TextConditionedModel, ToRGB
from gigagan.models.text import TextEncoding
from gigagan.nn import AdaptiveModulatedConv2d, EqualConv2d, image_pyramid, upsample2x
from gigagan.nn.equalized import leaky_relu_gain

# --------------------------------------------------------------------------------------------
# Position-keyed noise

_MASK32 = 0xFFFFFFFF


def _mix32(x: Tensor | int) -> Tensor | int:
    """A 32-bit integer hash (xor-shift-multiply); int64 tensors stay below 2**63 throughout."""
    x = (((x >> 16) ^ x) * 0x45D9F3B) & _MASK32
    x = (((x >> 16) ^ x) * 0x45D9F3B) & _MASK32
    return (x >> 16) ^ x


_NOISE_TABLE_BITS = 16


@functools.lru_cache(maxsize=4)
def _normal_quantiles(device: torch.device) -> Tensor:
    """2**16 equally likely values of a standard normal (its quantiles at (i + 0.5) / 2**16)."""
    count = 2**_NOISE_TABLE_BITS
    probabilities = (torch.arange(count, dtype=torch.float64) + 0.5) / count
    return torch.special.ndtri(probabilities).to(device=device, dtype=torch.float32)


def _to_int32_bits(x: Tensor) -> Tensor:
    """int64 values in [0, 2**32) -> int32 with the same 32 bits."""
    return torch.where(x >= 2**31, x - 2**32, x).to(torch.int32)


def _mix_int32(x: Tensor) -> Tensor:
    """Two xor-shift-multiply rounds on int32 bits (multiplication wraps modulo 2**32)."""
    x = x ^ ((x >> 16) & 0xFFFF)
    x = x * 0x45D9F3B
    x = x ^ ((x >> 16) & 0xFFFF)
    return x * 0x45D9F3B


def coordinate_noise(offsets: Tensor, height: int, width: int, salt: int) -> Tensor:
    """Standard normal noise [N, 1, height, width] that is a pure function of the global pixel
    position (offsets [N, 2] = top-left (y, x) of each crop) and `salt`: overlapping crops agree.

    Rows and columns get independent 32-bit keys; each pixel hashes the xor of its two keys in int32
    (a handful of operations) and reads one of 2**16 normal quantiles with the top 16 bits."""
    device = offsets.device
    offsets = offsets.to(torch.int64)
    ys = offsets[:, 0, None] + torch.arange(height, device=device)  # [N, H]
    xs = offsets[:, 1, None] + torch.arange(width, device=device)  # [N, W]
    row_keys = _to_int32_bits(_mix32((ys * 0x9E3779B1 + salt) & _MASK32))
    column_keys = _to_int32_bits(_mix32((xs * 0x85EBCA77 + _mix32(salt ^ 0x5BD1E995)) & _MASK32))
    hashed = _mix_int32(row_keys[:, :, None] ^ column_keys[:, None, :])  # [N, H, W]
    index = ((hashed >> (32 - _NOISE_TABLE_BITS)) & (2**_NOISE_TABLE_BITS - 1)).long()
    return _normal_quantiles(device)[index][:, None]


def _noise_salt(seed: int, layer: int) -> int:
    return int(_mix32((int(_mix32(seed & _MASK32)) + layer * 0x632BE5AB) & _MASK32))


# --------------------------------------------------------------------------------------------
# Upsampler


class UpsamplerLayer(nn.Module):
    """Adaptive modulated convolution, per-pixel noise (given by the caller), bias, leaky ReLU."""

    def __init__(self, in_channels: int, out_channels: int, config: UpsamplerConfig, num_kernels: int) -> None:
        super().__init__()
        self.conv = AdaptiveModulatedConv2d(in_channels, out_channels, config.kernel_size, config.w_dim, num_kernels)
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: Tensor, w: Tensor, noise: Tensor | None) -> Tensor:
        x = self.conv(x, w)
        if noise is not None:
            x = x + noise.to(x.dtype) * self.noise_strength
        return leaky_relu_gain(x + self.bias[None, :, None, None].to(x.dtype))


class EncoderLevel(nn.Module):
    """fromRGB (first level) or a downsampling block, then residual blocks."""

    def __init__(self, in_channels: int, out_channels: int, num_blocks: int, first: bool) -> None:
        super().__init__()
        self.enter = (
            EqualConv2d(in_channels, out_channels, 3, activation=True)
            if first
            else DownsampleBlock(in_channels, out_channels)
        )
        self.blocks = nn.Sequential(*(ResidualBlock(out_channels) for _ in range(num_blocks)))

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(self.enter(x))


class DecoderLevel(nn.Module):
    """One decoder resolution: blocks of two modulated convolutions (+ attention), then toRGB."""

    def __init__(self, level: int, in_channels: int, text_dim: int, config: UpsamplerConfig, layer_base: int) -> None:
        super().__init__()
        channels = config.channels[level]
        self.layers = nn.ModuleList()
        for block in range(config.blocks[level]):
            self.layers.append(
                UpsamplerLayer(in_channels if block == 0 else channels, channels, config, config.kernels[level])
            )
            self.layers.append(UpsamplerLayer(channels, channels, config, config.kernels[level]))
            if config.attention[level]:
                self.layers.append(
                    AttentionBlock(channels, text_dim, config.w_dim, config.attention_head_dim, config.ff_mult)
                )
        self.to_rgb = ToRGB(channels, config.w_dim)
        self.layer_base = layer_base  # global index of this level's first layer (keys the noise)
        self.resolution = config.resolutions[level]
        self.input_resolution = config.input_resolution

    @property
    def num_ws(self) -> int:
        return len(self.layers) + 1

    @property
    def num_noise_layers(self) -> int:
        return sum(isinstance(layer, UpsamplerLayer) for layer in self.layers)

    def _noise(self, x: Tensor, index: int, mode: NoiseMode, seed: int, offsets: Tensor | None) -> Tensor | None:
        if mode == "none":
            return None
        if mode == "random":
            return torch.randn_like(x[:, :1])
        if offsets is None:
            offsets = torch.zeros(x.shape[0], 2, dtype=torch.int64, device=x.device)
        level_offsets = offsets.to(torch.int64) * self.resolution // self.input_resolution  # exact: aligned offsets
        return coordinate_noise(level_offsets, x.shape[-2], x.shape[-1], _noise_salt(seed, self.layer_base + index))

    def forward(
        self,
        x: Tensor,
        ws: Tensor,
        text: Tensor,
        text_mask: Tensor,
        noise_mode: NoiseMode,
        noise_seed: int,
        noise_offsets: Tensor | None,
    ) -> tuple[Tensor, Tensor]:
        noise_index = 0
        for index, layer in enumerate(self.layers):
            if isinstance(layer, AttentionBlock):
                x = layer(x, ws[:, index], text, text_mask)
            else:
                x = layer(x, ws[:, index], self._noise(x, noise_index, noise_mode, noise_seed, noise_offsets))
                noise_index += 1
        return x, self.to_rgb(x, ws[:, -1])


def input_pyramid(images: Tensor, num_downsamples: int) -> list[Tensor]:
    """The input and its antialiased downsamplings, coarsest first: the pyramid's base images up to
    the input resolution (above it the base is the bilinear upsampling of the level below)."""
    return image_pyramid(images, num_downsamples + 1)[::-1]


class Upsampler(TextConditionedModel):
    """U(low-res image, z, prompt) -> image pyramid [finest (= input x scale_factor), ..., bottleneck].

    `forward` runs the whole path; `encode_text`, `map` (z -> w+) and `synthesize` (image, w+, text
    -> pyramid) are public for tiled inference and latent tools. Input images are [B, 3, H, W] in
    [-1, 1] with H and W multiples of `config.alignment`; any size works (fully convolutional)."""

    config_key = "upsampler"
    config_class = UpsamplerConfig
    weights_names = ("upsampler_ema.safetensors", "upsampler.safetensors")

    def __init__(self, config: UpsamplerConfig) -> None:
        super().__init__(config)
        text_dim = self.text_encoder.width
        self.encoder = nn.ModuleList()
        in_channels = 3
        for index, (channels, blocks) in enumerate(zip(config.encoder_channels, config.encoder_blocks)):
            self.encoder.append(EncoderLevel(in_channels, channels, blocks, first=index == 0))
            in_channels = channels
        # decoder level -> encoder level of the same resolution (the bottleneck level takes the
        # encoder output itself, so it needs no skip)
        encoder_at = {r: i for i, r in enumerate(config.encoder_resolutions)}
        self.skip_from = [encoder_at.get(r) if level > 0 else None for level, r in enumerate(config.resolutions)]
        self.decoder = nn.ModuleList()
        layer_base = 0
        for level in range(config.num_levels):
            skip = self.skip_from[level]
            level_in = in_channels + (config.encoder_channels[skip] if skip is not None else 0)
            decoder_level = DecoderLevel(level, level_in, text_dim, config, layer_base)
            self.decoder.append(decoder_level)
            layer_base += decoder_level.num_noise_layers
            in_channels = config.channels[level]
        self.ws_per_level = [level.num_ws for level in self.decoder]
        self.num_ws = sum(self.ws_per_level)
        self.gradient_checkpointing = False  # recompute each decoder level in backward to save memory

    def ws_slices(self) -> list[slice]:
        """Rows of w+ each decoder level reads, coarsest level first."""
        bounds = [0, *itertools.accumulate(self.ws_per_level)]
        return [slice(a, b) for a, b in itertools.pairwise(bounds)]

    def map(self, z: Tensor, text: TextEncoding) -> Tensor:
        """z [B, z_dim] -> w+ [B, num_ws, w_dim]."""
        return self.mapping(z, text.global_)[:, None, :].expand(-1, self.num_ws, -1)

    def encode_image(self, images: Tensor) -> list[Tensor]:
        """Encoder features, input resolution first."""
        features = []
        x = images
        for level in self.encoder:
            x = level(x)
            features.append(x)
        return features

    def synthesize(
        self,
        images: Tensor,
        ws: Tensor,
        text: Tensor,
        text_mask: Tensor,
        noise_mode: NoiseMode = "random",
        noise_seed: int = 0,
        noise_offsets: Tensor | None = None,
    ) -> list[Tensor]:
        """images [B, 3, H, W] in [-1, 1]; ws [B, num_ws, w_dim]; text [B, L, D] (or per level
        [B, num_levels, L, D]) with mask [B, L]. `noise_offsets` [B, 2] places each image in a larger
        one (input pixels, multiples of `config.alignment`) so const noise matches across tiles.
        Returns [finest, ..., coarsest] RGB images."""
        alignment = self.config.alignment
        if images.shape[-1] % alignment or images.shape[-2] % alignment:
            raise ValueError(f"input height and width must be multiples of {alignment}, got {tuple(images.shape[-2:])}")
        features = self.encode_image(images)
        bases = input_pyramid(images, self.config.num_downsamples)
        x = features[-1]
        residual: Tensor | None = None
        pyramid = []
        for index, (level, rows) in enumerate(zip(self.decoder, self.ws_slices())):
            if index > 0:
                x = upsample2x(x)
            skip = self.skip_from[index]
            if skip is not None:
                x = torch.cat([x, features[skip].to(x.dtype)], dim=1)
            level_text = text[:, index] if text.dim() == 4 else text
            level_mask = text_mask[:, index] if text_mask.dim() == 3 else text_mask
            arguments = (x, ws[:, rows], level_text, level_mask, noise_mode, noise_seed, noise_offsets)
            if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
                x, rgb = checkpoint(level, *arguments, use_reentrant=False)
            else:
                x, rgb = level(*arguments)
            if index < len(bases):  # at or below the input resolution: base + accumulated residual
                residual = rgb if residual is None else upsample2x(residual) + rgb
                pyramid.append(bases[index].to(residual.dtype) + residual)
            else:  # above it the base is itself upsampled, so upsampling the image is the same, cheaper
                pyramid.append(upsample2x(pyramid[-1]) + rgb)
        return pyramid[::-1]

    def empty_text(self, batch_size: int) -> TextEncoding:
        """The unconditional (empty prompt) text encoding for `batch_size` samples."""
        return self.encode_text(self.tokenize([""])).expand(batch_size)

    def forward(
        self,
        images: Tensor,
        z: Tensor,
        token_ids: Tensor | None = None,
        text: TextEncoding | None = None,
        noise_mode: NoiseMode = "random",
        noise_seed: int = 0,
        noise_offsets: Tensor | None = None,
    ) -> list[Tensor]:
        """Image pyramid [finest, ..., coarsest]; the finest is [B, 3, H * s, W * s] in about [-1, 1].
        With neither `token_ids` nor `text` the upsampler runs unconditionally (empty prompt)."""
        if text is None:
            text = self.encode_text(token_ids) if token_ids is not None else self.empty_text(images.shape[0])
        ws = self.map(z, text)
        return self.synthesize(images, ws, text.local, text.mask, noise_mode, noise_seed, noise_offsets)


# --------------------------------------------------------------------------------------------
# Discriminator


class UpsamplerDiscriminator(MultiScaleDiscriminator):
    """D(pyramid, CLIP text features or t_D) -> logits of every MS-I/O prediction.

    The base discriminator's trunk and output (no vision-aided branch), so the GAN, matching-aware
    and R1 losses apply unchanged; a minibatch-std feature enters every prediction head. It reads the
    finest `num_levels` levels of a pyramid; extra coarser levels are ignored."""

    config_key = "upsampler_discriminator"
    config_class = UpsamplerDiscriminatorConfig
    weights_names = ("upsampler_discriminator.safetensors",)

    def __init__(self, config: UpsamplerDiscriminatorConfig) -> None:
        super().__init__(config)

    def check_pyramid(self, pyramid: list[Tensor]) -> None:
        if len(pyramid) < self.num_levels:
            raise ValueError(f"expected at least {self.num_levels} pyramid levels, got {len(pyramid)}")
