"""Discriminator: MS-I/O predictions, text conditioning, vision-aided branch, gradients."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from gigagan.config import ModelConfig
from gigagan.errors import GigaGANError
from gigagan.models import Discriminator, Generator
from gigagan.models.discriminator import AttentionPool, DenseHead, DownsampleBlock, PredictionHead
from gigagan.nn import image_pyramid, laplacian_bands, upsample2x


def setup(config: ModelConfig, batch: int = 2):
    generator = Generator(config.generator)
    discriminator = Discriminator(config.discriminator)
    ids = generator.tokenize(["a red circle", "a blue square at the bottom"][:batch])
    features = generator.text_encoder.clip(ids)
    images = torch.rand(batch, 3, config.discriminator.resolution, config.discriminator.resolution) * 2 - 1
    return generator, discriminator, features, image_pyramid(images, discriminator.num_levels)


def test_five_levels_give_fifteen_predictions_at_every_later_scale(tiny64: ModelConfig) -> None:
    _, discriminator, features, pyramid = setup(tiny64)
    out = discriminator(pyramid, features)
    assert discriminator.num_predictions == 15
    assert len(out.multiscale) == 15 and len(out.pairs) == 15
    assert sorted(out.pairs) == sorted((i, j) for j in range(5) for i in range(5) if i <= j)
    for (_, scale), logits in zip(out.pairs, out.multiscale):
        side = 64 // 2**scale
        assert logits.shape == (2, side * side)
    assert len(out.vision) == 1 and out.vision[0].shape[0] == 2


def test_each_level_enters_at_its_own_depth(tiny: ModelConfig) -> None:
    _, discriminator, features, pyramid = setup(tiny)
    base = discriminator(pyramid, features)
    changed = [level.clone() for level in pyramid]
    changed[2] = torch.rand_like(changed[2])  # only the 8px input changes
    out = discriminator(changed, features)
    for (source, _), a, b in zip(base.pairs, base.multiscale, out.multiscale):
        assert torch.equal(a, b) == (source != 2)


def test_predictions_depend_on_the_text(tiny: ModelConfig) -> None:
    generator, discriminator, features, pyramid = setup(tiny)
    other = generator.text_encoder.clip(generator.tokenize(["a yellow star", "a green triangle"]))
    a, b = discriminator(pyramid, features), discriminator(pyramid, other)
    assert all(not torch.allclose(x, y) for x, y in zip(a.multiscale, b.multiscale))


def test_gradients_reach_every_trainable_parameter_and_not_frozen_clip(tiny: ModelConfig) -> None:
    _, discriminator, features, pyramid = setup(tiny)
    pyramid = [level.requires_grad_() for level in pyramid]
    out = discriminator(pyramid, features)
    loss = sum(logits.mean() for logits in out.multiscale + out.vision)
    loss.backward()
    trainable = [(n, p) for n, p in discriminator.named_parameters() if p.requires_grad]
    missing = [n for n, p in trainable if p.grad is None or not torch.any(p.grad != 0)]
    assert missing == []
    assert all(level.grad is not None for level in pyramid), "gradients must reach the images (for G and R1)"
    clip = discriminator.vision_aided.clip
    assert all(not p.requires_grad for p in clip.parameters())
    assert not clip.training


def test_vision_aided_branch_can_be_skipped(tiny: ModelConfig) -> None:
    _, discriminator, features, pyramid = setup(tiny)
    assert discriminator(pyramid, features, use_vision_aided=False).vision == []


def test_mismatched_text_reuses_the_trunk_and_equals_a_separate_pass(tiny: ModelConfig) -> None:
    generator, discriminator, features, pyramid = setup(tiny)
    other = generator.text_encoder.clip(generator.tokenize(["a yellow star", "a green triangle"]))
    t_right, t_wrong = discriminator.encode_text(features), discriminator.encode_text(other)
    shared = discriminator(pyramid, t_right, mismatched_text=t_wrong)
    separate = discriminator(pyramid, t_wrong)
    assert len(shared.mismatched) == len(shared.multiscale)
    for a, b in zip(shared.mismatched, separate.multiscale):
        torch.testing.assert_close(a, b)
    assert discriminator(pyramid, t_right).mismatched == []


def test_prediction_depths_run_only_those_heads_and_change_no_logit(tiny: ModelConfig) -> None:
    _, discriminator, features, pyramid = setup(tiny)
    every = discriminator(pyramid, features)
    coarsest = discriminator.num_levels - 1
    calls: list[int] = []
    hooks = [
        head.register_forward_hook(lambda *_, depth=depth: calls.append(depth))
        for depth, head in enumerate(discriminator.heads)
    ]
    some = discriminator(pyramid, features, prediction_depths={coarsest})
    for hook in hooks:
        hook.remove()
    assert calls == [coarsest] * len(calls) and calls
    assert some.pairs == [pair for pair in every.pairs if pair[1] == coarsest]
    expected = [logits for pair, logits in zip(every.pairs, every.multiscale) if pair[1] == coarsest]
    for a, b in zip(some.multiscale, expected, strict=True):
        torch.testing.assert_close(a, b)


def test_dense_final_head_predicts_once_per_image_at_the_coarsest_depth(tiny: ModelConfig) -> None:
    config = dataclasses.replace(tiny.discriminator, dense_final_head=True)
    _, _, features, pyramid = setup(tiny)
    discriminator = Discriminator(config)
    out = discriminator(pyramid, features, mismatched_text=discriminator.encode_text(features).flip(0))
    coarsest = discriminator.num_levels - 1
    for (_, depth), logits, wrong in zip(out.pairs, out.multiscale, out.mismatched):
        side = config.resolution // 2**depth
        expected = (2, 1) if depth == coarsest else (2, side * side)
        assert logits.shape == expected and wrong.shape == expected
    assert isinstance(discriminator.heads[-1], DenseHead)


def test_dense_head_sees_where_features_are_and_a_patch_head_does_not() -> None:
    """Moving the same content to another place changes a dense head's logit but not the mean of a
    per-position head's logits: only the dense head can ask for an object at the captioned place."""
    torch.manual_seed(0)
    features = torch.randn(3, 8, 4, 4)
    moved = torch.roll(features, shifts=(1, 2), dims=(2, 3))
    t = torch.randn(3, 16)
    patch, dense = PredictionHead(8, 12, 16), DenseHead(8, 4, 12, 16)
    assert torch.allclose(patch(features, t).mean(dim=1), patch(moved, t).mean(dim=1), atol=1e-5)
    assert not torch.allclose(dense(features, t), dense(moved, t), atol=1e-3)


def test_pooled_dense_head_shares_what_it_learns_across_places() -> None:
    """The pooled term of the dense head's embedding depends on what the features show, not where:
    with the per-position weights zeroed, moving the content leaves the logit unchanged, and the
    gradient that one example gives the pooled weights is the same wherever the content sits."""
    torch.manual_seed(0)
    features = torch.randn(3, 8, 4, 4)
    moved = torch.roll(features, shifts=(1, 2), dims=(2, 3))
    t = torch.randn(3, 16)
    head = DenseHead(8, 4, 12, 16, pooled=True)
    assert not torch.allclose(head(features, t), DenseHead(8, 4, 12, 16)(features, t), atol=1e-3)
    with torch.no_grad():
        head.dense.weight.zero_()
    assert torch.allclose(head(features, t), head(moved, t), atol=1e-5)
    gradients = []
    for x in (features, moved):
        head.zero_grad()
        head(x, t).sum().backward()
        gradients.append(head.pooled.weight.grad.clone())
    assert gradients[0].abs().sum() > 0 and torch.allclose(*gradients, atol=1e-5)


def test_pooled_dense_head_needs_the_dense_head(tiny: ModelConfig) -> None:
    with pytest.raises(GigaGANError, match="dense_head_pooled needs dense_final_head"):
        Discriminator(dataclasses.replace(tiny.discriminator, dense_final_head=False, dense_head_pooled=True))
    config = dataclasses.replace(tiny.discriminator, dense_final_head=True, dense_head_pooled=True)
    assert Discriminator(config).heads[-1].pooled is not None


def test_laplacian_bands_reconstruct_the_pyramid_and_vanish_on_flat_images() -> None:
    image = torch.rand(2, 3, 32, 32) * 2 - 1
    pyramid = image_pyramid(image, 4)
    bands = laplacian_bands(pyramid)
    rebuilt = bands[-1]
    for band in reversed(bands[:-1]):
        rebuilt = upsample2x(rebuilt) + band
    assert torch.allclose(rebuilt, image, atol=1e-5)
    flat = laplacian_bands(image_pyramid(torch.full((1, 3, 32, 32), 0.3), 4))
    assert all(band.abs().max() < 1e-6 for band in flat[:-1]) and torch.allclose(
        flat[-1], torch.full_like(flat[-1], 0.3)
    )


@pytest.mark.parametrize("mode", ["bands", "detail", "centred", "bands+detail", "bands+finest_detail"])
def test_band_inputs_hide_a_flat_fields_colour_from_all_but_the_coarsest_input(tiny: ModelConfig, mode: str) -> None:
    """With detail bands as inputs, a flat field's colour reaches D only through the coarsest level,
    so every prediction from a finer input is the same for any flat colour: those paths judge
    structure (is the object there?), not the background colour."""
    config = dataclasses.replace(tiny.discriminator, input_mode=mode)
    _, _, features, _ = setup(tiny)
    discriminator = Discriminator(config)
    side = config.resolution
    # colours exact in binary, so the blur and upsampling leave exactly zero bands
    fields = [image_pyramid(torch.full((2, 3, side, side), value), discriminator.num_levels) for value in (-0.5, 0.75)]
    a, b = (discriminator(pyramid, features) for pyramid in fields)
    coarsest = discriminator.num_levels - 1
    for (source, _), x, y in zip(a.pairs, a.multiscale, b.multiscale):
        assert torch.allclose(x, y, atol=1e-5) == (source != coarsest)


@pytest.mark.parametrize(
    "option",
    [
        {"dense_final_head": True},
        {"head_positions": True},
        {"input_mode": "bands"},
        {"input_mode": "detail"},
        {"input_mode": "centred"},
        {"input_mode": "bands+image"},
        {"input_mode": "bands+detail"},
        {"input_mode": "bands+finest_detail"},
        {"input_mode": "bands+finest_image"},
        {"separate_heads": True},
        {"downsample": "strided"},
        {"downsample": "conv_first"},
        {"text_pool_queries": 3},
        {"projection_only": True, "dense_final_head": True},
        {"input_mode": "bands", "dense_final_head": True, "head_reads_coarsest_image": True},
        {"mbstd_channels": 2, "mbstd_group_size": 2},
    ],
)
def test_discriminator_options_train_every_parameter(tiny: ModelConfig, option: dict) -> None:
    config = dataclasses.replace(tiny.discriminator, **option)
    _, _, features, pyramid = setup(tiny)
    discriminator = Discriminator(config)
    pyramid = [level.requires_grad_() for level in pyramid]
    out = discriminator(pyramid, features)
    sum(logits.mean() for logits in out.multiscale).backward()
    missing = [
        n
        for n, p in discriminator.named_parameters()
        if p.requires_grad and "vision_aided" not in n and (p.grad is None or not torch.any(p.grad != 0))
    ]
    assert missing == []
    assert all(level.grad is not None and level.grad.abs().sum() > 0 for level in pyramid)


@pytest.mark.parametrize("mbstd_channels", [0, 1])
def test_minibatch_std_lets_an_images_logit_see_its_group_only_when_on(tiny: ModelConfig, mbstd_channels: int) -> None:
    config = dataclasses.replace(tiny.discriminator, mbstd_channels=mbstd_channels, mbstd_group_size=2)
    _, _, features, pyramid = setup(tiny)
    discriminator = Discriminator(config).eval()
    changed = [level.clone() for level in pyramid]
    changed[-1][1] = -changed[-1][1]  # only the second image's coarsest input changes
    base, out = discriminator(pyramid, features), discriminator(changed, features)
    coarsest = [i for i, (source, _) in enumerate(base.pairs) if source == len(pyramid) - 1]
    first_image_moved = any(not torch.allclose(base.multiscale[i][0], out.multiscale[i][0]) for i in coarsest)
    assert first_image_moved == bool(mbstd_channels)
    assert all(not torch.allclose(base.multiscale[i][1], out.multiscale[i][1]) for i in coarsest)


def test_coarsest_image_at_the_head_lets_band_paths_see_the_background_colour(tiny: ModelConfig) -> None:
    """With `head_reads_coarsest_image`, a path fed detail bands still answers differently for two
    flat fields of different colour (its head reads the 4x4 image too); without it, it cannot."""
    _, _, features, _ = setup(tiny)
    side = tiny.discriminator.resolution
    levels = tiny.discriminator.num_levels
    fields = [image_pyramid(torch.full((2, 3, side, side), value), levels) for value in (-0.5, 0.75)]
    for reads in (False, True):
        torch.manual_seed(0)
        config = dataclasses.replace(tiny.discriminator, input_mode="bands", head_reads_coarsest_image=reads)
        discriminator = Discriminator(config)
        a, b = (discriminator(pyramid, features) for pyramid in fields)
        finest_at_coarsest = a.pairs.index((0, discriminator.num_levels - 1))
        same = torch.allclose(a.multiscale[finest_at_coarsest], b.multiscale[finest_at_coarsest], atol=1e-5)
        assert same != reads


def test_attention_pool_reads_each_querys_token_and_ignores_padding() -> None:
    """A query aligned with one token's features pools (almost only) that token; tokens past the
    mask never change the code."""
    pool = AttentionPool(width=8, num_queries=2)
    tokens = torch.zeros(1, 4, 8)
    tokens[0, 1, 0] = tokens[0, 2, 1] = 30.0
    with torch.no_grad():
        pool.queries.zero_()
        pool.queries[0, 0] = pool.queries[1, 1] = 30.0
    mask = torch.tensor([[True, True, True, False]])
    pooled = pool(tokens, mask).view(2, 8)
    assert torch.allclose(pooled[0], tokens[0, 1], atol=1e-3) and torch.allclose(pooled[1], tokens[0, 2], atol=1e-3)
    padded = tokens.clone()
    padded[0, 3] = torch.randn(8) * 100
    assert torch.equal(pool(padded, mask), pool(tokens, mask))


@pytest.mark.parametrize("dense", [False, True])
def test_projection_only_heads_have_no_logit_without_the_caption_term(dense: bool) -> None:
    head = DenseHead(8, 4, 16, 12, projection_only=True) if dense else PredictionHead(8, 16, 12, projection_only=True)
    x, t = torch.randn(3, 8, 4, 4), torch.randn(3, 12)
    assert head(x, t).abs().sum() > 0
    with torch.no_grad():
        head.embed_text.weight.zero_()
        head.embed_text.bias.zero_()
    assert torch.equal(head(x, t), torch.zeros_like(head(x, t)))


@pytest.mark.parametrize("mode", ["blur", "strided", "conv_first"])
def test_downsample_block_halves_the_size_and_sees_full_resolution_detail_unless_blurred_first(mode: str) -> None:
    torch.manual_seed(0)
    block = DownsampleBlock(3, 8, mode)
    assert block(torch.randn(2, 3, 16, 16)).shape == (2, 8, 8, 8)
    # a checkerboard at the finest frequency: the [1, 3, 3, 1] low-pass removes it, so a block that
    # blurs before its convolution sees a flat field; one that convolves first can tell them apart
    checker = (torch.arange(16)[:, None] + torch.arange(16)[None, :]) % 2 * 2.0 - 1.0
    flat = torch.zeros(1, 3, 16, 16)
    pattern = checker.expand(1, 3, 16, 16)
    interior = (slice(None), slice(None), slice(2, -2), slice(2, -2))  # away from the padded border
    difference = (block(pattern) - block(flat))[interior].abs().max().item()
    if mode == "blur":
        assert difference < 1e-5
    else:
        assert difference > 1e-2


def test_unknown_downsample_mode_is_a_config_error(tiny: ModelConfig) -> None:
    with pytest.raises(GigaGANError, match="downsample"):
        Discriminator(dataclasses.replace(tiny.discriminator, downsample="pool"))
