"""Building blocks with no GigaGAN knowledge: equalized layers, adaptive modulated convolution,
L2 attention, resampling, minibatch-std."""

from gigagan.nn.attention import CrossAttention, FeedForward, L2SelfAttention, TransformerLayer, l2_attention
from gigagan.nn.equalized import EqualConv2d, EqualLinear
from gigagan.nn.modconv import AdaptiveModulatedConv2d
from gigagan.nn.resample import downsample2x, image_pyramid, laplacian_bands, upsample2x
from gigagan.nn.statistics import minibatch_std

__all__ = [
    "AdaptiveModulatedConv2d",
    "CrossAttention",
    "EqualConv2d",
    "EqualLinear",
    "FeedForward",
    "L2SelfAttention",
    "TransformerLayer",
    "downsample2x",
    "image_pyramid",
    "l2_attention",
    "laplacian_bands",
    "minibatch_std",
    "upsample2x",
]
