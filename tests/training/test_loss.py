"""Loss terms: matching-aware pairs, R1 against finite differences, adversarial loss, CLIP loss."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import open_clip
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from gigagan.config import LossConfig, ModelConfig
from gigagan.errors import GigaGANError
from gigagan.models import Discriminator, Generator
from gigagan.models.clip import CLIPTokenizer, clip_architecture, clip_image_size, clip_preprocess
from gigagan.training import GigaGANLoss, TrainingBatch, mismatched_captions, mismatched_indices, r1_penalty
from gigagan.training.loss import (
    CLIPContrastiveLoss,
    adversarial_loss,
    contrastive_loss,
    diversity_loss,
    relativistic_loss,
)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.sampled_from(["a red circle", "a blue square", "a green star", "a cat"]), min_size=1, max_size=12),
    st.sampled_from(["random", "similar", "mixed"]),
)
def test_matching_aware_pairs_really_are_mismatched(captions: list[str], strategy: str) -> None:
    indices, valid = mismatched_indices(captions, torch.Generator().manual_seed(0), strategy=strategy)
    for i, (j, ok) in enumerate(zip(indices.tolist(), valid.tolist())):
        if ok:
            assert captions[j] != captions[i]
        else:  # only when no other caption exists in the batch
            assert all(c == captions[i] for c in captions)


def test_mismatched_indices_cover_different_partners() -> None:
    captions = [f"caption {i}" for i in range(8)]
    seen = set()
    for seed in range(20):
        indices, valid = mismatched_indices(captions, torch.Generator().manual_seed(seed))
        assert valid.all() and not (indices == torch.arange(8)).any()
        seen.update(indices.tolist())
    assert seen == set(range(8))


def test_similar_mismatches_are_the_hardest_negatives_in_the_batch() -> None:
    captions = [
        "a red circle on a blue background",
        "a green circle on a blue background",  # one word from the first
        "a yellow star on an orange background",
        "a yellow star on a white background",  # one word (two with the article) from the third
    ]
    for seed in range(10):
        indices, valid = mismatched_indices(captions, torch.Generator().manual_seed(seed), strategy="similar")
        assert valid.all()
        assert indices.tolist() == [1, 0, 3, 2]
    with pytest.raises(ValueError, match="mismatch must be one of"):
        mismatched_indices(captions, strategy="hardest")


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.sampled_from(["a red circle", "a blue square", "an orange circle at the top left", "a cat", "a red circle"]),
        min_size=1,
        max_size=12,
    ),
    st.sampled_from(["random", "swap", "random+swap"]),
    st.integers(0, 2**16),
)
def test_mismatched_captions_differ_from_their_own(captions: list[str], strategy: str, seed: int) -> None:
    wrong, valid = mismatched_captions(captions, torch.Generator().manual_seed(seed), strategy=strategy)
    assert len(wrong) == len(captions)
    for caption, other, ok in zip(captions, wrong, valid.tolist()):
        assert ok == any(c != caption for c in captions)
        if ok:
            assert other.lower() != caption.lower()


def test_swap_mismatches_change_one_attribute() -> None:
    captions = [
        "a large red circle in the center on a blue background",
        "a small green square at the top left on an orange background",
    ]
    seen = set()
    for seed in range(60):
        wrong, valid = mismatched_captions(captions, torch.Generator().manual_seed(seed), strategy="swap")
        assert valid.all()
        seen.add(wrong[0])
    # each of the five differing attributes swapped alone; articles never swapped on their own
    assert seen == {
        "a small red circle in the center on a blue background",
        "a large green circle in the center on a blue background",
        "a large red square in the center on a blue background",
        "a large red circle in the top left on a blue background",
        "a large red circle in the center on a orange background",
    }


def test_random_plus_swap_takes_both_kinds() -> None:
    # every two captions differ in all three attributes: a swap differs in one word, a partner in three
    captions = [
        "a red circle on a blue background",
        "a green square on a white background",
        "a pink star on a grey background",
    ]
    differing_words = []
    for seed in range(20):
        wrong, _ = mismatched_captions(captions, torch.Generator().manual_seed(seed), strategy="random+swap")
        differing_words += [sum(a != b for a, b in zip(c.split(), w.split())) for c, w in zip(captions, wrong)]
    assert set(differing_words) == {1, 3}
    assert 0.3 < differing_words.count(1) / len(differing_words) < 0.7


def test_mixed_mismatches_take_hard_and_easy_negatives() -> None:
    captions = [f"a {c} circle on a {b} background" for c in ("red", "green") for b in ("blue", "white")]
    similar_partner = {0: {1, 2}, 1: {0, 3}, 2: {0, 3}, 3: {1, 2}}  # one word changed
    hard = easy = 0
    for seed in range(40):
        indices, valid = mismatched_indices(captions, torch.Generator().manual_seed(seed), strategy="mixed")
        assert valid.all()
        for i, j in enumerate(indices.tolist()):
            hard += j in similar_partner[i]
            easy += j not in similar_partner[i]
    # half the rows draw from the hard negatives only, the rest uniformly (2 of 3 of them hard)
    assert 0.7 < hard / (hard + easy) < 0.97 and easy > 0


def test_r1_equals_a_finite_difference_reference_on_a_toy_discriminator() -> None:
    torch.manual_seed(0)
    weight_a, weight_b = torch.randn(3 * 4 * 4, dtype=torch.float64), torch.randn(3 * 2 * 2, dtype=torch.float64)

    def score(levels: list[torch.Tensor]) -> torch.Tensor:  # non-linear in both inputs
        return torch.tanh(levels[0].flatten(1) @ weight_a) + (levels[1].flatten(1) @ weight_b) ** 2

    inputs = [torch.randn(2, 3, 4, 4, dtype=torch.float64), torch.randn(2, 3, 2, 2, dtype=torch.float64)]
    penalty = r1_penalty(score, inputs)
    eps = 1e-6
    reference = torch.zeros(2, dtype=torch.float64)
    for level in range(2):
        flat = inputs[level].flatten(1)
        for k in range(flat.shape[1]):
            plus = [x.clone() for x in inputs]
            minus = [x.clone() for x in inputs]
            plus[level].view(2, -1)[:, k] += eps
            minus[level].view(2, -1)[:, k] -= eps
            derivative = (score(plus) - score(minus)) / (2 * eps)
            reference += derivative**2
    torch.testing.assert_close(penalty, reference, rtol=1e-6, atol=1e-8)
    assert penalty.requires_grad, "the penalty must be differentiable to be minimised"


def test_adversarial_loss_is_non_saturating_logistic() -> None:
    logits = [torch.tensor([[0.0, 2.0], [-1.0, 1.0]]), torch.tensor([[3.0], [-3.0]])]
    real = adversarial_loss(logits, real=True)
    expected = (F.softplus(-logits[0]).mean() + F.softplus(-logits[1]).mean()) / 2
    torch.testing.assert_close(real, expected)
    rows = torch.tensor([True, False])
    fake = adversarial_loss(logits, real=False, rows=rows)
    torch.testing.assert_close(fake, (F.softplus(logits[0][0]).mean() + F.softplus(logits[1][0]).mean()) / 2)


def test_relativistic_loss_pairs_each_logit_with_its_partner() -> None:
    real = [torch.tensor([[0.0, 2.0], [-1.0, 1.0]]), torch.tensor([[3.0], [-3.0]])]
    fake = [torch.tensor([[-1.0, 0.0], [-2.0, 0.0]]), torch.tensor([[0.0], [-4.0]])]
    expected = (F.softplus(fake[0] - real[0]).mean() + F.softplus(fake[1] - real[1]).mean()) / 2
    torch.testing.assert_close(relativistic_loss(real, fake), expected)
    # only the difference counts: shifting both sides alike changes nothing
    torch.testing.assert_close(relativistic_loss([x + 5 for x in real], [x + 5 for x in fake]), expected)
    # real images scored above their fakes cost less than the reverse
    assert relativistic_loss(real, fake) < relativistic_loss(fake, real)


def make_batch(generator: Generator, captions: list[str]) -> TrainingBatch:
    indices, valid = mismatched_indices(captions)
    size = generator.config.resolution
    return TrainingBatch(
        images=torch.rand(len(captions), 3, size, size) * 2 - 1,
        captions=captions,
        tokens=generator.tokenize(captions),
        mismatched_tokens=generator.tokenize([captions[i] for i in indices]),
        mismatch_valid=valid,
        z=torch.randn(len(captions), generator.config.z_dim),
        z_discriminator=torch.randn(len(captions), generator.config.z_dim),
    )


def test_every_phase_gives_finite_losses_and_gradients(tiny: ModelConfig) -> None:
    generator, discriminator = Generator(tiny.generator), Discriminator(tiny.discriminator)
    loss = GigaGANLoss(generator, discriminator, LossConfig(), use_vision_aided=True)
    batch = make_batch(generator, ["a red circle", "a blue square", "a green star"])
    g_loss, g_stats = loss.generator_loss(batch)
    g_loss.backward()
    assert {"G/adversarial", "G/vision_aided", "G/matching_aware", "G/total"} <= set(g_stats)
    assert generator.synthesis.const.grad is not None
    fake = loss.generate_for_discriminator(batch)
    d_loss, d_stats = loss.discriminator_loss(batch, fake)
    d_loss.backward()
    assert {"D/real", "D/fake", "D/matching_aware", "D/vision_aided"} <= set(d_stats)
    r1, r1_stats = loss.r1_loss(batch)
    r1.backward()
    assert r1_stats["D/r1_penalty"] > 0
    assert all(torch.isfinite(torch.tensor(v)) for v in {**g_stats, **d_stats}.values())


def test_matching_aware_term_is_skipped_when_every_caption_is_the_same(tiny: ModelConfig) -> None:
    generator, discriminator = Generator(tiny.generator), Discriminator(tiny.discriminator)
    loss = GigaGANLoss(generator, discriminator, LossConfig())
    _, stats = loss.generator_loss(make_batch(generator, ["a red circle"] * 3))
    assert "G/matching_aware" not in stats


def test_clip_contrastive_loss_prefers_matching_pairs(tiny: ModelConfig, tmp_path: Path) -> None:
    """A tiny random-initialised CLIP whose image projection is solved (least squares) so that each of
    four images embeds exactly as its own caption: the loss read from that checkpoint must be the
    InfoNCE of those embeddings, lower for the matching captions than for any shuffle of them, and
    differentiable w.r.t. the (generated) images."""
    clip = dataclasses.replace(tiny.generator.text.clip, pretrained=str(tmp_path / "clip.safetensors"))
    torch.manual_seed(1)
    model = open_clip.CLIP(**clip_architecture(clip)).eval()
    captions = ["a red circle", "a blue square", "a green star", "a yellow moon"]
    images = torch.rand(4, 3, 32, 32) * 2 - 1
    size = clip_image_size(clip)
    with torch.no_grad():
        texts = model.encode_text(CLIPTokenizer(clip)(captions))
        projection = model.visual.proj
        model.visual.proj = None  # the image tower's features before its projection
        pooled = model.encode_image(clip_preprocess(images, size))
        model.visual.proj = projection
        projection.copy_(torch.linalg.lstsq(pooled.double(), texts.double()).solution.float())
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "clip.safetensors"))

    contrastive = CLIPContrastiveLoss(clip)
    assert torch.equal(contrastive.model.visual.proj, model.visual.proj)
    assert all(not p.requires_grad for p in contrastive.model.parameters())
    wanted = F.normalize(texts, dim=-1)
    with torch.no_grad():  # the setup holds: image i embeds as caption i
        embedded = F.normalize(contrastive.model.encode_image(clip_preprocess(images, size)), dim=-1)
        torch.testing.assert_close(embedded, wanted, rtol=0, atol=1e-5)
        matched = contrastive(images, captions)
        expected = F.cross_entropy(model.logit_scale.exp() * wanted @ wanted.t(), torch.arange(4))
        torch.testing.assert_close(matched, expected)
        assert matched < 0.1
        for shift in (1, 2, 3):  # every image paired with another image's caption
            assert contrastive(images, captions[shift:] + captions[:shift]) > matched + 2
        order = [2, 0, 3, 1]  # the same pairs in another order give the same loss
        torch.testing.assert_close(contrastive(images[order], [captions[i] for i in order]), matched)

    generated = images.clone().requires_grad_()
    loss = contrastive(generated, captions)
    (gradient,) = torch.autograd.grad(loss, generated)
    assert torch.isfinite(gradient).all() and gradient.abs().sum() > 0
    assert all(p.grad is None for p in contrastive.model.parameters())
    direction, eps = torch.randn_like(images), 1e-2
    with torch.no_grad():  # the gradient is the loss's derivative: central difference along a random direction
        numeric = contrastive(images + eps * direction, captions) - contrastive(images - eps * direction, captions)
        torch.testing.assert_close((gradient * direction).sum(), numeric / (2 * eps), rtol=2e-2, atol=1e-4)
        assert contrastive(images - 0.1 * gradient / gradient.norm(), captions) < loss


@pytest.mark.parametrize("weight", [0.0, 1.0])
def test_matching_weight_zero_drops_the_term(tiny: ModelConfig, weight: float) -> None:
    generator, discriminator = Generator(tiny.generator), Discriminator(tiny.discriminator)
    loss = GigaGANLoss(generator, discriminator, LossConfig(matching_aware_weight=weight))
    batch = make_batch(generator, ["a red circle", "a blue square"])
    _, stats = loss.discriminator_loss(batch, loss.generate_for_discriminator(batch))
    assert ("D/matching_aware" in stats) == (weight > 0)


@pytest.mark.parametrize("fake_pyramid", ["generator", "downsampled"])
def test_fake_pyramid_chooses_what_the_discriminator_judges(tiny: ModelConfig, fake_pyramid: str) -> None:
    """ "downsampled" feeds D the pyramid built from G's finest image (as reals are built), so a
    change to a coarse level of G's own pyramid alone no longer reaches D."""
    generator, discriminator = Generator(tiny.generator), Discriminator(tiny.discriminator)
    loss = GigaGANLoss(generator, discriminator, LossConfig(matching_aware_weight=0, fake_pyramid=fake_pyramid))
    batch = make_batch(generator, ["a red circle", "a blue square"])
    fake = loss.generate_for_discriminator(batch)
    altered = [*fake[:-1], fake[-1] + 0.5]  # only the coarsest level of G's pyramid changes
    d_fake = [loss.discriminator_loss(batch, pyramid)[1]["D/fake"] for pyramid in (fake, altered)]
    assert (d_fake[0] == d_fake[1]) == (fake_pyramid == "downsampled")


def test_contrastive_loss_is_cross_entropy_over_the_batch_captions() -> None:
    torch.manual_seed(0)
    images, captions_embedded = torch.randn(4, 8), torch.randn(4, 8)
    captions = ["a", "b", "c", "d"]
    expected = F.cross_entropy(images @ captions_embedded.t(), torch.arange(4))
    torch.testing.assert_close(contrastive_loss([images, images], captions_embedded, captions), expected)
    # aligned embeddings score lower than shuffled ones
    assert contrastive_loss([captions_embedded * 5], captions_embedded, captions) < contrastive_loss(
        [captions_embedded.roll(1, 0) * 5], captions_embedded, captions
    )


def test_contrastive_loss_counts_each_images_extra_negative_where_valid() -> None:
    torch.manual_seed(0)
    images, embedded, extra = torch.randn(3, 8), torch.randn(3, 8), torch.randn(3, 8)
    valid = torch.tensor([True, False, True])
    loss = contrastive_loss([images], embedded, ["a", "b", "c"], extra, valid)
    logits = torch.cat([images @ embedded.t(), (images * extra).sum(dim=1, keepdim=True)], dim=1)
    rows = [
        F.cross_entropy(logits[0][None], torch.tensor([0])),
        F.cross_entropy(logits[1, :3][None], torch.tensor([1])),  # its extra negative is not valid
        F.cross_entropy(logits[2][None], torch.tensor([2])),
    ]
    torch.testing.assert_close(loss, torch.stack(rows).mean())
    # an extra negative equal to the image's own caption raises the loss
    assert contrastive_loss([embedded * 5], embedded, ["a", "b", "c"], embedded) > contrastive_loss(
        [embedded * 5], embedded, ["a", "b", "c"]
    )


def test_contrastive_loss_leaves_duplicate_captions_out_of_the_negatives() -> None:
    """A second sample with the same caption is neither the answer nor a wrong caption: the loss
    of the batch [a, b, a] equals, row by row, that of [a, b] with the other 'a' column removed."""
    torch.manual_seed(0)
    images, embedded = torch.randn(3, 8), torch.randn(3, 8)
    loss = contrastive_loss([images], embedded, ["a", "b", "a"])
    logits = images @ embedded.t()
    rows = [
        F.cross_entropy(logits[0, [0, 1]][None], torch.tensor([0])),
        F.cross_entropy(logits[1][None], torch.tensor([1])),
        F.cross_entropy(logits[2, [1, 2]][None], torch.tensor([1])),
    ]
    torch.testing.assert_close(loss, torch.stack(rows).mean())


def test_dense_head_embeddings_reproduce_its_logits(tiny: ModelConfig) -> None:
    config = dataclasses.replace(tiny.discriminator, dense_final_head=True, projection_only=True, vision_aided=None)
    discriminator = Discriminator(config)
    pyramid = [torch.randn(3, 3, r, r) for r in config.resolutions[::-1]]
    t = torch.randn(3, config.t_dim)
    out = discriminator(pyramid, t)
    coarsest = discriminator.num_levels - 1
    dense_logits = [logits for (_, depth), logits in zip(out.pairs, out.multiscale) if depth == coarsest]
    assert len(out.image_embeddings) == len(dense_logits) == discriminator.num_levels
    for image, logits in zip(out.image_embeddings, dense_logits):
        torch.testing.assert_close((image * out.caption_embedding).sum(dim=1, keepdim=True), logits)
    assert Discriminator(dataclasses.replace(config, dense_final_head=False))(pyramid, t).image_embeddings == []


@pytest.mark.parametrize("weight", [0.0, 1.0])
def test_contrastive_weight_adds_the_term_to_both_players(tiny: ModelConfig, weight: float) -> None:
    generator = Generator(tiny.generator)
    discriminator = Discriminator(dataclasses.replace(tiny.discriminator, dense_final_head=True))
    loss = GigaGANLoss(generator, discriminator, LossConfig(contrastive_weight=weight))
    batch = make_batch(generator, ["a red circle", "a blue square", "a green star"])
    _, g_stats = loss.generator_loss(batch)
    d_loss, d_stats = loss.discriminator_loss(batch, loss.generate_for_discriminator(batch))
    assert ("G/contrastive" in g_stats) == ("D/contrastive" in d_stats) == (weight > 0)
    if weight > 0:
        d_loss.backward()
        embed = discriminator.heads[-1].embed_text.weight
        assert embed.grad is not None and embed.grad.abs().sum() > 0
        assert 0 < d_stats["D/contrastive"] < 10


def test_contrastive_mismatched_adds_the_wrong_caption_to_the_softmax(tiny: ModelConfig) -> None:
    torch.manual_seed(0)
    generator = Generator(tiny.generator)
    discriminator = Discriminator(dataclasses.replace(tiny.discriminator, dense_final_head=True))
    batch = make_batch(generator, ["a red circle", "a blue square", "a green star"])
    fake = GigaGANLoss(generator, discriminator, LossConfig(contrastive_weight=1.0)).generate_for_discriminator(batch)
    losses = [
        GigaGANLoss(
            generator, discriminator, LossConfig(contrastive_weight=1.0, contrastive_mismatched=extra)
        ).discriminator_loss(batch, fake)[1]["D/contrastive"]
        for extra in (False, True)
    ]
    assert losses[1] > losses[0]  # one more wrong caption in every row's softmax


def test_contrastive_weight_without_a_dense_head_is_refused(tiny: ModelConfig) -> None:
    generator = Generator(tiny.generator)
    discriminator = Discriminator(dataclasses.replace(tiny.discriminator, dense_final_head=False))
    with pytest.raises(GigaGANError, match="dense_final_head"):
        GigaGANLoss(generator, discriminator, LossConfig(contrastive_weight=0.3))


@pytest.mark.parametrize("reuse", [False, True])
def test_reuse_generator_fakes_gives_d_the_g_phase_pictures(tiny: ModelConfig, reuse: bool) -> None:
    generator, discriminator = Generator(tiny.generator), Discriminator(tiny.discriminator)
    loss = GigaGANLoss(generator, discriminator, LossConfig(reuse_generator_fakes=reuse), noise_mode="const")
    batch = make_batch(generator, ["a red circle", "a blue square"])
    loss.generator_loss(batch)
    with torch.no_grad():
        g_phase = loss.generate(batch, batch.z)
    fake = loss.generate_for_discriminator(batch)
    assert all(not level.requires_grad for level in fake)
    same = all(torch.equal(a.float(), b) for a, b in zip(g_phase, fake))
    assert same == reuse  # otherwise drawn afresh from z_discriminator


@pytest.mark.parametrize("predictions", ["all", "coarsest"])
def test_predictions_choose_which_heads_are_trained(tiny: ModelConfig, predictions: str) -> None:
    generator = Generator(tiny.generator)
    discriminator = Discriminator(dataclasses.replace(tiny.discriminator, vision_aided=None))
    loss = GigaGANLoss(generator, discriminator, LossConfig(predictions=predictions))
    batch = make_batch(generator, ["a red circle", "a blue square"])
    total, _ = loss.discriminator_loss(batch, loss.generate_for_discriminator(batch))
    r1, _ = loss.r1_loss(batch)
    (total + r1).backward()

    def trained(head: torch.nn.Module) -> bool:
        return any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in head.parameters())

    *finer, coarsest = discriminator.heads
    assert trained(coarsest)
    assert [trained(head) for head in finer] == [predictions == "all"] * len(finer)
    with pytest.raises(GigaGANError, match="predictions"):
        LossConfig(predictions="finest").validate()


def test_relativistic_adversarial_term_moves_with_the_real_logits(tiny: ModelConfig) -> None:
    """G's relativistic term compares its fakes with D's logits for the batch's real images: other
    reals, another G loss; D's term is the pairing loss of the same logits."""
    generator = Generator(tiny.generator)
    discriminator = Discriminator(dataclasses.replace(tiny.discriminator, vision_aided=None))
    config = LossConfig(adversarial="relativistic", matching_aware_weight=0.0)
    loss = GigaGANLoss(generator, discriminator, config, noise_mode="const")
    batch = make_batch(generator, ["a red circle", "a blue square"])
    _, stats = loss.generator_loss(batch)
    other_reals = dataclasses.replace(batch, images=torch.zeros_like(batch.images))
    _, other_stats = loss.generator_loss(other_reals)
    assert stats["G/adversarial"] != pytest.approx(other_stats["G/adversarial"])
    fake = loss.generate_for_discriminator(batch)
    _, d_stats = loss.discriminator_loss(batch, fake)
    plain = GigaGANLoss(generator, discriminator, LossConfig(matching_aware_weight=0.0), noise_mode="const")
    _, plain_stats = plain.discriminator_loss(batch, fake)
    assert d_stats["D/fake"] == 0.0 and d_stats["D/real"] != pytest.approx(plain_stats["D/real"])
    with pytest.raises(GigaGANError, match="adversarial"):
        LossConfig(adversarial="hinge").validate()


def test_r2_penalises_the_gradient_at_the_fakes_too(tiny: ModelConfig) -> None:
    generator = Generator(tiny.generator)
    discriminator = Discriminator(dataclasses.replace(tiny.discriminator, vision_aided=None))
    batch = make_batch(generator, ["a red circle", "a blue square"])
    r1_only, r1_stats = GigaGANLoss(generator, discriminator, LossConfig(r1_gamma=1.0)).r1_loss(batch)
    both, stats = GigaGANLoss(generator, discriminator, LossConfig(r1_gamma=1.0, r2_gamma=1.0)).r1_loss(batch)
    assert "D/r2_penalty" not in r1_stats and stats["D/r2_penalty"] > 0
    interval = LossConfig().r1_interval
    expected = r1_only + stats["D/r2_penalty"] / 2 * interval
    torch.testing.assert_close(both.detach(), expected.detach(), rtol=1e-4, atol=1e-6)


def test_diversity_loss_is_the_capped_image_to_latent_distance_ratio() -> None:
    images = torch.zeros(2, 3, 4, 4)
    other = torch.stack([torch.full((3, 4, 4), 0.02), torch.full((3, 4, 4), 0.5)])
    z, other_z = torch.zeros(2, 8), torch.full((2, 8), 0.5)
    # ratios 0.02 / 0.5 = 0.04 and 0.5 / 0.5 = 1 (capped at 0.1)
    torch.testing.assert_close(diversity_loss(images, other, z, other_z, cap=0.1), torch.tensor(-(0.04 + 0.1) / 2))


def test_diversity_weight_rewards_g_for_spreading_its_latents(tiny: ModelConfig) -> None:
    torch.manual_seed(0)
    generator, discriminator = Generator(tiny.generator), Discriminator(tiny.discriminator)
    batch = make_batch(generator, ["a red circle", "a blue square", "a green star", "a white cross"])
    _, plain = GigaGANLoss(generator, discriminator, LossConfig(), noise_mode="const").generator_loss(batch)
    assert "G/diversity" not in plain
    config = LossConfig(diversity_weight=2.0, diversity_pairs=2)
    loss = GigaGANLoss(generator, discriminator, config, noise_mode="const")
    _, stats = loss.generator_loss(batch)
    assert stats["G/total"] == pytest.approx(plain["G/total"] + 2.0 * stats["G/diversity"], rel=1e-4)
    text = loss._generator_text(batch)
    head = dataclasses.replace(text, local=text.local[:2], mask=text.mask[:2], global_=text.global_[:2])
    first = generator(batch.z[:2], text=head, noise_mode="const")[0]
    second = generator(batch.z_discriminator[:2], text=head, noise_mode="const")[0]
    expected = diversity_loss(first, second, batch.z[:2], batch.z_discriminator[:2], LossConfig().diversity_cap)
    assert stats["G/diversity"] == pytest.approx(float(expected.detach()), rel=1e-4)
    generator.zero_grad()
    # at initialisation the pictures of two latents differ by more than the cap, where the term is flat
    diversity_loss(first, second, batch.z[:2], batch.z_discriminator[:2], cap=1e3).backward()
    z_columns = generator.mapping.layers[0].weight.grad[:, : tiny.generator.z_dim]
    assert z_columns.abs().sum() > 0  # the term reaches the weights that read z


def test_diversity_at_a_coarse_resolution_compares_the_pooled_pictures(tiny: ModelConfig) -> None:
    torch.manual_seed(0)
    generator, discriminator = Generator(tiny.generator), Discriminator(tiny.discriminator)
    batch = make_batch(generator, ["a red circle", "a blue square", "a green star", "a white cross"])
    config = LossConfig(diversity_weight=1.0, diversity_pairs=2, diversity_cap=1e3, diversity_resolution=4)
    loss = GigaGANLoss(generator, discriminator, config, noise_mode="const")
    _, stats = loss.generator_loss(batch)
    text = loss._generator_text(batch).rows(slice(2))
    first = generator(batch.z[:2], text=text, noise_mode="const")[0]
    second = generator(batch.z_discriminator[:2], text=text, noise_mode="const")[0]
    pooled = [F.adaptive_avg_pool2d(images, 4) for images in (first, second)]
    expected = diversity_loss(*pooled, batch.z[:2], batch.z_discriminator[:2], cap=1e3)
    full = diversity_loss(first, second, batch.z[:2], batch.z_discriminator[:2], cap=1e3)
    assert stats["G/diversity"] == pytest.approx(float(expected.detach()), rel=1e-4)
    assert float(expected.detach()) > float(
        full.detach()
    )  # pooling removes pixel-level differences: a smaller distance
    with pytest.raises(GigaGANError, match="diversity_resolution"):
        LossConfig(diversity_resolution=6).validate()


def test_text_encoding_concat_stacks_the_rows(tiny: ModelConfig) -> None:
    generator = Generator(tiny.generator)
    text = generator.encode_text(generator.tokenize(["a red circle", "a blue square", "a green cross"]))
    joined = text.rows(slice(0, 1)).concat(text.rows(slice(1, 3)))
    for field in ("local", "mask", "global_"):
        torch.testing.assert_close(getattr(joined, field), getattr(text, field))
