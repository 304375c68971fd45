"""Layers: adaptive modulated convolution, L2 attention, resampling."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from gigagan.nn import AdaptiveModulatedConv2d, CrossAttention, L2SelfAttention, downsample2x, l2_attention, upsample2x


def loop_reference(layer: AdaptiveModulatedConv2d, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The per-sample definition, one sample at a time: mix the bank, modulate, demodulate, conv."""
    outputs = []
    for i in range(x.shape[0]):
        weights = (
            torch.softmax(layer.to_kernel_logits(w[i : i + 1]), dim=-1)[0]
            if layer.to_kernel_logits is not None
            else torch.ones(1)
        )
        kernel = sum(weights[n] * layer.bank[n] for n in range(layer.num_kernels)) * layer.weight_gain
        kernel = kernel * layer.to_style(w[i : i + 1])[0][None, :, None, None]
        if layer.demodulate:
            kernel = kernel / torch.sqrt(kernel.square().sum(dim=(1, 2, 3), keepdim=True) + 1e-8)
        xi = upsample2x(x[i : i + 1]) if layer.upsample else x[i : i + 1]
        outputs.append(F.conv2d(xi, kernel, padding=layer.kernel_size // 2))
    return torch.cat(outputs)


@pytest.mark.parametrize("num_kernels", [1, 4])
@pytest.mark.parametrize("upsample", [False, True])
@pytest.mark.parametrize("demodulate", [True, False])
@pytest.mark.parametrize("size", [2, 8])  # 2x2 (4x4 after upsampling) takes the stacked-bank path
def test_grouped_modconv_equals_per_sample_loop(num_kernels: int, upsample: bool, demodulate: bool, size: int) -> None:
    layer = AdaptiveModulatedConv2d(6, 5, 3, w_dim=7, num_kernels=num_kernels, demodulate=demodulate, upsample=upsample)
    x, w = torch.randn(3, 6, size, size), torch.randn(3, 7)
    torch.testing.assert_close(layer(x, w), loop_reference(layer, x, w), rtol=1e-4, atol=1e-5)


@settings(max_examples=15, deadline=None)
@given(
    batch=st.integers(1, 4),
    in_channels=st.integers(1, 6),
    out_channels=st.integers(1, 6),
    num_kernels=st.integers(1, 5),
    kernel_size=st.sampled_from([1, 3]),
)
def test_modconv_matches_reference_for_any_shape(
    batch: int, in_channels: int, out_channels: int, num_kernels: int, kernel_size: int
) -> None:
    layer = AdaptiveModulatedConv2d(in_channels, out_channels, kernel_size, w_dim=4, num_kernels=num_kernels).double()
    x, w = torch.randn(batch, in_channels, 5, 5, dtype=torch.float64), torch.randn(batch, 4, dtype=torch.float64)
    torch.testing.assert_close(layer(x, w), loop_reference(layer, x, w), rtol=1e-7, atol=1e-9)


def test_kernel_weights_are_a_softmax_over_the_bank() -> None:
    layer = AdaptiveModulatedConv2d(4, 4, 3, w_dim=8, num_kernels=6)
    with torch.no_grad():
        layer.to_kernel_logits.weight.mul_(10)  # make the selection far from uniform
    w = torch.randn(5, 8)
    weights = layer.kernel_weights(w)
    assert weights.shape == (5, 6)
    assert torch.all(weights > 0)
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(5))
    torch.testing.assert_close(weights, torch.softmax(layer.to_kernel_logits(w), dim=-1))
    assert not torch.allclose(weights[0], weights[1]), "selection must depend on the sample's w"


def test_demodulated_kernels_have_unit_norm() -> None:
    layer = AdaptiveModulatedConv2d(4, 3, 3, w_dim=8, num_kernels=3)
    kernels = layer.per_sample_kernels(torch.randn(2, 8))
    torch.testing.assert_close(kernels.square().sum(dim=(2, 3, 4)), torch.ones(2, 3), rtol=1e-4, atol=1e-4)


def naive_l2_attention(q, k, v, key_mask=None):
    logits = -torch.cdist(q, k).square() / math.sqrt(q.shape[-1])
    if key_mask is not None:
        logits = logits.masked_fill(~key_mask[:, None, None, :], float("-inf"))
    return torch.softmax(logits, dim=-1) @ v


@settings(max_examples=20, deadline=None)
@given(
    batch=st.integers(1, 3),
    heads=st.integers(1, 3),
    queries=st.integers(1, 9),
    keys=st.integers(1, 9),
    dim=st.integers(1, 16),
    scale=st.floats(0.1, 3.0),
)
def test_l2_attention_equals_naive_reference(batch, heads, queries, keys, dim, scale) -> None:
    q = torch.randn(batch, heads, queries, dim, dtype=torch.float64) * scale
    k = torch.randn(batch, heads, keys, dim, dtype=torch.float64) * scale
    v = torch.randn(batch, heads, keys, dim, dtype=torch.float64)
    torch.testing.assert_close(l2_attention(q, k, v), naive_l2_attention(q, k, v))


def test_l2_attention_respects_key_mask() -> None:
    q, k, v = torch.randn(2, 2, 5, 8), torch.randn(2, 2, 7, 8), torch.randn(2, 2, 7, 8)
    mask = torch.tensor([[True] * 3 + [False] * 4, [True] * 7])
    out = l2_attention(q, k, v, mask)
    torch.testing.assert_close(out, naive_l2_attention(q, k, v, mask), rtol=1e-5, atol=1e-5)
    v_changed = v.clone()
    v_changed[0, :, 3:] = 100.0  # masked keys must have no effect
    torch.testing.assert_close(l2_attention(q, k, v_changed, mask)[0], out[0])


def test_self_attention_ties_query_and_key_and_uses_w() -> None:
    layer = L2SelfAttention(dim=16, head_dim=8, w_dim=4)
    assert not hasattr(layer, "to_q") and not hasattr(layer, "to_k")
    x = torch.randn(2, 10, 16)
    out1, out2 = layer(x, torch.randn(2, 4)), layer(x, torch.randn(2, 4))
    assert out1.shape == x.shape
    assert not torch.allclose(out1, out2), "the style token must change the output"


def test_cross_attention_shapes_and_mask() -> None:
    layer = CrossAttention(dim=16, context_dim=12, head_dim=8)
    x, context = torch.randn(2, 10, 16), torch.randn(2, 6, 12)
    mask = torch.tensor([[True, True, False, False, False, False]] * 2)
    out = layer(x, context, mask)
    assert out.shape == x.shape
    context2 = context.clone()
    context2[:, 2:] = torch.randn(2, 4, 12)
    torch.testing.assert_close(layer(x, context2, mask), out)


def test_downsample_pads_by_replicating_the_border() -> None:
    x = torch.randn(2, 3, 6, 6, requires_grad=True)
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0])
    kernel = (torch.outer(taps, taps) / 64).expand(3, 1, 4, 4)
    expected = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, stride=2, groups=3)
    torch.testing.assert_close(downsample2x(x), expected)
    grad = torch.randn_like(expected)
    (ours,) = torch.autograd.grad(downsample2x(x), x, grad)
    (reference,) = torch.autograd.grad(expected, x, grad)
    torch.testing.assert_close(ours, reference)


def test_resampling_halves_and_doubles_and_preserves_constants() -> None:
    x = torch.full((1, 3, 8, 8), 0.7)
    assert downsample2x(x).shape == (1, 3, 4, 4)
    assert upsample2x(x).shape == (1, 3, 16, 16)
    torch.testing.assert_close(downsample2x(x), torch.full((1, 3, 4, 4), 0.7))
    torch.testing.assert_close(upsample2x(x), torch.full((1, 3, 16, 16), 0.7))
