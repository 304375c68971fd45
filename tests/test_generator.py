"""Generator: pyramid, gradients, w+ locality, determinism, truncation."""

from __future__ import annotations

import itertools

import pytest
import torch

from gigagan.config import ModelConfig
from gigagan.models import Generator
from gigagan.models.generator import AttentionBlock

PROMPTS = ["a small red triangle at the top left on a blue background", "a large green circle"]


def make_inputs(generator: Generator, batch: int = 2):
    prompts = (PROMPTS * batch)[:batch]
    return torch.randn(batch, generator.config.z_dim), generator.tokenize(prompts)


@pytest.mark.parametrize("fixture", ["tiny", "tiny64"])
def test_pyramid_has_every_level_with_the_right_shape(fixture: str, request: pytest.FixtureRequest) -> None:
    config: ModelConfig = request.getfixturevalue(fixture)
    generator = Generator(config.generator)
    z, ids = make_inputs(generator, batch=3)
    pyramid = generator(z, ids)
    resolutions = [config.generator.resolution // 2**i for i in range(config.generator.num_levels)]
    assert [tuple(level.shape) for level in pyramid] == [(3, 3, r, r) for r in resolutions]
    assert resolutions[-1] == 4
    assert all(torch.isfinite(level).all() for level in pyramid)


def test_attention_blocks_start_as_the_identity(tiny: ModelConfig) -> None:
    generator = Generator(tiny.generator)
    blocks = [m for m in generator.modules() if isinstance(m, AttentionBlock)]
    assert blocks
    x = torch.randn(2, blocks[0].norm_self.normalized_shape[0], 8, 8)
    text_dim = blocks[0].cross_attention.to_k.weight.shape[1]
    text, mask = torch.randn(2, 5, text_dim), torch.ones(2, 5, dtype=torch.bool)
    assert torch.equal(blocks[0](x, torch.randn(2, tiny.generator.w_dim), text, mask), x)


def test_gradients_reach_every_trainable_parameter(tiny: ModelConfig, open_attention_branches) -> None:
    generator = Generator(tiny.generator)
    with torch.no_grad():  # noise strengths start at zero; make their gradients non-trivial too
        for name, parameter in generator.named_parameters():
            if name.endswith("noise_strength"):
                parameter.fill_(0.1)
    open_attention_branches(generator)
    z, ids = make_inputs(generator)
    loss = sum(level.square().mean() for level in generator(z, ids))
    loss.backward()
    trainable = [(n, p) for n, p in generator.named_parameters() if p.requires_grad]
    assert trainable
    missing = [n for n, p in trainable if p.grad is None or not torch.any(p.grad != 0)]
    assert missing == []
    frozen = [p for p in generator.text_encoder.clip.parameters()]
    assert frozen and all(not p.requires_grad and p.grad is None for p in frozen)


def test_changing_fine_w_leaves_coarse_levels_unchanged(tiny64: ModelConfig) -> None:
    generator = Generator(tiny64.generator).eval()
    z, ids = make_inputs(generator)
    text = generator.encode_text(ids)
    ws = generator.map(z, text).clone()
    slices = generator.synthesis.ws_slices()
    before = generator.synthesis(ws, text.local, text.mask, noise_mode="const")
    crossover = 3  # levels 3 and 4 (32 and 64 px) get a different w
    ws_mixed = ws.clone()
    ws_mixed[:, slices[crossover].start :] = torch.randn_like(ws_mixed[:, slices[crossover].start :])
    after = generator.synthesis(ws_mixed, text.local, text.mask, noise_mode="const")
    # pyramid is finest first: index 0 = 64px (level 4), index 4 = 4px (level 0)
    for level in range(crossover):
        torch.testing.assert_close(after[4 - level], before[4 - level], rtol=0, atol=0)
    for level in range(crossover, 5):
        assert not torch.allclose(after[4 - level], before[4 - level])


def test_per_level_text_tokens_only_affect_their_levels(tiny: ModelConfig, open_attention_branches) -> None:
    generator = Generator(tiny.generator).eval()
    open_attention_branches(generator)  # cross-attention, the only path of t_local, starts closed
    z, ids = make_inputs(generator)
    text_a = generator.encode_text(ids)
    text_b = generator.encode_text(generator.tokenize(["a blue square", "a yellow star"]))
    ws = generator.map(z, text_a)
    levels = generator.config.num_levels
    shared = generator.synthesis(ws, text_a.local, text_a.mask, noise_mode="const")
    per_level = torch.stack([text_a.local] * 2 + [text_b.local] * (levels - 2), dim=1)
    per_level_mask = torch.stack([text_a.mask] * 2 + [text_b.mask] * (levels - 2), dim=1)
    mixed = generator.synthesis(ws, per_level, per_level_mask, noise_mode="const")
    torch.testing.assert_close(mixed[-1], shared[-1], rtol=0, atol=0)  # 4px level uses prompt A
    torch.testing.assert_close(mixed[-2], shared[-2], rtol=0, atol=0)  # 8px level uses prompt A
    assert not torch.allclose(mixed[0], shared[0])


def test_fixed_seed_gives_identical_output(tiny: ModelConfig) -> None:
    def run() -> list[torch.Tensor]:
        torch.manual_seed(123)
        generator = Generator(tiny.generator)
        z, ids = make_inputs(generator)
        return generator(z, ids, noise_mode="random")

    first, second = run(), run()
    for a, b in zip(first, second):
        assert torch.equal(a, b)


def test_text_changes_the_image(tiny: ModelConfig) -> None:
    generator = Generator(tiny.generator).eval()
    z = torch.randn(1, generator.config.z_dim).expand(2, -1)
    images = generator(z, generator.tokenize(["a red circle", "a blue square"]), noise_mode="const")[0]
    assert not torch.allclose(images[0], images[1])


def test_w_plus_rows_are_grouped_by_level(tiny: ModelConfig) -> None:
    generator = Generator(tiny.generator)
    slices = generator.synthesis.ws_slices()
    assert slices[0].start == 0 and slices[-1].stop == generator.num_ws
    assert all(a.stop == b.start for a, b in itertools.pairwise(slices))


def test_truncation_toward_center(tiny: ModelConfig) -> None:
    generator = Generator(tiny.generator).eval()
    z, ids = make_inputs(generator)
    text = generator.encode_text(ids)
    center = generator.mean_w(text, num_samples=64)
    assert center.shape == (2, generator.config.w_dim)
    torch.testing.assert_close(generator.map(z, text, 0.0, center)[:, 0], center)
    torch.testing.assert_close(generator.map(z, text, 1.0, center), generator.map(z, text))


def test_bf16_autocast_forward_runs(tiny: ModelConfig) -> None:
    generator = Generator(tiny.generator).eval()
    z, ids = make_inputs(generator)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        pyramid = generator(z, ids, noise_mode="const")
    reference = generator(z, ids, noise_mode="const")
    assert pyramid[0].dtype == torch.bfloat16
    assert torch.isfinite(pyramid[0].float()).all()
    assert (pyramid[0].float() - reference[0]).abs().mean() < 0.1 * reference[0].abs().mean() + 1e-3
