"""`gigagan demo` with a tiny model and a few steps: trains, reuses or resumes, writes the four pictures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from gigagan.cli import main

OUTPUTS = ("prompt_grid.png", "style_mixing.png", "prompt_mixing.png", "interpolation.gif")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out, captured.err


def test_demo_trains_then_reuses_or_resumes_and_writes_its_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir, out = tmp_path / "run", tmp_path / "outputs"
    argv = ["demo", "--preset", "tiny", "--batch-size", "2", "--run-dir", str(run_dir), "--out", str(out)]
    argv += ["--device", "cpu", "--no-progress"]
    code, stdout, err = run([*argv, "--max-steps", "2", "--processes", "2"], capsys)
    assert code == 0, err
    assert "demo: trained to step 2" in stdout and "in 2 processes" in stdout
    for name in OUTPUTS:
        assert (out / name).is_file() and f"wrote {out / name}" in stdout
    legend = (out / "prompt_grid.txt").read_text()
    with Image.open(out / "prompt_grid.png") as grid:
        prompts = json.loads(grid.text["prompt"])
        assert len(prompts) == 8 and all(p in legend for p in prompts)
    with Image.open(out / "interpolation.gif") as gif:
        assert gif.is_animated

    code, stdout, err = run([*argv, "--max-steps", "2"], capsys)
    assert code == 0 and "reusing the finished run" in stdout, err
    # the first run trained in two processes; it resumes in the default one
    code, stdout, err = run([*argv, "--max-steps", "3"], capsys)
    assert code == 0 and "resuming" in stdout and "trained to step 3" in stdout, err
