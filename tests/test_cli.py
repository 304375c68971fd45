"""The `gigagan` command line: info tables and JSON, one-line errors with exit code 2."""

from __future__ import annotations

import json

import pytest

from gigagan.cli import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out, captured.err


def test_info_json_reports_paper_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["info", "--preset", "giga", "--json"], capsys)
    assert code == 0
    payload = json.loads(out)
    assert payload["resolution"] == 64
    assert abs(payload["generator_params"] - 652.5e6) < 0.05 * 652.5e6
    assert abs(payload["discriminator_params"] - 381.4e6) < 0.05 * 381.4e6
    assert len(payload["generator_levels"]) == 5 and payload["num_predictions"] == 15


def test_info_table_lists_every_level(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["info", "--preset", "tiny"], capsys)
    assert code == 0
    for resolution in ("4x4", "8x8", "16x16", "32x32"):
        assert resolution in out
    assert "kernels" in out and "attention" in out and "generator" in out


def test_unknown_preset_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["info", "--preset", "nope"], capsys)
    assert code == 2
    assert err.strip().count("\n") == 0 and "unknown preset 'nope'" in err
    assert "Traceback" not in err + out


def test_unknown_option_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(["info", "--bogus"], capsys)
    assert code == 2


def test_presets_lists_all(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["presets"], capsys)
    assert code == 0
    for name in ("tiny", "quickstart", "cifar10", "base", "giga"):
        assert name in out
