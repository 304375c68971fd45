"""Attention layers.

GigaGAN's generator uses L2-distance attention (Kim et al., "The Lipschitz constant of
self-attention"): logits are -||q_i - k_j||^2 / sqrt(d), and self-attention ties the query and key
projections. Expanding the square gives 2 q_i.k_j - ||k_j||^2 - ||q_i||^2; the last term is the same
for every key of a query, so softmax ignores it, and the rest is a scaled dot product with a
per-key additive bias. That lets PyTorch's fused scaled_dot_product_attention do the work.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from gigagan.nn.equalized import EqualLinear


def l2_attention(q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor | None = None) -> Tensor:
    """softmax(-||q - k||^2 / sqrt(d)) @ v through fused SDPA.

    q: [B, H, Nq, D]; k, v: [B, H, Nk, D]; key_mask: [B, Nk] bool, True where a key is valid.
    The key-norm term rides along as one extra feature, q' = [2q, -1], k' = [k, ||k||^2], so that
    q'.k' = 2 q.k - ||k||^2 and no float mask is needed (a mask that needs gradients would force
    SDPA onto its slow, memory-hungry path). Features are zero-padded to a multiple of 8 for the
    fused kernels.
    """
    dim = q.shape[-1]
    padding = (-(dim + 1)) % 8
    key_norms = k.to(torch.promote_types(k.dtype, torch.float32)).square().sum(dim=-1, keepdim=True).to(k.dtype)
    q = torch.cat([q * 2, -torch.ones_like(q[..., :1]), q.new_zeros(*q.shape[:-1], padding)], dim=-1)
    k = torch.cat([k, key_norms, k.new_zeros(*k.shape[:-1], padding)], dim=-1)
    v = torch.cat([v, v.new_zeros(*v.shape[:-1], padding + 1)], dim=-1)
    mask = key_mask[:, None, None, :] if key_mask is not None else None
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=dim**-0.5)[..., :dim]


def _split_heads(x: Tensor, heads: int) -> Tensor:
    return rearrange(x, "b n (h d) -> b h n d", h=heads)


def _merge_heads(x: Tensor) -> Tensor:
    return rearrange(x, "b h n d -> b n (h d)")


class L2SelfAttention(nn.Module):
    """Self-attention with tied query/key, L2 logits, and the style w as one extra key/value token."""

    def __init__(self, dim: int, head_dim: int, w_dim: int | None = None) -> None:
        super().__init__()
        self.heads = max(1, dim // head_dim)
        inner = self.heads * head_dim
        self.to_qk = EqualLinear(dim, inner, bias=False)
        self.to_v = EqualLinear(dim, inner, bias=False)
        self.to_out = EqualLinear(inner, dim)
        self.w_to_token = EqualLinear(w_dim, dim) if w_dim is not None else None

    def forward(self, x: Tensor, w: Tensor | None = None) -> Tensor:
        context = x
        if self.w_to_token is not None and w is not None:
            context = torch.cat([x, self.w_to_token(w)[:, None, :].to(x.dtype)], dim=1)
        q = _split_heads(self.to_qk(x), self.heads)
        k = _split_heads(self.to_qk(context), self.heads)
        v = _split_heads(self.to_v(context), self.heads)
        return self.to_out(_merge_heads(l2_attention(q, k, v)))


class CrossAttention(nn.Module):
    """Image tokens attend to text tokens with L2 logits; padding tokens are masked out."""

    def __init__(self, dim: int, context_dim: int, head_dim: int) -> None:
        super().__init__()
        self.heads = max(1, dim // head_dim)
        inner = self.heads * head_dim
        self.to_q = EqualLinear(dim, inner, bias=False)
        self.to_k = EqualLinear(context_dim, inner, bias=False)
        self.to_v = EqualLinear(context_dim, inner, bias=False)
        self.to_out = EqualLinear(inner, dim)

    def forward(self, x: Tensor, context: Tensor, context_mask: Tensor | None = None) -> Tensor:
        q = _split_heads(self.to_q(x), self.heads)
        k = _split_heads(self.to_k(context), self.heads)
        v = _split_heads(self.to_v(context), self.heads)
        return self.to_out(_merge_heads(l2_attention(q, k, v, context_mask)))


class FeedForward(nn.Module):
    """Two equalized linear layers with a GELU between."""

    def __init__(self, dim: int, mult: int = 4) -> None:
        super().__init__()
        self.net = nn.Sequential(EqualLinear(dim, dim * mult), nn.GELU(), EqualLinear(dim * mult, dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class TransformerLayer(nn.Module):
    """Pre-norm transformer encoder layer (dot-product attention, padding mask) for text tokens.

    Its linear layers have equalized learning rates like every other layer of G and D, so the text
    layers learn at the networks' shared rate. With plain `nn.Linear` layers they took ~10x larger
    relative steps than the rest of G at G's learning rate (0.0025): a generator trained alone to
    reproduce the `shapes` renders then placed objects at 65% of prompts after 2,000 steps and fell
    back to chance by 3,000, against position 1.00 and shape 0.82 after 1,500 steps with the text
    layers at 0.0002 (docs/RESULTS.md, generator probes). `equalized=False` keeps plain layers (the
    reference GAN, trained at 0.0002)."""

    def __init__(self, dim: int, heads: int, ff_mult: int = 4, equalized: bool = True) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} is not divisible by {heads} heads")
        linear = EqualLinear if equalized else nn.Linear
        self.heads = heads
        self.norm_attention = nn.LayerNorm(dim)
        self.to_qkv = linear(dim, dim * 3)
        self.to_out = linear(dim, dim)
        self.norm_ff = nn.LayerNorm(dim)
        self.ff = nn.Sequential(linear(dim, dim * ff_mult), nn.GELU(), linear(dim * ff_mult, dim))

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        q, k, v = (_split_heads(t, self.heads) for t in self.to_qkv(self.norm_attention(x)).chunk(3, dim=-1))
        attn_mask = mask[:, None, None, :] if mask is not None else None
        x = x + self.to_out(_merge_heads(F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)))
        return x + self.ff(self.norm_ff(x))
