"""GigaGAN discriminator: a text branch, a multi-scale input / multi-scale output (MS-I/O) image
branch, and an optional vision-aided branch on frozen CLIP image features.

MS-I/O: pyramid level i (0 = finest) enters the shared downsampling trunk at depth i through its
own fromRGB, and a text-conditioned head predicts at every depth j >= i, giving L(L+1)/2
predictions for L levels (15 for a 64px pyramid). Paths that share a depth run together as one
batch, so the whole pyramid costs about 1.33 trunk passes instead of five.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gigagan.config import DISCRIMINATOR_DOWNSAMPLE_MODES, DiscriminatorConfig, VisionAidedConfig
from gigagan.models.clip import build_vision_tower, clip_architecture, clip_image_size, clip_preprocess
from gigagan.models.pretrained import PretrainedModel
from gigagan.models.text import CLIPTextFeatures, TextLayers
from gigagan.nn import (
    AdaptiveModulatedConv2d,
    EqualConv2d,
    EqualLinear,
    FeedForward,
    L2SelfAttention,
    downsample2x,
    laplacian_bands,
    minibatch_std,
)
from gigagan.nn.equalized import LRELU_GAIN


@dataclass
class DiscriminatorOutput:
    """Logits of every prediction; `pairs[k]` = (input level, output level) of `multiscale[k]`."""

    multiscale: list[Tensor]  # each [B, r_j * r_j] (one logit per position of the output scale)
    pairs: list[tuple[int, int]]
    vision: list[Tensor]  # vision-aided heads, each [B, positions]; empty when disabled
    mismatched: list[Tensor] = dataclasses.field(default_factory=list)  # heads under `mismatched_text`
    # the dense head's image embedding of every path reaching it (each [B, C]) and the caption
    # embedding it scores them against ([B, C]): logit = <image, caption>, so every image can be
    # scored under every caption of the batch (the contrastive loss); empty without a dense head
    image_embeddings: list[Tensor] = dataclasses.field(default_factory=list)
    caption_embedding: Tensor | None = None


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection, same resolution and width."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = EqualConv2d(channels, channels, 3, activation=True)
        self.conv2 = EqualConv2d(channels, channels, 3, activation=True)

    def forward(self, x: Tensor) -> Tensor:
        return (x + self.conv2(self.conv1(x))) / math.sqrt(2)


class DownsampleBlock(nn.Module):
    """Halve the resolution and change the width, with a 1x1 skip path on the blurred, subsampled map.

    The main path by `mode`: "blur" low-passes and subsamples first, then a 3x3 convolution reads the
    half-resolution map; "strided" is a 4x4 stride-2 convolution on the full-resolution map (DCGAN's
    downsampling); "conv_first" a 3x3 convolution at full resolution, then low-pass and subsample.
    The last two let the convolution see full-resolution detail (edges and corners) before it is
    averaged away."""

    def __init__(self, in_channels: int, out_channels: int, mode: str = "blur") -> None:
        super().__init__()
        if mode not in DISCRIMINATOR_DOWNSAMPLE_MODES:
            raise ValueError(f"downsample mode must be one of {DISCRIMINATOR_DOWNSAMPLE_MODES}, got {mode!r}")
        self.mode = mode
        if mode == "strided":
            self.conv = EqualConv2d(in_channels, out_channels, 4, activation=True, stride=2)
        else:
            self.conv = EqualConv2d(in_channels, out_channels, 3, activation=True)
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        low = downsample2x(x)
        if self.mode == "blur":
            main = self.conv(low)
        elif self.mode == "strided":
            main = self.conv(x)
        else:
            main = downsample2x(self.conv(x))
        return (self.skip(low) + main) / math.sqrt(2)


class ImageSelfAttention(nn.Module):
    """Pre-norm L2 self-attention and feed-forward over the pixels of a feature map."""

    def __init__(self, channels: int, head_dim: int) -> None:
        super().__init__()
        self.norm_attention = nn.LayerNorm(channels)
        self.attention = L2SelfAttention(channels, head_dim)
        self.norm_ff = nn.LayerNorm(channels)
        self.ff = FeedForward(channels, 2)

    def forward(self, x: Tensor) -> Tensor:
        batch, channels, height, width = x.shape
        tokens = x.flatten(2).transpose(1, 2)
        tokens = tokens + self.attention(self.norm_attention(tokens))
        tokens = tokens + self.ff(self.norm_ff(tokens))
        return tokens.transpose(1, 2).reshape(batch, channels, height, width)


class PredictionHead(nn.Module):
    """Text-conditioned logits per position: a 1x1 convolution modulated by t_D, then an
    unconditional logit plus a projection term <h, embed(t_D)>; with `projection_only` the
    projection term alone (StyleGAN2-ADA's and StyleGAN-T's conditional heads), so that no logit
    can call an image real or fake without reading the caption."""

    def __init__(self, in_channels: int, head_channels: int, t_dim: int, projection_only: bool = False) -> None:
        super().__init__()
        self.conv = AdaptiveModulatedConv2d(in_channels, head_channels, 1, t_dim)
        self.bias = nn.Parameter(torch.zeros(head_channels))
        self.to_logit = None if projection_only else EqualConv2d(head_channels, 1, 1)
        self.embed_text = EqualLinear(t_dim, head_channels)
        self.projection_gain = 1.0 / math.sqrt(head_channels)

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        pre_activation = self.conv(x, t) + self.bias[None, :, None, None].to(x.dtype)
        # to_logit(h) + <h, embed(t)> * gain is linear in h = lrelu(.) * LRELU_GAIN: one per-sample
        # vector contracted with the unscaled activation, instead of full-size products per position.
        readout = self.embed_text(t) * self.projection_gain
        if self.to_logit is not None:
            readout = readout + self.to_logit.weight[0, :, 0, 0] * self.to_logit.weight_gain
        readout = (readout * LRELU_GAIN).to(x.dtype)
        # a product and a channel sum: 3x faster on CPU than the einsum's batched matrix-vector product
        logits = (F.leaky_relu(pre_activation, 0.2) * readout[:, :, None, None]).sum(dim=1)
        if self.to_logit is not None:
            logits = logits + self.to_logit.bias.to(x.dtype)
        return logits.flatten(1)


class DenseHead(nn.Module):
    """One text-conditioned logit per image from the whole coarsest feature map (StyleGAN2's
    epilogue): a fully connected layer over every position, then an unconditional logit plus a
    projection term <h, embed(t_D)> (the projection alone with `projection_only`, as in
    `PredictionHead`).

    A per-position head applies the same 1x1 function everywhere, so it can judge whether a patch
    looks real under the caption but not whether the right thing is in the right place: an empty
    field of the caption's background colour is, patch by patch, as real as a picture with its
    object. A dense head sees where things are, which is what lets D ask for the object. But its
    weights differ per position, so what the object looks like must be learned at every place
    anew; with `pooled`, h also gets a term from the features' spatial mean, shared by every place."""

    def __init__(
        self,
        in_channels: int,
        resolution: int,
        head_channels: int,
        t_dim: int,
        projection_only: bool = False,
        pooled: bool = False,
    ) -> None:
        super().__init__()
        self.dense = EqualLinear(in_channels * resolution * resolution, head_channels, activation=True)
        self.pooled = EqualLinear(in_channels, head_channels, activation=True) if pooled else None
        self.to_logit = None if projection_only else EqualLinear(head_channels, 1)
        self.embed_text = EqualLinear(t_dim, head_channels)
        self.projection_gain = 1.0 / math.sqrt(head_channels)

    def embed_image(self, x: Tensor) -> Tensor:
        """[B, C, r, r] features -> [B, head_channels] image embedding h."""
        h = self.dense(x.flatten(1))
        if self.pooled is not None:
            h = h + self.pooled(x.mean(dim=(2, 3)))
        return h

    def embed_caption(self, t: Tensor) -> Tensor:
        """[B, t_dim] t_D -> [B, head_channels], scaled so that <h, embed_caption(t)> is the projection term."""
        return self.embed_text(t) * self.projection_gain

    def score(self, h: Tensor, t: Tensor) -> Tensor:
        """Logits [B, 1] of image embeddings `h` under t_D `t`."""
        logits = (h * self.embed_caption(t).to(h.dtype)).sum(dim=1)
        if self.to_logit is not None:
            logits = logits + self.to_logit(h)[:, 0]
        return logits[:, None]

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        return self.score(self.embed_image(x), t)


class AttentionPool(nn.Module):
    """`num_queries` learned queries, each attending over the caption's tokens on its own: [B, L, width]
    -> [B, num_queries * width]. Each query can pick out one word (the object's colour, the
    background's), so the pooled code keeps them apart where one EOT token mixes them."""

    def __init__(self, width: int, num_queries: int) -> None:
        super().__init__()
        self.queries = nn.Parameter(torch.randn(num_queries, width))

    def forward(self, tokens: Tensor, mask: Tensor) -> Tensor:
        queries = self.queries.to(tokens.dtype).expand(tokens.shape[0], -1, -1)
        pooled = F.scaled_dot_product_attention(queries, tokens, tokens, attn_mask=mask[:, None, :])
        return pooled.flatten(1)


class TextBranch(nn.Module):
    """CLIP text features -> learned transformer layers -> pooled code -> MLP -> t_D.

    The pooled code is the EOT token (the paper's t_D), or with `pool_queries` > 0 the tokens
    attention-pooled by that many learned queries (see `AttentionPool`)."""

    def __init__(self, width: int, num_layers: int, num_heads: int, t_dim: int, pool_queries: int = 0) -> None:
        super().__init__()
        self.layers = TextLayers(width, num_layers, num_heads)
        self.pool = AttentionPool(width, pool_queries) if pool_queries > 0 else None
        pooled_width = width * max(pool_queries, 1)
        self.mlp = nn.Sequential(EqualLinear(pooled_width, t_dim, activation=True), EqualLinear(t_dim, t_dim))

    def forward(self, features: CLIPTextFeatures) -> Tensor:
        tokens, eot = self.layers(features)
        pooled = eot if self.pool is None else self.pool(tokens, features.mask)
        return self.mlp(pooled)


class VisionAidedDiscriminator(nn.Module):
    """Frozen CLIP image tower; trainable convolutional heads on the token grids of chosen blocks,
    each ending in a text-conditioned PredictionHead."""

    def __init__(self, config: VisionAidedConfig, t_dim: int) -> None:
        super().__init__()
        self.clip = build_vision_tower(config.clip)
        self.clip.requires_grad_(False)
        self.clip.eval()
        self.image_size = clip_image_size(config.clip)
        num_blocks = len(self.clip.transformer.resblocks)
        self.tap_layers = sorted({layer % num_blocks for layer in config.tap_layers})
        width = int(clip_architecture(config.clip)["vision_cfg"]["width"])
        self.heads = nn.ModuleList()
        for _ in self.tap_layers:
            convs = [EqualConv2d(width, config.head_channels, 1, activation=True)]
            convs += [
                EqualConv2d(config.head_channels, config.head_channels, 3, activation=True)
                for _ in range(config.head_layers - 1)
            ]
            self.heads.append(
                nn.ModuleDict(
                    {
                        "convs": nn.Sequential(*convs),
                        "predict": PredictionHead(config.head_channels, config.head_channels, t_dim),
                    }
                )
            )

    def train(self, mode: bool = True) -> VisionAidedDiscriminator:
        super().train(mode)
        self.clip.eval()  # the frozen tower stays in inference mode
        return self

    def forward(self, images: Tensor, t: Tensor) -> list[Tensor]:
        features = self.clip.forward_intermediates(
            clip_preprocess(images, self.image_size),
            indices=self.tap_layers,
            stop_early=True,
            normalize_intermediates=True,
            intermediates_only=True,
        )["image_intermediates"]
        return [head["predict"](head["convs"](f), t) for head, f in zip(self.heads, features)]


class MultiScaleDiscriminator(PretrainedModel):
    """The MS-I/O trunk shared by GigaGAN's discriminator and the upsampler's: a text branch (t_D),
    one fromRGB per pyramid level, residual blocks per depth, a text-conditioned head at every
    depth, and downsampling between depths. The config's `mbstd_channels` minibatch-std feature maps
    enter every head (`head_features`). With `dense_final_head` the coarsest depth predicts one logit
    per image through a `DenseHead` instead of one per position."""

    def __init__(
        self,
        config: Any,
        dense_final_head: bool = False,
        dense_head_pooled: bool = False,
        head_positions: bool = False,
        input_mode: str = "image",
        separate_heads: bool = False,
        head_reads_coarsest_image: bool = False,
        text_pool_queries: int = 0,
        projection_only: bool = False,
        downsample: str = "blur",
    ) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.num_levels = config.num_levels
        self.input_mode = input_mode
        self.text_branch = TextBranch(
            config.text_width,
            config.text_layers,
            config.text_heads,
            config.t_dim,
            pool_queries=text_pool_queries,
        )
        # Depth 0 is the finest resolution; config lists run coarsest first.
        widths = config.channels[::-1]
        stacked = input_mode in ("bands+image", "bands+detail")
        channels_in = [6 if stacked else 3] * (len(widths) - 1) + [3]
        self.from_rgb = nn.ModuleList(EqualConv2d(n, c, 1, activation=True) for n, c in zip(channels_in, widths))
        self.blocks = nn.ModuleList()
        for depth, channels in enumerate(widths):
            level = self.num_levels - 1 - depth
            layers: list[nn.Module] = [ResidualBlock(channels) for _ in range(config.blocks[level])]
            if config.attention[level]:
                layers.append(ImageSelfAttention(channels, config.attention_head_dim))
            self.blocks.append(nn.Sequential(*layers))

        coarsest = len(widths) - 1
        self.head_reads_coarsest_image = head_reads_coarsest_image

        def head(depth: int) -> nn.Module:
            channels = widths[depth] + config.mbstd_channels
            if head_reads_coarsest_image and depth == coarsest:
                channels += 3  # the 4x4 RGB image
            if dense_final_head and depth == coarsest:
                return DenseHead(
                    channels,
                    config.resolutions[0],
                    config.head_channels,
                    config.t_dim,
                    projection_only,
                    pooled=dense_head_pooled,
                )
            return PredictionHead(channels, config.head_channels, config.t_dim, projection_only)

        # one head per depth shared by every path that reaches it (the paper's psi_j), or with
        # `separate_heads` one per (input level, depth) pair, so no path's features need to suit another's
        self.separate_heads = separate_heads
        self.heads = nn.ModuleList(
            nn.ModuleList(head(depth) for _ in range(depth + 1)) if separate_heads else head(depth)
            for depth in range(len(widths))
        )
        self.downsample = nn.ModuleList(DownsampleBlock(a, b, downsample) for a, b in itertools.pairwise(widths))
        # learned position embeddings added to what the heads read: lets a per-position head judge a
        # patch by *where* it is (an empty patch where the caption puts the object is fake)
        self.head_positions = (
            nn.ParameterList(nn.Parameter(torch.randn(1, c, r, r)) for c, r in zip(widths, config.resolutions[::-1]))
            if head_positions
            else None
        )
        self.vision_aided: VisionAidedDiscriminator | None = None

    @property
    def num_predictions(self) -> int:
        return self.num_levels * (self.num_levels + 1) // 2

    def encode_text(self, features: CLIPTextFeatures) -> Tensor:
        """t_D, [B, t_dim]."""
        return self.text_branch(features)

    def head_features(self, x: Tensor, num_paths: int) -> Tensor:
        """What the heads at one depth read: `x` holds `num_paths` batches stacked on dim 0."""
        return minibatch_std(x, self.config.mbstd_group_size, self.config.mbstd_channels, num_paths)

    def discriminator_inputs(self, pyramid: list[Tensor]) -> list[Tensor]:
        """What each level feeds its fromRGB (see DiscriminatorConfig.input_mode)."""
        if self.input_mode == "image":
            return pyramid
        if self.input_mode == "detail":
            return [*self._detail(pyramid), pyramid[-1]]
        if self.input_mode == "centred":
            return [level - level.mean(dim=(2, 3), keepdim=True) for level in pyramid[:-1]] + [pyramid[-1]]
        bands = laplacian_bands(pyramid)
        if self.input_mode == "bands":
            return bands
        if self.input_mode == "bands+finest_detail":
            return [self._detail([pyramid[0], pyramid[-1]])[0], *bands[1:]]  # the finest level's detail only
        if self.input_mode == "bands+finest_image":
            return [pyramid[0], *bands[1:]]
        stacked = pyramid if self.input_mode == "bands+image" else self._detail(pyramid)
        return [torch.cat([band, other], dim=1) for band, other in zip(bands[:-1], stacked)] + [pyramid[-1]]

    def _predict(self, depth: int, features: Tensor, t: Tensor, paths: int) -> list[Tensor]:
        """The logits of every path at `depth` (`features` holds the paths stacked on dim 0, or for a
        shared dense head their image embeddings)."""
        if self.separate_heads:
            return [head(x, t) for head, x in zip(self.heads[depth], features.chunk(paths, dim=0))]
        head = self.heads[depth]
        if isinstance(head, DenseHead):
            return list(head.score(features, t.repeat(paths, 1)).chunk(paths, dim=0))
        return list(head(features, t.repeat(paths, 1)).chunk(paths, dim=0))

    @staticmethod
    def _detail(pyramid: list[Tensor]) -> list[Tensor]:
        """Every level but the coarsest minus the upsampled coarsest level."""
        coarsest = pyramid[-1]
        return [
            level - F.interpolate(coarsest, size=level.shape[-2:], mode="bilinear", align_corners=False)
            for level in pyramid[:-1]
        ]

    def check_pyramid(self, pyramid: list[Tensor]) -> None:
        if len(pyramid) != self.num_levels:
            raise ValueError(f"expected {self.num_levels} pyramid levels, got {len(pyramid)}")

    def forward(
        self,
        pyramid: list[Tensor],
        text: CLIPTextFeatures | Tensor,
        use_vision_aided: bool = True,
        mismatched_text: Tensor | None = None,
        prediction_depths: Collection[int] | None = None,
    ) -> DiscriminatorOutput:
        """pyramid: [finest, ...] images, one per level; text: CLIP text features or a precomputed t_D.

        The image trunk does not depend on the text, so `mismatched_text` (another t_D, e.g. of
        wrong captions for the matching-aware loss) reuses it and only reruns the heads.
        `prediction_depths` (0 = finest) limits which depths' heads run (default: every depth)."""
        self.check_pyramid(pyramid)
        inputs = self.discriminator_inputs(pyramid)
        t = text if isinstance(text, Tensor) else self.encode_text(text)
        logits: list[Tensor] = []
        mismatched: list[Tensor] = []
        pairs: list[tuple[int, int]] = []
        image_embeddings: list[Tensor] = []
        caption_embedding: Tensor | None = None
        x: Tensor | None = None
        for depth in range(self.num_levels):
            entering = self.from_rgb[depth](inputs[depth])
            x = entering if x is None else torch.cat([x, entering], dim=0)
            x = self.blocks[depth](x)
            paths = depth + 1
            if prediction_depths is None or depth in prediction_depths:
                features = x if self.head_positions is None else x + self.head_positions[depth].to(x.dtype)
                features = self.head_features(features, paths)
                if self.head_reads_coarsest_image and depth == self.num_levels - 1:
                    image = pyramid[-1].to(features.dtype).repeat(paths, 1, 1, 1)
                    features = torch.cat([features, image], dim=1)
                head = self.heads[depth]
                if isinstance(head, DenseHead):  # shared dense head: embed once, score under each caption set
                    features = head.embed_image(features)
                    image_embeddings = list(features.chunk(paths, dim=0))
                    caption_embedding = head.embed_caption(t)
                logits.extend(self._predict(depth, features, t, paths))
                if mismatched_text is not None:
                    mismatched.extend(self._predict(depth, features, mismatched_text, paths))
                pairs.extend((source, depth) for source in range(paths))
            if depth < self.num_levels - 1:
                x = self.downsample[depth](x)
        vision: list[Tensor] = []
        if self.vision_aided is not None and use_vision_aided:
            vision = self.vision_aided(pyramid[0], t)
        return DiscriminatorOutput(
            multiscale=logits,
            pairs=pairs,
            vision=vision,
            mismatched=mismatched,
            image_embeddings=image_embeddings,
            caption_embedding=caption_embedding,
        )


class Discriminator(MultiScaleDiscriminator):
    """D(pyramid, CLIP text features) -> logits of every MS-I/O prediction (and vision-aided heads)."""

    config_key = "discriminator"
    config_class = DiscriminatorConfig
    weights_names = ("discriminator.safetensors",)

    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__(
            config,
            dense_final_head=config.dense_final_head,
            dense_head_pooled=config.dense_head_pooled,
            head_positions=config.head_positions,
            input_mode=config.input_mode,
            separate_heads=config.separate_heads,
            head_reads_coarsest_image=config.head_reads_coarsest_image,
            text_pool_queries=config.text_pool_queries,
            projection_only=config.projection_only,
            downsample=config.downsample,
        )
        self.vision_aided = (
            VisionAidedDiscriminator(config.vision_aided, config.t_dim) if config.vision_aided is not None else None
        )
