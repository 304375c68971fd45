"""The per-step parameter updates: the EMA of G and the AdamW optimisers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gigagan.training.ema import GeneratorEMA
from gigagan.training.phases import adamw_optimizer


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))


def test_ema_moves_each_weight_toward_the_model_by_one_minus_beta() -> None:
    model = _model()
    ema = GeneratorEMA(model, half_life_images=100, rampup=None)
    before = [p.detach().clone() for p in ema.model.parameters()]
    with torch.no_grad():
        for param in model.parameters():
            param.add_(1.0)
    model[1].running_mean.fill_(3.0)
    beta = ema.beta(images_seen=1000, batch_size=10)
    assert beta == pytest.approx(0.5 ** (10 / 100))
    ema.update(model, images_seen=1000, batch_size=10)
    for old, new, target in zip(before, ema.model.parameters(), model.parameters(), strict=True):
        torch.testing.assert_close(new, old + (1 - beta) * (target.detach() - old))
    torch.testing.assert_close(ema.model[1].running_mean, torch.full((8,), 3.0))  # buffers are copied


def test_ema_refuses_a_model_of_another_shape() -> None:
    ema = GeneratorEMA(_model(), half_life_images=100)
    with pytest.raises(ValueError, match="parameters"):
        ema.update(nn.Linear(4, 2), images_seen=10, batch_size=1)


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))


def test_adamw_is_fused_on_cpu_and_matches_the_loop() -> None:
    fused_model, loop_model = _mlp(), _mlp()
    fused = adamw_optimizer(fused_model, lr=0.01, betas=(0.0, 0.99), attention_decay=0.01)
    assert fused.defaults["fused"] is True
    loop = torch.optim.AdamW(loop_model.parameters(), lr=0.01, betas=(0.0, 0.99), eps=1e-8, weight_decay=0.0)
    for step in range(3):
        for model, optimizer in ((fused_model, fused), (loop_model, loop)):
            optimizer.zero_grad()
            torch.manual_seed(step)
            model(torch.randn(5, 4)).square().mean().backward()
            optimizer.step()
    for a, b in zip(fused_model.parameters(), loop_model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_training_with_overlapped_phases_gives_back_the_thread_count(tmp_path) -> None:
    from gigagan import get_preset
    from gigagan.config import preset_training
    from gigagan.training import Trainer

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        overrides = {"max_steps": 1, "batch_size": 2, "overlap_phases": True, "loss": {"reuse_generator_fakes": True}}
        config = preset_training("tiny", overrides)
        trainer = Trainer(get_preset("tiny"), config, tmp_path / "run", progress=False)
        trainer.run()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
