"""The upsampler network and its discriminator: shapes, gradients, conditioning, checkpoints."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from upsampler_configs import tiny_upsampler

from gigagan import GigaGANError
from gigagan.config import config_from_dict, config_to_dict
from gigagan.config.upsampler import UpsamplerConfig, UpsamplerModelConfig
from gigagan.models.upsampler import Upsampler, UpsamplerDiscriminator, coordinate_noise
from gigagan.nn import image_pyramid, minibatch_std


def _images(batch: int, size: int) -> torch.Tensor:
    return torch.rand(batch, 3, size, size) * 2 - 1


@pytest.mark.parametrize("scale_factor", [4, 8, 16])
def test_output_sizes_for_every_scale_factor(scale_factor: int) -> None:
    config = tiny_upsampler(scale_factor)
    upsampler = Upsampler(config).eval()
    with torch.no_grad():
        pyramid = upsampler(_images(2, 16), torch.randn(2, config.z_dim), upsampler.tokenize(["a cat", "a dog"]))
    assert [tuple(level.shape) for level in pyramid] == [(2, 3, r, r) for r in reversed(config.resolutions)]
    assert pyramid[0].shape[-1] == 16 * scale_factor
    # non-square inputs of any aligned size work too (fully convolutional)
    with torch.no_grad():
        wide = upsampler(_images(1, 16)[..., :8].repeat(1, 1, 1, 3), torch.randn(1, config.z_dim))
    assert wide[0].shape == (1, 3, 16 * scale_factor, 24 * scale_factor)


def test_tiny_forward_is_cheap(tiny_pair: UpsamplerModelConfig) -> None:
    """The tiny preset is for fast tests: a forward of four 16px images (to 64px) counts under 0.25
    GFLOP (about 0.18 now, matrix products and convolutions, text tower included), a deterministic
    stand-in for a wall-clock limit; and the count does not grow on a second call."""
    upsampler = Upsampler(tiny_pair.upsampler).eval()
    images, z, ids = _images(4, 16), torch.randn(4, 16), upsampler.tokenize(["a red circle"] * 4)
    counts = []
    with torch.no_grad():
        for _ in range(2):
            with FlopCounterMode(display=False) as counter:
                pyramid = upsampler(images, z, ids)
            counts.append(counter.get_total_flops())
    assert pyramid[0].shape == (4, 3, 64, 64)
    assert 0 < counts[0] == counts[1] < 0.25e9


def test_gradients_reach_every_trainable_parameter(tiny_pair: UpsamplerModelConfig, open_attention_branches) -> None:
    upsampler = Upsampler(tiny_pair.upsampler)
    open_attention_branches(upsampler)
    discriminator = UpsamplerDiscriminator(tiny_pair.discriminator)
    ids = upsampler.tokenize(["a red circle", "a blue square", "a cube", "a tree"])
    pyramid = upsampler(_images(4, 16), torch.randn(4, 16), ids, noise_mode="random")
    clip = upsampler.text_encoder.clip(ids)
    wrong = discriminator.encode_text(clip).roll(1, dims=0)
    out = discriminator(pyramid, clip, mismatched_text=wrong)
    loss = sum(logits.mean() for logits in out.multiscale + out.mismatched)
    loss.backward()
    for network in (upsampler, discriminator):
        trainable = [(n, p) for n, p in network.named_parameters() if p.requires_grad]
        assert trainable
        missing = [
            n for n, p in trainable if p.grad is None or not torch.isfinite(p.grad).all() or p.grad.abs().sum() == 0
        ]
        assert not missing, missing
    frozen = [p for p in upsampler.text_encoder.clip.parameters()]
    assert frozen and all(p.grad is None for p in frozen)


def test_text_conditioning_changes_the_output(tiny_pair: UpsamplerModelConfig) -> None:
    upsampler = Upsampler(tiny_pair.upsampler).eval()
    images, z = _images(1, 16), torch.randn(1, 16)
    with torch.no_grad():
        run = [upsampler(images, z, upsampler.tokenize(p), noise_mode="const")[0] for p in ("a red circle", "a tree")]
        again = upsampler(images, z, upsampler.tokenize("a red circle"), noise_mode="const")[0]
        unconditional = upsampler(images, z, noise_mode="const")[0]
        empty = upsampler(images, z, upsampler.tokenize(""), noise_mode="const")[0]
    assert torch.equal(run[0], again)  # deterministic under const noise
    assert (run[0] - run[1]).abs().mean() > 1e-2 * run[0].abs().mean()
    assert torch.equal(unconditional, empty)  # no prompt = the empty prompt


def test_pyramid_starts_from_the_input(tiny_pair: UpsamplerModelConfig) -> None:
    """Every level is the input (resized) plus a learned residual, so zeroing the toRGB layers gives
    the input's own pyramid below its resolution and its bilinear upsampling above."""
    upsampler = Upsampler(tiny_pair.upsampler).eval()
    with torch.no_grad():
        for level in upsampler.decoder:
            level.to_rgb.conv.bank.zero_()
        images = _images(1, 16)
        pyramid = upsampler(images, torch.randn(1, 16))
    expected = image_pyramid(images, 2)  # 16, 8
    assert torch.allclose(pyramid[2], expected[0]) and torch.allclose(pyramid[3], expected[1])
    bilinear = torch.nn.functional.interpolate(images, scale_factor=2, mode="bilinear", align_corners=False)
    assert torch.allclose(pyramid[1], bilinear, atol=1e-6)


def test_discriminator_predictions_and_minibatch_std(tiny_pair: UpsamplerModelConfig) -> None:
    discriminator = UpsamplerDiscriminator(tiny_pair.discriminator)
    levels = discriminator.num_levels
    pyramid = image_pyramid(_images(4, 64), levels + 1)  # an extra coarse level is ignored
    t = torch.randn(4, tiny_pair.discriminator.t_dim)
    out = discriminator(pyramid, t)
    assert len(out.multiscale) == discriminator.num_predictions == levels * (levels + 1) // 2
    assert out.vision == [] and discriminator.vision_aided is None
    # minibatch-std: identical samples have zero spread; groups never mix the stacked paths
    x = torch.randn(1, 4, 3, 3).repeat(4, 1, 1, 1)
    assert minibatch_std(x, group_size=4)[:, -1].abs().max() < 1e-3
    paths = torch.cat([x, torch.randn(4, 4, 3, 3)])
    stats = minibatch_std(paths, group_size=4, num_paths=2)[:, -1]
    assert stats[:4].abs().max() < 1e-3 and stats[4:].min() > 0.1
    # and it makes one sample's logits depend on the others in its group
    other = [level.clone() for level in pyramid]
    other[0][1:] = torch.rand_like(other[0][1:])
    assert not torch.allclose(discriminator(other, t).multiscale[0][0], out.multiscale[0][0])


def test_round_trip_is_bit_identical(tiny_pair: UpsamplerModelConfig, tmp_path: Path) -> None:
    upsampler = Upsampler(tiny_pair.upsampler).eval()
    discriminator = UpsamplerDiscriminator(tiny_pair.discriminator).eval()
    with torch.no_grad():
        for parameter in [*upsampler.parameters(), *discriminator.parameters()]:
            parameter.add_(torch.randn_like(parameter) * 0.01)
    upsampler.save_pretrained(tmp_path)
    discriminator.save_pretrained(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "config.json",
        "upsampler.safetensors",
        "upsampler_discriminator.safetensors",
    ]
    assert {"upsampler", "upsampler_discriminator"} <= set(json.loads((tmp_path / "config.json").read_text()))
    loaded = Upsampler.from_pretrained(tmp_path)
    loaded_d = UpsamplerDiscriminator.from_pretrained(tmp_path)
    for original, copy in ((upsampler, loaded), (discriminator, loaded_d)):
        state, copied = original.state_dict(), copy.state_dict()
        assert state.keys() == copied.keys()
        assert all(torch.equal(state[k], copied[k]) for k in state)
    images, z = _images(2, 16), torch.randn(2, 16)
    ids = upsampler.tokenize(["a cube", ""])
    with torch.no_grad():
        for a, b in zip(upsampler(images, z, ids, noise_mode="const"), loaded(images, z, ids, noise_mode="const")):
            assert torch.equal(a, b)


def test_config_json_round_trip_and_validation(tiny_pair: UpsamplerModelConfig) -> None:
    data = json.loads(json.dumps(config_to_dict(tiny_pair)))
    assert config_from_dict(UpsamplerModelConfig, data) == tiny_pair
    broken = dataclasses.replace(tiny_pair.upsampler, channels=[8, 8])
    with pytest.raises(GigaGANError, match="channels needs 4 entries"):
        broken.validate()
    with pytest.raises(GigaGANError, match="scale_factor"):
        dataclasses.replace(tiny_pair.upsampler, scale_factor=3).validate()
    with pytest.raises(GigaGANError, match="multiple of 2"):
        dataclasses.replace(tiny_pair.upsampler, input_resolution=15).validate()
    with pytest.raises(GigaGANError, match="unknown UpsamplerConfig fields"):
        config_from_dict(UpsamplerConfig, {"depth": 3})
    upsampler = Upsampler(tiny_pair.upsampler)
    with pytest.raises(ValueError, match="multiples of 2"):
        upsampler(_images(1, 16)[..., :15], torch.randn(1, 16))


def test_coordinate_noise_depends_only_on_the_global_position() -> None:
    whole = coordinate_noise(torch.zeros(1, 2, dtype=torch.long), 96, 128, salt=7)
    crops = coordinate_noise(torch.tensor([[0, 0], [32, 40], [50, 3]]), 40, 60, salt=7)
    for crop, (y, x) in zip(crops, [(0, 0), (32, 40), (50, 3)]):
        assert torch.equal(crop, whole[0, :, y : y + 40, x : x + 60])
    other = coordinate_noise(torch.zeros(1, 2, dtype=torch.long), 96, 128, salt=8)
    assert abs(whole.mean()) < 0.05 and abs(whole.std() - 1) < 0.05
    assert abs(torch.corrcoef(torch.stack([whole.flatten(), other.flatten()]))[0, 1]) < 0.05
    flat = whole[0, 0]
    for a, b in ((flat[:, 1:], flat[:, :-1]), (flat[1:], flat[:-1])):  # neighbours are uncorrelated
        assert abs(torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1]) < 0.05


def test_gradient_checkpointing_gives_the_same_gradients(tiny_pair: UpsamplerModelConfig) -> None:
    upsampler = Upsampler(tiny_pair.upsampler).train()
    images, z, ids = _images(2, 16), torch.randn(2, 16), upsampler.tokenize(["a cube", "a tree"])
    gradients = []
    for checkpointing in (False, True):
        upsampler.gradient_checkpointing = checkpointing
        upsampler.zero_grad()
        upsampler(images, z, ids, noise_mode="const")[0].square().mean().backward()
        gradients.append([p.grad.clone() for p in upsampler.parameters() if p.requires_grad])
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(*gradients))
