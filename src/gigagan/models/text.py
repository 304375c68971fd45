"""The text path: CLIP text tower (frozen or trainable) -> learned transformer layers T.

`t_local` is every token's feature (keys and values for cross-attention, with a padding mask);
`t_global` is the feature at the end-of-text token (input of the mapping network).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gigagan.config import CLIPConfig, TextEncoderConfig
from gigagan.models.clip import build_text_tower, clip_architecture
from gigagan.nn import TransformerLayer

# What the learned text layers read from the CLIP tower (TextEncoderConfig.clip_features).
CLIP_FEATURES = ("layer", "token_embeddings")


@dataclass
class CLIPTextFeatures:
    """Per-token features of one CLIP layer, which tokens are real, and where each EOT sits."""

    tokens: Tensor  # [B, L, width]
    mask: Tensor  # [B, L] bool, True up to and including the EOT token
    eot_index: Tensor  # [B] long


@dataclass
class TextEncoding:
    """The generator's text conditioning."""

    local: Tensor  # t_local, [B, L, width]
    mask: Tensor  # [B, L] bool
    global_: Tensor  # t_global, [B, width]

    def rows(self, rows: slice) -> TextEncoding:
        """The encoding of some of the batch's prompts."""
        return TextEncoding(self.local[rows], self.mask[rows], self.global_[rows])

    def concat(self, other: TextEncoding) -> TextEncoding:
        """This batch's prompts followed by `other`'s (same token length)."""
        return TextEncoding(
            local=torch.cat([self.local, other.local]),
            mask=torch.cat([self.mask, other.mask]),
            global_=torch.cat([self.global_, other.global_]),
        )

    def expand(self, count: int) -> TextEncoding:
        """A one-prompt encoding ([1, ...]) repeated for `count` samples (a view, no copy)."""
        return TextEncoding(
            local=self.local.expand(count, -1, -1),
            mask=self.mask.expand(count, -1),
            global_=self.global_.expand(count, -1),
        )


class CLIPTextTower(nn.Module):
    """open_clip text transformer that returns the tokens of one of its layers (default penultimate),
    or, with `features="token_embeddings"`, its normalised input embeddings."""

    def __init__(self, config: CLIPConfig, layer: int = -2, trainable: bool = False, features: str = "layer") -> None:
        super().__init__()
        if features not in CLIP_FEATURES:
            raise ValueError(f"clip_features must be one of {', '.join(CLIP_FEATURES)}, got {features!r}")
        self.features = features
        self.tower = build_text_tower(config)
        if features == "token_embeddings" and getattr(self.tower, "cls_emb", None) is not None:
            raise ValueError("clip_features='token_embeddings' needs a text tower without a class token")
        num_layers = len(self.tower.transformer.resblocks)
        self.layer_index = layer % num_layers
        self.width = int(clip_architecture(config)["text_cfg"]["width"])
        self.trainable = trainable
        self.requires_grad_(trainable)
        self.train(False)

    def train(self, mode: bool = True) -> CLIPTextTower:
        super().train(mode and self.trainable)  # a frozen tower always runs in inference mode
        return self

    @property
    def is_causal(self) -> bool:
        """True when a token's features depend only on the tokens before it (OpenAI-style CLIP text
        towers: causal mask, no padding mask, no appended class token, or `token_embeddings` features,
        where no token sees any other), so trailing padding can be cut."""
        if self.features == "token_embeddings":
            return True
        return (
            getattr(self.tower, "attn_mask", None) is not None
            and not getattr(self.tower, "use_pad_mask", False)
            and getattr(self.tower, "cls_emb", None) is None
        )

    def forward(self, token_ids: Tensor) -> CLIPTextFeatures:
        with torch.set_grad_enabled(self.trainable and torch.is_grad_enabled()):
            if self.features == "token_embeddings":
                tokens = self._token_embeddings(token_ids)
            elif token_ids.shape[1] < self.tower.positional_embedding.shape[0]:
                tokens = self._forward_shortened(token_ids)
            else:
                out = self.tower.forward_intermediates(
                    token_ids,
                    indices=[self.layer_index],
                    stop_early=True,
                    normalize_intermediates=True,
                    intermediates_only=True,
                    output_fmt="NLC",
                )
                tokens = out["text_intermediates"][0]
        eot_index = token_ids.argmax(dim=-1)  # EOT has the largest id in CLIP's vocabulary
        positions = torch.arange(token_ids.shape[1], device=token_ids.device)
        mask = positions[None, :] <= eot_index[:, None]
        return CLIPTextFeatures(tokens=tokens, mask=mask, eot_index=eot_index)

    def _token_embeddings(self, token_ids: Tensor) -> Tensor:
        """Token plus position embeddings, normalised per token (each token's own: any length is exact)."""
        x, _ = self.tower._embeds(token_ids)
        return F.layer_norm(x, (x.shape[-1],))

    def _forward_shortened(self, token_ids: Tensor) -> Tensor:
        """The tower on ids cut after the last EOT (see `trim_padding`): open_clip keeps its causal
        mask at full context length, so it is sliced here to the shorter sequence."""
        if not self.is_causal:
            raise ValueError("only causal CLIP text towers accept token ids shorter than their context length")
        length = token_ids.shape[1]
        x, _ = self.tower._embeds(token_ids)
        causal = self.tower.attn_mask[:length, :length]
        _, intermediates = self.tower.transformer.forward_intermediates(
            x, attn_mask=causal, indices=[self.layer_index], stop_early=True
        )
        return self.tower.ln_final(intermediates[0])


def trim_padding(*token_ids: Tensor) -> tuple[Tensor, ...]:
    """Cut the padding columns after the latest EOT token of each batch of CLIP ids.

    In a causal tower no token sees the padding after it, and everything downstream masks padding,
    so the features of every real token are unchanged while the tower, the text layers and
    cross-attention run on ~20 tokens instead of 77."""
    return tuple(ids[:, : int(ids.argmax(dim=-1).max()) + 1] for ids in token_ids)


class TextLayers(nn.Module):
    """A stack of bidirectional transformer layers over CLIP tokens, with a final LayerNorm."""

    def __init__(self, width: int, num_layers: int, num_heads: int, ff_mult: int = 4, equalized: bool = True) -> None:
        super().__init__()
        self.layers = nn.ModuleList(TransformerLayer(width, num_heads, ff_mult, equalized) for _ in range(num_layers))
        self.norm = nn.LayerNorm(width)

    def forward(self, features: CLIPTextFeatures) -> tuple[Tensor, Tensor]:
        """(all tokens [B, L, width], EOT token [B, width])."""
        x = features.tokens
        for layer in self.layers:
            x = layer(x, features.mask)
        x = self.norm(x)
        eot = x[torch.arange(x.shape[0], device=x.device), features.eot_index]
        return x, eot


class TextEncoder(nn.Module):
    """CLIP text tower plus learned layers T: token ids -> (t_local, mask, t_global)."""

    def __init__(self, config: TextEncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.clip = CLIPTextTower(config.clip, config.clip_layer, config.train_clip, config.clip_features)
        self.width = self.clip.width
        self.layers = TextLayers(self.width, config.num_layers, config.num_heads, config.ff_mult)

    def forward(self, token_ids: Tensor | None = None, clip_features: CLIPTextFeatures | None = None) -> TextEncoding:
        if clip_features is None:
            if token_ids is None:
                raise ValueError("give token_ids or clip_features")
            clip_features = self.clip(token_ids)
        local, global_ = self.layers(clip_features)
        return TextEncoding(local=local, mask=clip_features.mask, global_=global_)
