"""Upsampler training: it trains with the generator's trainer, checkpoints, resumes exactly; its inputs
(degradations) are deterministic per seed; the perceptual distances behave."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from gigagan import GigaGANError
from gigagan.config.upsampler import get_upsampler_preset
from gigagan.models.upsampler import Upsampler
from gigagan.training.degrade import Degradation, make_low_res, sample_rng
from gigagan.training.perceptual import LPIPS, LPIPS_CHANNELS, PyramidDistance, build_perceptual_distance
from gigagan.training.upsampler import UpsamplerTrainConfig, UpsamplerTrainer


def tiny_upsampler_run(run_dir: Path, **overrides) -> UpsamplerTrainer:
    settings = dict(
        data="shapes",
        batch_size=4,
        max_steps=4,
        seed=7,
        log_every=1,
        sample_every=0,
        checkpoint_every=2,
        lr_generator=0.002,
        lr_discriminator=0.002,
        input_noise=(0.0, 0.1),
    )
    config = UpsamplerTrainConfig(**{**settings, **overrides})
    config.loss.r1_interval = 2
    return UpsamplerTrainer(get_upsampler_preset("upsampler-tiny"), config, run_dir, progress=False)


def test_tiny_upsampler_training_moves_losses_and_writes_a_loadable_latest(tmp_path: Path) -> None:
    trainer = tiny_upsampler_run(tmp_path / "run", max_steps=6, sample_every=6, checkpoint_every=3)
    trainable = {name for name, p in trainer.generator.named_parameters() if p.requires_grad}
    initial = {n: p.detach().clone() for n, p in trainer.ema.model.named_parameters() if n in trainable}
    history: list[dict[str, float]] = []
    trainer.on_step = lambda step, stats: history.append(stats)
    result = trainer.run()
    assert result.step == 6 and result.skipped_steps == 0
    for name in ("D/real", "G/adversarial", "G/perceptual"):
        values = [h[name] for h in history]
        assert max(values) - min(values) > 1e-3, name
    assert "D/r1_penalty" in history[1] and "G/matching_aware" in history[0]
    current = dict(trainer.ema.model.named_parameters())
    assert sum(not torch.equal(v, current[n]) for n, v in initial.items()) > 0.9 * len(initial)
    latest = tmp_path / "run" / "latest"
    names = sorted(p.name for p in latest.iterdir())
    assert {"upsampler.safetensors", "upsampler_ema.safetensors", "upsampler_discriminator.safetensors"} <= set(names)
    loaded = Upsampler.from_pretrained(latest)  # the EMA weights
    assert all(torch.equal(p, current[n]) for n, p in loaded.named_parameters())
    assert (tmp_path / "run" / "samples" / "step-00000006.png").is_file()


def test_resume_continues_bit_exactly(tmp_path: Path) -> None:
    """Degradations, noise, z and data all continue exactly: 2 + 2 steps equal 4 straight steps."""
    options = dict(degrade=True, max_steps=4)
    tiny_upsampler_run(tmp_path / "straight", **options).run()
    tiny_upsampler_run(tmp_path / "resumed", **{**options, "max_steps": 2}).run()
    resumed = tiny_upsampler_run(tmp_path / "resumed", **options)
    resumed._resume(True)
    assert resumed.step == 2
    resumed.run()
    for name in ("upsampler", "upsampler_ema", "upsampler_discriminator", "optimizers"):
        a = load_file(tmp_path / "straight" / "latest" / f"{name}.safetensors")
        b = load_file(tmp_path / "resumed" / "latest" / f"{name}.safetensors")
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name


def test_unconditional_mode_trains_on_the_empty_prompt(tmp_path: Path) -> None:
    trainer = tiny_upsampler_run(tmp_path / "run", unconditional=True)
    batch = trainer._next_batch()
    assert batch.captions == [""] * 4 and not batch.mismatch_valid.any()
    assert batch.low_res is not None and batch.low_res.shape == (4, 3, 16, 16)
    assert batch.images.shape == (4, 3, 64, 64)
    trainer.logger.close()


def test_degradations_are_deterministic_per_seed_step_and_row() -> None:
    images = torch.rand(3, 3, 64, 64) * 2 - 1

    def low(seed: int, step: int) -> torch.Tensor:
        rngs = [sample_rng(seed, step, row) for row in range(3)]
        return make_low_res(images, 16, rngs, noise_sigma=(0.0, 0.1), degradation=Degradation())

    first = low(0, 5)
    assert first.shape == (3, 3, 16, 16)
    assert torch.equal(first, low(0, 5))
    assert not torch.equal(first, low(1, 5)) and not torch.equal(first, low(0, 6))
    assert not torch.equal(first[0], first[1])  # rows draw their own degradations
    clean = make_low_res(images, 16, [sample_rng(0, 0, r) for r in range(3)])
    expected = torch.nn.functional.interpolate(images, size=16, mode="bicubic", antialias=True).clamp(-1, 1)
    assert torch.allclose(clean, expected)


def test_fallback_perceptual_distance_is_zero_only_for_identical_images() -> None:
    distance = PyramidDistance()
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    assert torch.equal(distance(x, x.clone()), torch.zeros(2))
    y = x.clone()
    y[1, :, 10:20, 10:20] += 0.2
    values = distance(x, y)
    assert values[0] == 0 and values[1] > 0
    assert (distance(x, x.roll(1, dims=-1)) > 0).all()
    assert isinstance(build_perceptual_distance(None), PyramidDistance)


def test_lpips_loads_local_weights_and_refuses_incomplete_ones(tmp_path: Path) -> None:
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(0)
    backbone = {f"features.{k}": v for k, v in make_layers(cfgs["D"]).state_dict().items()}
    linear = {f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1) for i, c in enumerate(LPIPS_CHANNELS)}
    torch.save(backbone, tmp_path / "vgg16.pth")
    torch.save(linear, tmp_path / "vgg.pth")
    lpips = build_perceptual_distance(tmp_path)  # a folder holding both files
    assert isinstance(lpips, LPIPS)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert lpips(x, x).abs().max() < 1e-6
    assert (lpips(x, x.flip(-1)) > 0).all()
    with pytest.raises(GigaGANError, match="lacks the LPIPS lin"):
        LPIPS.from_file(tmp_path / "vgg16.pth")
    with pytest.raises(GigaGANError, match="not found"):
        LPIPS.from_file(tmp_path / "missing.pth")
