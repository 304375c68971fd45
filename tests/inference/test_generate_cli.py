"""`gigagan generate / interpolate / style-mix / prompt-mix / demo`: outputs, provenance, one-line errors."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from gigagan.cli import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out, captured.err


def weights_hash(checkpoint: Path) -> str:
    return hashlib.sha256((checkpoint / "generator.safetensors").read_bytes()).hexdigest()[:16]


def test_generate_writes_images_grid_and_provenance(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], prompts: tuple[str, ...]
) -> None:
    prompt_file = tmp_path / "prompts.txt"
    prompt_file.write_text(f"{prompts[1]}\n\n{prompts[2]}\n")
    out = tmp_path / "out"
    argv = ["generate", "--checkpoint", str(checkpoint), "--prompt", prompts[0], "--prompt-file", str(prompt_file)]
    argv += ["--num-images", "2", "--seed", "5", "--truncation-psi", "0.7", "--out", str(out), "--no-progress"]
    code, stdout, err = run([*argv, "--device", "cpu", "--batch-size", "4"], capsys)
    assert code == 0, err
    assert "wrote 6 images" in stdout
    assert sorted(p.name for p in out.glob("0*.png")) == [f"000{i}-seed{s}.png" for i in range(3) for s in (5, 6)]
    with Image.open(out / "0002-seed6.png") as image:
        text = dict(image.text)
    assert text["prompt"] == prompts[2] and text["seed"] == "6" and text["truncation_psi"] == "0.7"
    assert text["checkpoint"] == weights_hash(checkpoint)
    with Image.open(out / "grid.png") as grid:
        assert json.loads(grid.text["prompt"]) == list(prompts) and grid.width > 2 * 32
    assert (out / "prompts.txt").read_text().splitlines()[1] == f"0001\t{prompts[1]}"


def test_interpolate_style_mix_and_prompt_mix_write_their_outputs(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], prompts: tuple[str, ...]
) -> None:
    common = ["--checkpoint", str(checkpoint), "--device", "cpu"]
    out = tmp_path / "interp"
    code, _, err = run(
        ["interpolate", *common, "--prompt", prompts[0], "--to-prompt", prompts[1], "--frames", "5", "--out", str(out)],
        capsys,
    )
    assert code == 0, err
    assert len(list((out / "frames").glob("frame-*.png"))) == 5
    assert (out / "interpolation.gif").is_file() and (out / "interpolation-grid.png").is_file()
    with Image.open(out / "frames" / "frame-0000.png") as frame:
        assert json.loads(frame.text["prompt"]) == [prompts[0], prompts[1]] and frame.text["frame"] == "0"

    out = tmp_path / "style"
    argv = ["style-mix", *common, "--prompt", prompts[0], "--row-seeds", "0-2", "--column-seeds", "7,8"]
    code, _, err = run([*argv, "--levels", "coarse", "--out", str(out)], capsys)
    assert code == 0, err
    assert len(list(out.glob("style-mix-row*-col*.png"))) == 6
    with Image.open(out / "style-mix.png") as grid:
        assert json.loads(grid.text["seed"]) == {"rows": [0, 1, 2], "columns": [7, 8]}
        assert json.loads(grid.text["mix_levels"]) == [4, 8]

    out = tmp_path / "prompt-mix"
    argv = ["prompt-mix", *common, "--prompt", prompts[0], "--fine-prompt", prompts[1], "--fine-prompt", prompts[2]]
    code, _, err = run([*argv, "--seeds", "1,2", "--levels", "fine", "--out", str(out)], capsys)
    assert code == 0, err
    assert (out / "prompt-mix.png").is_file() and "B2" in (out / "prompt-mix.txt").read_text()
    with Image.open(out / "prompt-mix-seed2-mix1.png") as image:
        assert image.text["fine_prompt"] == prompts[1] and image.text["checkpoint"] == weights_hash(checkpoint)


@pytest.mark.parametrize("command", ["generate", "interpolate", "style-mix", "prompt-mix", "demo"])
def test_help_has_examples(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = run([command, "--help"], capsys)
    assert code == 0 and "Examples" in stdout and f"gigagan {command}" in stdout.replace("make demo", "gigagan demo")


BAD_INPUTS = [
    (["generate", "--checkpoint", "{missing}", "--prompt", "x"], "checkpoint directory not found"),
    (["generate", "--checkpoint", "{corrupt}", "--prompt", "x"], "corrupt or truncated"),
    (["generate", "--checkpoint", "{checkpoint}"], "no prompts given"),
    (["generate", "--checkpoint", "{checkpoint}", "--prompt-file", "{empty}"], "no prompts given"),
    (["generate", "--checkpoint", "{checkpoint}", "--prompt", "x", "--num-images", "-1"], "--num-images must be"),
    (["generate", "--checkpoint", "{checkpoint}", "--prompt", "x", "--batch-size", "0"], "--batch-size must be"),
    (["generate", "--checkpoint", "{checkpoint}", "--prompt", "x", "--seed", "-3"], "--seed must be"),
    (["generate", "--checkpoint", "{checkpoint}", "--prompt", "x", "--device", "tpu"], "unknown device"),
    (["generate", "--checkpoint", "{checkpoint}", "--prompt", "x", "--dtype", "int8"], "unsupported dtype"),
    (["generate", "--checkpoint", "{checkpoint}", "--prompt", "x", "--out", "{unwritable}"], "cannot write"),
    (["interpolate", "--checkpoint", "{checkpoint}", "--prompt", "x", "--frames", "0"], "--frames must be"),
    (["interpolate", "--checkpoint", "{checkpoint}", "--prompt", "x", "--space", "q"], "--space must be"),
    (["style-mix", "--checkpoint", "{checkpoint}", "--prompt", "x", "--row-seeds", "a"], "expected seeds"),
    (["style-mix", "--checkpoint", "{checkpoint}", "--prompt", "x", "--levels", "64"], "unknown level"),
    (["prompt-mix", "--checkpoint", "{checkpoint}", "--prompt", "x"], "no prompts given"),
    (["prompt-mix", "--checkpoint", "{missing}", "--prompt", "x", "--fine-prompt", "y"], "not found"),
    (["demo", "--max-steps", "-1"], "--max-steps must be"),
    (["demo", "--device", "tpu"], "unknown device"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_INPUTS)
def test_bad_input_is_one_line_and_exit_2(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    corrupt = tmp_path / "corrupt"
    shutil.copytree(checkpoint, corrupt)
    (corrupt / "generator.safetensors").write_bytes(b"\x00" * 100)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    (tmp_path / "a-file").write_text("")
    paths = {
        "missing": tmp_path / "no-such-model",
        "corrupt": corrupt,
        "checkpoint": checkpoint,
        "empty": empty,
        "unwritable": tmp_path / "a-file" / "out",
    }
    argv = [item.format(**paths) for item in argv]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "out")]
    if argv[0] == "demo":
        argv += ["--run-dir", str(tmp_path / "run")]
    code, stdout, err = run(argv, capsys)
    assert code == 2, stdout + err
    lines = [line for line in err.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err + stdout
