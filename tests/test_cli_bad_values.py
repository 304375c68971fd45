"""Bad values given to the `gigagan` command line: each is refused with exit code 2 and exactly one line on
stderr, "error: ..." (no traceback, no silent run), before anything is written. Also: the options' help
shows defaults and choices, every flag an error names exists, and building the app imports no torch."""

from __future__ import annotations

import ast
import contextlib
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from gigagan.cli import app, main

SRC = Path(__file__).resolve().parents[1] / "src" / "gigagan"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out, captured.err


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A one-step tiny run, trained without --data (stderr returned: the built-in data notice)."""
    out = tmp_path_factory.mktemp("trained") / "run"
    argv = ["train", "--preset", "tiny", "--out", str(out), "--max-steps", "1", "--batch-size", "2"]
    stderr = io.StringIO()
    with (
        contextlib.redirect_stderr(stderr),
        contextlib.redirect_stdout(io.StringIO()),
        pytest.raises(SystemExit) as info,
    ):
        main([*argv, "--sample-every", "0", "--no-progress"])
    assert info.value.code in (0, None), stderr.getvalue()
    return out, stderr.getvalue()


def corrupt_config_json(run: Path) -> Path:
    path = run / "latest" / "config.json"
    path.write_text('{"generator": {"resolution": 32, ')  # cut short
    return path


def truncate_optimizers(run: Path) -> Path:
    path = run / "latest" / "optimizers.safetensors"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def garble_optimizers(run: Path) -> Path:
    path = run / "latest" / "optimizers.safetensors"
    data = bytearray(path.read_bytes())
    data[8:40] = b"\xff" * 32  # inside the JSON header
    path.write_bytes(bytes(data))
    return path


def bad_saved_training(run: Path) -> Path:
    path = run / "latest" / "config.json"
    saved = json.loads(path.read_text())
    saved["training"]["log_every"] = 0
    path.write_text(json.dumps(saved))
    return path


TRAIN = ["train", "--preset", "tiny", "--data", "shapes", "--out", "{run}", "--max-steps", "1", "--no-progress"]
GENERATE = ["generate", "--checkpoint", "{run}", "--prompt", "a red circle", "--out", "{tmp}/images"]
RESUME = ["train", "--out", "{run}", "--resume", "--max-steps", "2", "--no-progress"]

# (id, argv, config file contents or None, what to do to the trained run (copied) or None, the error line's start)
CASES = [
    ("log-every-0", [*TRAIN, "--log-every", "0"], None, None, "error: --log-every must be an integer >= 1, got 0"),
    ("psi-nan", [*GENERATE, "--truncation-psi", "nan"], None, None, "error: --truncation-psi must be a finite number"),
    ("psi-inf", [*GENERATE, "--truncation-psi", "inf"], None, None, "error: --truncation-psi must be a finite number"),
    ("psi-minus-inf", [*GENERATE, "--truncation-psi=-inf"], None, None, "error: --truncation-psi must be a finite"),
    ("negative-lr", [*TRAIN, "--lr-g", "-0.001"], None, None, "error: --lr-g must be a finite number > 0, got -0.001"),
    ("nan-lr", [*TRAIN, "--lr-d", "nan"], None, None, "error: --lr-d must be a finite number > 0, got nan"),
    ("int-as-text", [*TRAIN, "--batch-size", "eight"], None, None, "error: --batch-size must be an integer >= 1"),
    (
        "config-type-text",
        [*TRAIN, "--config", "{config}"],
        {"preset": "tiny", "training": {"batch_size": "eight"}},
        None,
        "error: {config}: training.batch_size must be an integer >= 1, got 'eight'",
    ),
    (
        "config-type-list",
        [*TRAIN, "--config", "{config}"],
        {"training": {"lr_generator": [0.002]}},
        None,
        "error: {config}: training.lr_generator must be a finite number > 0, got [0.002]",
    ),
    (
        "config-negative-lr",
        [*TRAIN, "--config", "{config}"],
        {"training": {"loss": {"r1_gamma": -1}}},
        None,
        "error: {config}: training.loss.r1_gamma must be a finite number >= 0, got -1.0",
    ),
    (
        "config-model-type",
        [*TRAIN, "--config", "{config}"],
        {"model": {"generator": {"z_dim": "64"}}},
        None,
        "error: {config}: model.generator.z_dim must be an integer >= 1, got '64'",
    ),
    ("corrupt-config-json-rerun", TRAIN, None, corrupt_config_json, "error: {damaged} is not valid JSON"),
    ("corrupt-config-json-resume", RESUME, None, corrupt_config_json, "error: {damaged} is not valid JSON"),
    ("bad-saved-value-resume", RESUME, None, bad_saved_training, "error: {damaged}: training.log_every must be"),
    ("truncated-optimizers", RESUME, None, truncate_optimizers, "error: {damaged} is corrupt or truncated"),
    ("garbled-optimizers", RESUME, None, garble_optimizers, "error: {damaged} is corrupt or truncated"),
    ("unknown-preset", [*TRAIN, "--preset", "huge"], None, None, "error: unknown preset 'huge'; choose one of:"),
    ("unknown-device", [*TRAIN, "--device", "tpu"], None, None, "error: unknown device 'tpu' for --device"),
    ("unknown-dtype", [*GENERATE, "--dtype", "int8"], None, None, "error: unsupported dtype 'int8' for --dtype"),
    ("info-unknown-preset", ["info", "--preset", "huge"], None, None, "error: unknown preset 'huge'"),
    ("unknown-option", [*TRAIN, "--lr", "0.1"], None, None, "error: No such option: --lr"),
    (
        "input-noise-order",
        ["train-upsampler", "--out", "{run}", "--input-noise", "0.1,0.01"],
        None,
        None,
        "error: --input-noise must be a list of 2 finite numbers, each >= 0, the first at most the second",
    ),
]


@pytest.mark.parametrize(("argv", "config", "damage", "start"), [case[1:] for case in CASES], ids=[c[0] for c in CASES])
def test_bad_value_is_one_error_line_and_exit_2(
    trained: tuple[Path, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    config: dict | None,
    damage: object,
    start: str,
) -> None:
    run_dir = tmp_path / "run"
    paths = {"run": run_dir, "tmp": tmp_path, "config": tmp_path / "run.json", "damaged": ""}
    if config is not None:
        paths["config"].write_text(json.dumps(config))
    damaged_bytes = None
    if damage is not None:
        shutil.copytree(trained[0], run_dir, symlinks=True)
        damaged = damage(run_dir).resolve()  # type: ignore[operator]
        paths["damaged"] = damaged
        damaged_bytes = damaged.read_bytes()
        before = sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*"))
    if argv[0] == "generate":
        paths["run"] = trained[0]
    code, out, err = run([item.format(**paths) for item in argv], capsys)
    assert code == 2, out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(start.format(**paths)), err
    assert "Traceback" not in out + err
    if damage is not None:
        assert paths["damaged"].read_bytes() == damaged_bytes  # refused, not overwritten
        assert sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*")) == before  # nothing written
    elif argv[0].startswith("train"):
        assert not run_dir.exists()  # refused before the run folder is made


def test_training_without_data_says_it_uses_the_builtin_shapes(trained: tuple[Path, str]) -> None:
    notices = [line for line in trained[1].splitlines() if "--data" in line]
    assert notices == ["notice: no --data given: training on the built-in shapes data (procedural captioned shapes)"]


def commands() -> dict[str, typer.core.TyperCommand]:
    return dict(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def test_train_help_shows_every_default_and_the_choices(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    for name in ("train", "train-upsampler"):
        for param in commands()[name].params:
            if param.name in ("out", "config_file", "resume", "help"):
                continue
            shown = isinstance(param.show_default, str) or param.default is not None
            assert shown and param.help, f"{name} {param.opts}: no default or help shown"
    code, out, _ = run(["train", "--help"], capsys)
    assert code == 0
    text = " ".join(out.replace("│", " ").split())
    assert "8 with preset quickstart, 32 with preset cifar10-small, 16 with the others" in text  # --batch-size
    assert "tiny|quickstart|cifar10-small|cifar10|base|giga" in text
    for flag in ("--grad-checkpointing", "--deterministic"):
        param = next(p for p in commands()["train"].params if flag in p.opts)
        assert param.help
    code, out, _ = run(["generate", "--help"], capsys)
    assert code == 0 and "float32|bfloat16" in out
    code, out, _ = run(["interpolate", "--help"], capsys)
    assert code == 0 and "<z|w>" in out


def test_info_defaults_to_the_train_preset() -> None:
    info = next(p for p in commands()["info"].params if p.name == "preset")
    train = next(p for p in commands()["train"].params if p.name == "preset")
    assert info.default == train.show_default == "quickstart"


def test_lists_named_for_help_match_the_library() -> None:
    from gigagan.cli.options import LEVEL_GROUPS, METRIC_NAMES
    from gigagan.cli.upsample import UPSAMPLER_DEFAULTS
    from gigagan.config import TEXT_CLIP_FEATURES
    from gigagan.inference import latent
    from gigagan.metrics import METRICS
    from gigagan.models.text import CLIP_FEATURES
    from gigagan.training.upsampler import UpsamplerTrainConfig

    assert tuple(METRICS) == METRIC_NAMES
    assert LEVEL_GROUPS == latent.LEVEL_GROUPS
    assert TEXT_CLIP_FEATURES == CLIP_FEATURES
    defaults = UpsamplerTrainConfig()
    assert {name: getattr(defaults, name) for name in UPSAMPLER_DEFAULTS} == UPSAMPLER_DEFAULTS


# helpers whose string arguments name flags in error messages
ERROR_CALLS = {"GigaGANError", "TrainingDiverged", "check_count", "parse_seeds", "finite_float", "field_parser"}
ERROR_CALLS |= {"parse_device", "check_value", "choice_parser"}
NOT_OURS = {"--help", "--no-deps"}  # `gigagan CMD --help`; pip's flag in an install hint


def test_every_flag_named_in_an_error_exists() -> None:
    flags = {opt for command in commands().values() for p in command.params for opt in p.opts + p.secondary_opts}
    named: dict[str, str] = {}
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name not in ERROR_CALLS:
                continue
            for constant in ast.walk(node):
                if isinstance(constant, ast.Constant) and isinstance(constant.value, str):
                    for flag in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", constant.value):
                        named.setdefault(flag, f"{path.relative_to(SRC)}:{node.lineno}")
    missing = {flag: where for flag, where in named.items() if flag not in flags | NOT_OURS}
    assert not missing, missing
    assert "--resolution" not in named


HEAVY = ("torch", "torchvision", "open_clip", "webdataset", "safetensors", "gigagan.models", "gigagan.metrics")
HEAVY += ("gigagan.training", "gigagan.data", "gigagan.inference", "gigagan.nn")


def test_building_the_app_and_its_help_imports_no_torch() -> None:
    script = (
        "import contextlib, io, sys\n"
        "from gigagan.cli import main\n"
        "for argv in (['--help'], ['train', '--help'], ['eval', '--help'], ['generate', '--help'],"
        " ['train-upsampler', '--help'], ['upsample', '--help'], ['info', '--help'], ['demo', '--help']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "        main(argv)\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    loaded = result.stdout.split()
    heavy = [name for name in loaded if name in HEAVY or name.startswith(tuple(f"{h}." for h in HEAVY))]
    assert "gigagan.cli" in loaded and not heavy, heavy
