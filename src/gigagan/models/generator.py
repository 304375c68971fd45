"""GigaGAN generator: text encoder, mapping network (w+), synthesis network with an image pyramid.

Every consumer of a style vector (each modulated convolution, each attention block, each toRGB)
owns one row of the w+ tensor [B, num_ws, w_dim]; rows are grouped by pyramid level, coarsest
first, so style mixing and prompt mixing pick levels by slicing rows. Cross-attention reads the
text tokens of its own level when per-level tokens [B, num_levels, L, D] are given.
"""

from __future__ import annotations

import itertools
from typing import Literal

import torch
from einops import rearrange
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from gigagan.config import GeneratorConfig, UpsamplerConfig
from gigagan.models.clip import CLIPTokenizer
from gigagan.models.pretrained import PretrainedModel
from gigagan.models.text import TextEncoder, TextEncoding
from gigagan.nn import AdaptiveModulatedConv2d, CrossAttention, EqualLinear, FeedForward, L2SelfAttention, upsample2x
from gigagan.nn.equalized import leaky_relu_gain

NoiseMode = Literal["random", "const", "none"]


def normalize_2nd_moment(x: Tensor, eps: float = 1e-8) -> Tensor:
    return x * torch.rsqrt(x.square().mean(dim=-1, keepdim=True) + eps)


class MappingNetwork(nn.Module):
    """MLP on [normalize(z), normalize(embed(t_global))] -> w."""

    def __init__(self, z_dim: int, text_dim: int, w_dim: int, num_layers: int, lr_multiplier: float = 0.01) -> None:
        super().__init__()
        self.embed_text = EqualLinear(text_dim, w_dim)
        dims = [z_dim + w_dim] + [w_dim] * num_layers
        self.layers = nn.Sequential(
            *(EqualLinear(a, b, lr_multiplier=lr_multiplier, activation=True) for a, b in itertools.pairwise(dims))
        )

    def forward(self, z: Tensor, t_global: Tensor) -> Tensor:
        x = torch.cat([normalize_2nd_moment(z), normalize_2nd_moment(self.embed_text(t_global))], dim=1)
        return self.layers(x)


class SynthesisLayer(nn.Module):
    """Adaptive modulated convolution, per-pixel noise, bias and leaky ReLU."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        resolution: int,
        config: GeneratorConfig,
        num_kernels: int,
        upsample: bool = False,
    ) -> None:
        super().__init__()
        self.conv = AdaptiveModulatedConv2d(
            in_channels, out_channels, config.kernel_size, config.w_dim, num_kernels, upsample=upsample
        )
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: Tensor, w: Tensor, noise_mode: NoiseMode = "random") -> Tensor:
        x = self.conv(x, w)
        if noise_mode == "random":
            x = x + torch.randn_like(x[:, :1]) * self.noise_strength
        elif noise_mode == "const":
            x = x + self.noise_const.to(x.dtype) * self.noise_strength
        return leaky_relu_gain(x + self.bias[None, :, None, None].to(x.dtype))


class ToRGB(nn.Module):
    """Modulated 1x1 convolution to RGB: no demodulation, no adaptive kernel."""

    def __init__(self, in_channels: int, w_dim: int) -> None:
        super().__init__()
        self.conv = AdaptiveModulatedConv2d(in_channels, 3, 1, w_dim, num_kernels=1, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(3))

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        return self.conv(x, w) + self.bias[None, :, None, None].to(x.dtype)


class AttentionBlock(nn.Module):
    """Self-attention (with w as an extra token), cross-attention to text, feed-forward.

    The last layer of each residual branch starts at zero, so a new block is the identity: with
    random branches the block roughly doubled the feature scale at every attention level, which
    made the generator's un-demodulated toRGB outputs large at initialisation and slowed fitting
    (4 images regressed from their captions: L1 0.39 after 250 steps, 0.09 without the attention
    blocks; zero-initialised branches remove the gap)."""

    def __init__(self, dim: int, text_dim: int, w_dim: int, head_dim: int, ff_mult: int) -> None:
        super().__init__()
        self.norm_self = nn.LayerNorm(dim)
        self.self_attention = L2SelfAttention(dim, head_dim, w_dim)
        self.norm_cross = nn.LayerNorm(dim)
        self.cross_attention = CrossAttention(dim, text_dim, head_dim)
        self.norm_ff = nn.LayerNorm(dim)
        self.ff = FeedForward(dim, ff_mult)
        for layer in self.branch_outputs():
            nn.init.zeros_(layer.weight)

    def branch_outputs(self) -> tuple[nn.Module, ...]:
        """The last layer of each residual branch (self-attention, cross-attention, feed-forward)."""
        return (self.self_attention.to_out, self.cross_attention.to_out, self.ff.net[-1])

    def forward(self, x: Tensor, w: Tensor, text: Tensor, text_mask: Tensor) -> Tensor:
        height = x.shape[-2]
        tokens = rearrange(x, "b c h w -> b (h w) c")
        tokens = tokens + self.self_attention(self.norm_self(tokens), w)
        tokens = tokens + self.cross_attention(self.norm_cross(tokens), text.to(tokens.dtype), text_mask)
        tokens = tokens + self.ff(self.norm_ff(tokens))
        return rearrange(tokens, "b (h w) c -> b c h w", h=height)


class SynthesisLevel(nn.Module):
    """All layers of one pyramid level: blocks of two convolutions (+ attention), then toRGB."""

    def __init__(self, level: int, in_channels: int, text_dim: int, config: GeneratorConfig) -> None:
        super().__init__()
        channels = config.channels[level]
        resolution = config.resolutions[level]
        kernels = config.kernels[level]
        self.layers = nn.ModuleList()
        for block in range(config.blocks[level]):
            first = block == 0
            self.layers.append(
                SynthesisLayer(
                    in_channels if first else channels,
                    channels,
                    resolution,
                    config,
                    kernels,
                    upsample=first and level > 0,
                )
            )
            self.layers.append(SynthesisLayer(channels, channels, resolution, config, kernels))
            if config.attention[level]:
                self.layers.append(
                    AttentionBlock(channels, text_dim, config.w_dim, config.attention_head_dim, config.ff_mult)
                )
        self.to_rgb = ToRGB(channels, config.w_dim)

    @property
    def num_ws(self) -> int:
        return len(self.layers) + 1

    def forward(
        self, x: Tensor, ws: Tensor, text: Tensor, text_mask: Tensor, noise_mode: NoiseMode
    ) -> tuple[Tensor, Tensor]:
        for index, layer in enumerate(self.layers):
            if isinstance(layer, AttentionBlock):
                x = layer(x, ws[:, index], text, text_mask)
            else:
                x = layer(x, ws[:, index], noise_mode)
        return x, self.to_rgb(x, ws[:, -1])


class SynthesisNetwork(nn.Module):
    """Learned 4x4 constant -> levels 4, 8, ..., resolution; returns the RGB pyramid, finest first."""

    def __init__(self, config: GeneratorConfig, text_dim: int) -> None:
        super().__init__()
        self.config = config
        self.const = nn.Parameter(torch.randn(config.channels[0], 4, 4))
        self.levels = nn.ModuleList()
        in_channels = config.channels[0]
        for level in range(config.num_levels):
            self.levels.append(SynthesisLevel(level, in_channels, text_dim, config))
            in_channels = config.channels[level]
        self.ws_per_level = [level.num_ws for level in self.levels]
        self.num_ws = sum(self.ws_per_level)
        self.gradient_checkpointing = False  # recompute each level in backward to save memory

    def ws_slices(self) -> list[slice]:
        """Rows of w+ each level reads, coarsest level first."""
        slices, start = [], 0
        for count in self.ws_per_level:
            slices.append(slice(start, start + count))
            start += count
        return slices

    def forward(self, ws: Tensor, text: Tensor, text_mask: Tensor, noise_mode: NoiseMode = "random") -> list[Tensor]:
        """ws [B, num_ws, w_dim]; text [B, L, D] shared by all levels or [B, num_levels, L, D] per level
        (mask [B, L] or [B, num_levels, L]). Returns [finest, ..., 4x4] RGB images."""
        x = self.const[None].expand(ws.shape[0], -1, -1, -1)
        rgb: Tensor | None = None
        pyramid = []
        for index, (level, rows) in enumerate(zip(self.levels, self.ws_slices())):
            level_text = text[:, index] if text.dim() == 4 else text
            level_mask = text_mask[:, index] if text_mask.dim() == 3 else text_mask
            if self.gradient_checkpointing and self.training and torch.is_grad_enabled():
                x, level_rgb = checkpoint(
                    level, x, ws[:, rows], level_text, level_mask, noise_mode, use_reentrant=False
                )
            else:
                x, level_rgb = level(x, ws[:, rows], level_text, level_mask, noise_mode)
            rgb = level_rgb if rgb is None else upsample2x(rgb) + level_rgb
            pyramid.append(rgb)
        return pyramid[::-1]


class TextConditionedModel(PretrainedModel):
    """What the generator and the upsampler share: their checked config, the text encoder T, the mapping
    network M (z, T's global feature -> w) and a CLIP tokenizer, built when first used."""

    def __init__(self, config: GeneratorConfig | UpsamplerConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.text_encoder = TextEncoder(config.text)
        self.mapping = MappingNetwork(
            config.z_dim, self.text_encoder.width, config.w_dim, config.mapping_layers, config.mapping_lr_multiplier
        )
        self._tokenizer: CLIPTokenizer | None = None

    @property
    def tokenizer(self) -> CLIPTokenizer:
        if self._tokenizer is None:
            self._tokenizer = CLIPTokenizer(self.config.text.clip)
        return self._tokenizer

    @property
    def device(self) -> torch.device:
        """Where the weights live (those of the mapping network)."""
        return self.mapping.embed_text.weight.device

    def tokenize(self, prompts: str | list[str]) -> Tensor:
        """CLIP token ids [B, 77] on the model's device."""
        return self.tokenizer(prompts).to(self.device)

    def encode_text(self, token_ids: Tensor) -> TextEncoding:
        return self.text_encoder(token_ids)


class Generator(TextConditionedModel):
    """G(z, prompt) -> image pyramid. `forward` runs the whole path; its parts are public for the
    latent-space tools: `encode_text`, `map` (z -> w+), `synthesis` (w+ -> pyramid)."""

    config_key = "generator"
    config_class = GeneratorConfig
    weights_names = ("generator_ema.safetensors", "generator.safetensors")

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__(config)
        self.synthesis = SynthesisNetwork(config, self.text_encoder.width)

    @property
    def num_ws(self) -> int:
        return self.synthesis.num_ws

    def map(self, z: Tensor, text: TextEncoding, truncation_psi: float = 1.0, w_center: Tensor | None = None) -> Tensor:
        """z [B, z_dim] -> w+ [B, num_ws, w_dim], optionally truncated toward `w_center` ([B or 1, w_dim])."""
        w = self.mapping(z, text.global_)
        if truncation_psi != 1.0:
            if w_center is None:
                raise ValueError("truncation needs a w_center (see mean_w)")
            w = w_center.lerp(w, truncation_psi)
        return w[:, None, :].expand(-1, self.num_ws, -1)

    @torch.no_grad()
    def mean_w(self, text: TextEncoding, num_samples: int = 1024, generator: torch.Generator | None = None) -> Tensor:
        """Prompt-conditional mean of w, [B, w_dim], estimated from `num_samples` draws of z per prompt."""
        means = []
        for row in range(text.global_.shape[0]):
            z = torch.randn(num_samples, self.config.z_dim, device=text.global_.device, generator=generator)
            t_global = text.global_[row : row + 1].expand(num_samples, -1)
            means.append(self.mapping(z, t_global).mean(dim=0))
        return torch.stack(means)

    def forward(
        self,
        z: Tensor,
        token_ids: Tensor | None = None,
        text: TextEncoding | None = None,
        noise_mode: NoiseMode = "random",
    ) -> list[Tensor]:
        """Image pyramid [finest, ..., 4x4], each [B, 3, r, r] in about [-1, 1]."""
        if text is None:
            if token_ids is None:
                raise ValueError("give token_ids or text")
            text = self.encode_text(token_ids)
        ws = self.map(z, text)
        return self.synthesis(ws, text.local, text.mask, noise_mode)
