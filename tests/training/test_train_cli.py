"""`gigagan train` from the command line: a config file, overrides, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gigagan.cli import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out, captured.err


def test_train_from_a_config_file_with_overrides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"preset": "tiny", "training": {"batch_size": 2, "max_steps": 50, "seed": 1}}))
    out = tmp_path / "run"
    code, stdout, _ = run(
        [
            "train",
            "--config",
            str(config),
            "--out",
            str(out),
            "--max-steps",
            "2",
            "--no-progress",
            "--sample-every",
            "0",
            "--r1-gamma",
            "0.5",
        ],
        capsys,
    )
    assert code == 0, stdout
    assert "trained 2 steps" in stdout
    saved = json.loads((out / "latest" / "config.json").read_text())
    assert saved["training"]["max_steps"] == 2 and saved["training"]["batch_size"] == 2
    assert saved["training"]["loss"]["r1_gamma"] == 0.5
    assert saved["generator"]["resolution"] == 32  # the tiny preset
    code, stdout, _ = run(["train", "--out", str(out), "--resume", "--max-steps", "3", "--no-progress"], capsys)
    assert code == 0 and "trained 3 steps" in stdout


MISSING_DATA = (  # the whole line
    "error: data not found: '/no/such/folder' is not 'shapes', an existing folder, "
    "a .jsonl/.csv manifest or .tar shards"
)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--data", "/no/such/folder"], MISSING_DATA),
        (["--resume"], "no checkpoint"),
        (["--preset", "nope"], "unknown preset"),
        (["--batch-size", "0"], "--batch-size must be an integer >= 1, got 0"),
        (["--device", "tpu"], "device"),
        (["--processes", "0"], "--processes"),
        (["--processes", "3", "--batch-size", "8"], "not divisible by --processes 3"),
        (["--processes", "2", "--data", "/no/such/folder"], MISSING_DATA),  # raised in a rank, reported here
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """Exit code 2 and one `error:` line: the whole line where `message` is one, else containing `message`."""
    code, _, err = run(["train", "--out", str(tmp_path / "run"), "--preset", "tiny", *argv, "--no-progress"], capsys)
    assert code == 2
    lines = [line for line in err.strip().splitlines() if line.startswith("error:")]
    if message.startswith("error: "):
        assert lines == [message], err
    else:
        assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err


def test_a_broken_config_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.json"
    config.write_text("{not json")
    code, _, err = run(["train", "--config", str(config), "--out", str(tmp_path / "run")], capsys)
    assert code == 2 and "not valid JSON" in err


def test_metrics_during_training_are_logged(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    argv = ["train", "--preset", "tiny", "--out", str(out), "--max-steps", "2", "--batch-size", "2"]
    argv += ["--metrics", "alignment", "--metrics-every", "2", "--metrics-num-images", "4", "--no-progress"]
    code, stdout, _ = run(argv, capsys)
    assert code == 0, stdout
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    scored = [row for row in rows if "metrics/alignment/all" in row]
    assert [row["step"] for row in scored] == [2]
    assert 0.0 <= scored[0]["metrics/alignment/shape"] <= 1.0


def test_metrics_without_an_interval_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["train", "--preset", "tiny", "--out", str(tmp_path / "run"), "--metrics", "fid", "--no-progress"]
    code, _, err = run(argv, capsys)
    assert code == 2 and "--metrics-every" in err


def test_eval_is_a_command_of_the_main_app(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = run(["eval", "--help"], capsys)
    assert code == 0 and "--checkpoint" in stdout and "--real" in stdout


def test_local_processes_train_one_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--processes 2: two CPU ranks over gloo train one run (the global batch split between them)."""
    out = tmp_path / "run"
    argv = ["train", "--preset", "tiny", "--out", str(out), "--max-steps", "2", "--batch-size", "4"]
    code, _, err = run([*argv, "--processes", "2", "--no-progress", "--sample-every", "0"], capsys)
    assert code == 0, err
    state = json.loads((out / "latest" / "training_state.json").read_text())
    assert state["step"] == 2 and state["images_seen"] == 8
    assert not (out / "rank1").exists()


@pytest.mark.parametrize("preset", ["quickstart", "cifar10-small"])
def test_class_folders_of_small_grayscale_images_train_with_the_cpu_presets(
    preset: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder of class sub-folders of 28x28 grayscale pictures (MNIST-like) trains as it is: the
    pictures become RGB at the preset's 32 px, the captions are "a photo of a {label}"."""
    from PIL import Image

    data = tmp_path / "digits"
    for value, label in ((40, "zero"), (200, "seven")):
        (data / label).mkdir(parents=True)
        for index in range(3):
            Image.new("L", (28, 28), color=value + index).save(data / label / f"{index}.png")
    out = tmp_path / "run"
    argv = ["train", "--preset", preset, "--data", str(data), "--out", str(out)]
    code, stdout, _ = run([*argv, "--max-steps", "2", "--batch-size", "4", "--no-progress"], capsys)
    assert code == 0, stdout
    assert "trained 2 steps (8 images; 0 non-finite steps skipped; 0 unreadable data items skipped)" in stdout
    saved = json.loads((out / "latest" / "config.json").read_text())
    assert saved["training"]["data"] == str(data) and saved["generator"]["resolution"] == 32
    code, stdout, _ = run(
        [
            "generate",
            "--checkpoint",
            str(out),
            "--out",
            str(tmp_path / "pictures"),
            "--prompt",
            "a photo of a seven",
            "--num-images",
            "2",
            "--no-progress",
        ],
        capsys,
    )
    assert code == 0, stdout
    with Image.open(tmp_path / "pictures" / "grid.png") as grid:
        assert grid.mode == "RGB"


def test_the_summary_counts_in_the_singular_and_plural() -> None:
    from gigagan.training.runs import counted

    assert [counted(n, "step") for n in (0, 1, 2)] == ["0 steps", "1 step", "2 steps"]


def test_the_sample_grid_of_class_folders_shows_several_classes(tmp_path: Path) -> None:
    from PIL import Image

    from gigagan import get_preset
    from gigagan.config import preset_training
    from gigagan.training import Trainer

    data = tmp_path / "photos"
    for label in ("apple", "boat", "cloud", "dog"):
        (data / label).mkdir(parents=True)
        for index in range(4):
            Image.new("RGB", (32, 32), color=(index * 60, 0, 0)).save(data / label / f"{index}.png")
    config = preset_training("tiny", {"data": str(data), "max_steps": 1})
    trainer = Trainer(get_preset("tiny"), config, tmp_path / "run", progress=False)
    prompts = trainer.sample_prompts()
    assert {prompt.rsplit(" ", 1)[-1] for prompt in prompts} == {"apple", "boat", "cloud", "dog"}
