"""The training loop: it trains, checkpoints atomically, resumes exactly, and guards non-finite steps."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from gigagan import GigaGANError, get_preset
from gigagan.config import LossConfig, TrainConfig
from gigagan.models import Generator
from gigagan.training import Trainer, TrainingDiverged
from gigagan.training import checkpoint as ckpt


def tiny_run(tmp_path: Path, **overrides) -> tuple[Trainer, Path]:
    settings = dict(
        data="shapes",
        batch_size=4,
        max_steps=6,
        seed=3,
        log_every=1,
        sample_every=3,
        checkpoint_every=3,
        lr_generator=0.002,
        lr_discriminator=0.002,
    )
    config = TrainConfig(**{**settings, **overrides})
    config.loss.r1_interval = 2
    run_dir = tmp_path / "run"
    return Trainer(get_preset("tiny"), config, run_dir, progress=False), run_dir


def test_tiny_training_moves_losses_and_samples(tmp_path: Path) -> None:
    trainer, run_dir = tiny_run(tmp_path, max_steps=16, sample_every=8, checkpoint_every=8)
    trainable = {name for name, p in trainer.generator.named_parameters() if p.requires_grad}
    initial = {n: p.detach().clone() for n, p in trainer.ema.model.named_parameters() if n in trainable}
    first_samples = trainer.save_samples()
    history: list[dict[str, float]] = []
    trainer.on_step = lambda step, stats: history.append(stats)
    result = trainer.run()
    assert result.step == 16 and result.images_seen == 64 and result.skipped_steps == 0
    d_real = [h["D/real"] for h in history]
    assert max(d_real) - min(d_real) > 1e-3, "the D loss curve must move"
    assert "D/r1_penalty" in history[1] and "D/r1_penalty" not in history[0]
    current = dict(trainer.ema.model.named_parameters())
    changed = [not torch.equal(value, current[name]) for name, value in initial.items()]
    assert sum(changed) > 0.9 * len(changed), "the EMA generator must move"
    samples = sorted((run_dir / "samples").glob("step-*.png"))
    assert [p.name for p in samples] == ["step-00000000.png", "step-00000008.png", "step-00000016.png"]
    assert first_samples.read_bytes() != samples[-1].read_bytes()
    lines = (run_dir / "log.jsonl").read_text().splitlines()
    assert len(lines) >= 16 and '"G/total"' in lines[-1]
    assert any((run_dir / "tensorboard").iterdir())
    latest = run_dir / "latest"
    assert latest.is_symlink() and latest.resolve().name == "step-00000016"
    loaded = Generator.from_pretrained(latest)  # EMA weights from a training checkpoint
    assert torch.equal(loaded.synthesis.const, trainer.ema.model.synthesis.const)


def test_keep_prunes_old_checkpoints(tmp_path: Path) -> None:
    trainer, run_dir = tiny_run(tmp_path, max_steps=8, checkpoint_every=2, keep_checkpoints=2, sample_every=0)
    trainer.run()
    assert [p.name for p in ckpt.list_checkpoints(run_dir)] == ["step-00000006", "step-00000008"]


def test_a_crash_while_writing_keeps_the_previous_checkpoint(tmp_path: Path, monkeypatch) -> None:
    trainer, run_dir = tiny_run(tmp_path, max_steps=3, sample_every=0)
    trainer.run()
    good = (run_dir / "latest").resolve()
    calls = {"n": 0}
    real_save = ckpt.save_safetensors

    def crash_midway(tensors, path, metadata=None):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed while writing")
        real_save(tensors, path, metadata)

    monkeypatch.setattr(ckpt, "save_safetensors", crash_midway)
    trainer.step += 1
    with pytest.raises(KeyboardInterrupt):
        trainer.save()
    assert (run_dir / "latest").resolve() == good
    assert ckpt.latest_checkpoint(run_dir) == good
    Generator.from_pretrained(run_dir / "latest")
    assert [p.name for p in ckpt.list_checkpoints(run_dir)] == ["step-00000003"]


def test_non_finite_step_is_skipped_and_logged(tmp_path: Path) -> None:
    trainer, run_dir = tiny_run(tmp_path, max_steps=4, sample_every=0, checkpoint_every=0)
    real_loss = trainer.loss.generator_loss

    def poisoned(batch):
        loss, stats = real_loss(batch)
        return (loss * float("nan") if trainer.step == 2 else loss), stats

    trainer.loss.generator_loss = poisoned
    before: dict[int, list[torch.Tensor]] = {}
    after: dict[int, list[torch.Tensor]] = {}
    trainer.on_step = lambda step, stats: after.__setitem__(step, [p.detach().clone() for p in trainer.g_params])
    trainer.train_step()
    before[2] = [p.detach().clone() for p in trainer.g_params]
    trainer.train_step()
    assert trainer.skipped_steps == 1 and trainer.bad_in_a_row == 1
    assert all(torch.equal(a, b) for a, b in zip(before[2], trainer.g_params)), "the poisoned G update is skipped"
    trainer.train_step()
    assert trainer.bad_in_a_row == 0
    trainer.logger.close()
    assert '"event": "nonfinite"' in (run_dir / "log.jsonl").read_text()


def test_too_many_bad_steps_stop_with_the_last_good_checkpoint_intact(tmp_path: Path) -> None:
    trainer, run_dir = tiny_run(tmp_path, max_steps=20, sample_every=0, checkpoint_every=2, max_bad_steps=3)
    real_loss = trainer.loss.discriminator_loss

    def poisoned(batch, fake):
        loss, stats = real_loss(batch, fake)
        return (loss * float("inf") if trainer.step > 2 else loss), stats

    trainer.loss.discriminator_loss = poisoned
    with pytest.raises(TrainingDiverged, match="3 non-finite steps in a row"):
        trainer.run()
    assert (run_dir / "latest").resolve().name == "step-00000002"
    Generator.from_pretrained(run_dir / "latest")


def run_cli(args: list[str], **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "gigagan.cli", "train", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


COMMON = [
    "--preset",
    "tiny",
    "--data",
    "shapes",
    "--batch-size",
    "4",
    "--seed",
    "5",
    "--deterministic",
    "--checkpoint-every",
    "3",
    "--sample-every",
    "0",
    "--no-progress",
    "--device",
    "cpu",
    "--r1-interval",
    "2",
]


def test_sigkill_then_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path: Path) -> None:
    straight = run_cli([*COMMON, "--max-steps", "9", "--out", str(tmp_path / "straight")])
    killed = run_cli([*COMMON, "--max-steps", "400", "--out", str(tmp_path / "killed")])
    deadline = time.time() + 300
    while time.time() < deadline:
        latest = tmp_path / "killed" / "latest"
        if latest.exists() and latest.resolve().name >= "step-00000003":
            break
        time.sleep(0.05)
    time.sleep(0.3)  # let it get into the middle of the next steps
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    reached = int((tmp_path / "killed" / "latest").resolve().name.split("-")[1])
    assert 3 <= reached < 9, f"kill came too late (checkpoint {reached})"
    resumed = run_cli([*COMMON, "--max-steps", "9", "--out", str(tmp_path / "killed"), "--resume"])
    for process in (straight, resumed):
        output, _ = process.communicate(timeout=600)
        assert process.returncode == 0, output
    for name in ("generator", "generator_ema", "discriminator", "optimizers"):
        a = load_file(tmp_path / "straight" / "latest" / f"{name}.safetensors")
        b = load_file(tmp_path / "killed" / "latest" / f"{name}.safetensors")
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), name


@pytest.mark.parametrize(("field", "value"), [("mismatch", "hardest"), ("fake_pyramid", "upsampled")])
def test_unknown_loss_choices_are_one_line_errors(tmp_path: Path, field: str, value: str) -> None:
    config = TrainConfig(max_steps=1)
    setattr(config.loss, field, value)
    with pytest.raises(GigaGANError, match=f"loss.{field} must be one of"):
        Trainer(get_preset("tiny"), config, tmp_path, progress=False)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("log_every", 0, "log_every must be an integer >= 1"), ("lr_generator", -1.0, "lr_generator")],
)
def test_the_trainer_checks_its_config_for_library_callers(tmp_path: Path, field: str, value, message: str) -> None:
    config = dataclasses.replace(TrainConfig(max_steps=1), **{field: value})
    with pytest.raises(GigaGANError, match=message):
        Trainer(get_preset("tiny"), config, tmp_path, progress=False)
    assert not any(tmp_path.iterdir())  # refused before anything was written


def test_resume_without_checkpoint_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(GigaGANError, match="no checkpoint"):
        Trainer(get_preset("tiny"), TrainConfig(max_steps=1), tmp_path, progress=False, resume=True)


def test_a_messy_folder_trains_on_the_valid_files_and_counts_the_rest(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parents[1] / "data"))
    from data_files import BAD, write_messy_folder

    folder = write_messy_folder(tmp_path / "messy")
    config = TrainConfig(data=str(folder), batch_size=2, max_steps=3, sample_every=0, checkpoint_every=0, log_every=1)
    trainer = Trainer(get_preset("tiny"), config, tmp_path / "run", progress=False)
    result = trainer.run()
    assert result.step == 3 and result.skipped_steps == 0
    skipped = trainer.dataset.skipped
    assert sum(skipped.values()) >= len(BAD), skipped
    for reason in set(BAD.values()):
        assert skipped.get(reason, 0) >= 1, (reason, skipped)
    log = (tmp_path / "run" / "log.jsonl").read_text()
    assert '"event": "data"' in log
    assert any(name in log for name in BAD), log


def test_overlapped_phases_give_the_same_training_as_sequential_ones(tmp_path: Path) -> None:
    """G's backward on a worker thread beside D's phase changes when work is done, not what is done."""
    runs = {}
    for overlap in (False, True):
        trainer, _ = tiny_run(
            tmp_path / str(overlap),
            max_steps=5,
            sample_every=0,
            checkpoint_every=0,
            overlap_phases=overlap,
            loss=LossConfig(reuse_generator_fakes=True),
        )
        history = [trainer.train_step() for _ in range(5)]
        runs[overlap] = (history, [p.detach().clone() for p in trainer.g_params + trainer.d_params])
        trainer.logger.close()
    (sequential, seq_params), (overlapped, ovl_params) = runs[False], runs[True]
    assert [h["D/real"] for h in overlapped] == [h["D/real"] for h in sequential]
    assert [h["G/total"] for h in overlapped] == [h["G/total"] for h in sequential]
    assert all(torch.equal(a, b) for a, b in zip(seq_params, ovl_params))
    assert "D/r1_penalty" in overlapped[1], "the R1 phase still runs at its interval"


def test_overlapped_phases_skip_a_non_finite_generator_update(tmp_path: Path) -> None:
    trainer, _ = tiny_run(
        tmp_path, sample_every=0, checkpoint_every=0, overlap_phases=True, loss=LossConfig(reuse_generator_fakes=True)
    )
    real_loss = trainer.loss.generator_loss
    trainer.loss.generator_loss = lambda batch: (lambda loss, stats: (loss * float("nan"), stats))(*real_loss(batch))
    g_before = [p.detach().clone() for p in trainer.g_params]
    d_before = [p.detach().clone() for p in trainer.d_params]
    trainer.train_step()
    assert trainer.skipped_steps == 1
    assert all(torch.equal(a, b) for a, b in zip(g_before, trainer.g_params)), "G's poisoned update is skipped"
    assert not all(torch.equal(a, b) for a, b in zip(d_before, trainer.d_params)), "D's update still applies"
    trainer.logger.close()


def test_overlapped_phases_need_the_generator_phase_fakes(tmp_path: Path) -> None:
    config = TrainConfig(max_steps=1, overlap_phases=True)
    with pytest.raises(GigaGANError, match=r"overlap_phases needs training\.loss\.reuse_generator_fakes"):
        Trainer(get_preset("tiny"), config, tmp_path, progress=False)
