"""`gigagan serve` as a command: its help (quick: no gradio or torch imported), bad options as one-line errors
with exit code 2, a taken port, no upsampler, and a clean stop that deletes the server's folder."""

from __future__ import annotations

import ast
import contextlib
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from studio_helpers import PROMPT

from gigagan.cli import main
from gigagan.web.process import ServerProcess, start_server

WEB = Path(__file__).resolve().parents[2] / "src" / "gigagan" / "web"


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as info:
        main(argv)
    return int(info.value.code or 0), out.getvalue(), err.getvalue()


def test_help_lists_serve_and_imports_neither_gradio_nor_torch() -> None:
    script = (
        "import contextlib, io, sys\n"
        "from gigagan.cli import main\n"
        "for argv in (['--help'], ['serve', '--help']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):\n"
        "        main(argv)\n"
        "    assert 'serve' in out.getvalue()\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('gradio', 'gradio_client', 'torch', 'fastapi')]\n"
        "print('heavy:', heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "heavy: []" in result.stdout, result.stdout + result.stderr


def test_serve_help_shows_the_safe_defaults() -> None:
    code, out, _ = run(["serve", "--help"])
    assert code == 0
    for text in ("--checkpoint", "--upsampler", "--host", "127.0.0.1", "--port", "7860", "--max-queue", "16"):
        assert text in out


@pytest.mark.parametrize(
    ("extra", "host", "warned"),
    [([], "127.0.0.1", False), (["--host", "::1"], "::1", False), (["--host", "0.0.0.0"], "0.0.0.0", True)],
)
def test_it_listens_on_127_0_0_1_unless_told(
    generator_dir: Path, monkeypatch: pytest.MonkeyPatch, extra: list[str], host: str, warned: bool
) -> None:
    from gigagan.web import app

    calls: list[tuple[str, int]] = []

    def record(studio: Any, host: str, port: int, announce: Any) -> None:  # instead of serving
        calls.append((host, port))
        studio.close()

    monkeypatch.setattr(app, "serve_forever", record)
    code, _, err = run(["serve", "--checkpoint", str(generator_dir), "--device", "cpu", *extra])
    assert code == 0 and calls == [(host, 7860)]
    assert ("warning: listening on 0.0.0.0: anyone who can reach this address" in err) == warned, err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--port", "0"], "error: --port must be between 1 and 65535, got 0"),
        (["--port", "70000"], "error: --port must be between 1 and 65535, got 70000"),
        (["--max-queue", "-1"], "error: --max-queue must be at least 0, got -1"),
        (["--host", " "], "error: --host must not be empty"),
        (["--device", "tpu"], "error: unknown device 'tpu' for --device"),
    ],
)
def test_bad_options_are_one_line_errors(generator_dir: Path, extra: list[str], message: str) -> None:
    code, _, err = run(["serve", "--checkpoint", str(generator_dir), *extra])
    assert code == 2 and err.startswith(message) and err.count("\n") == 1, err


@pytest.mark.parametrize("missing", ["--checkpoint", "--upsampler"])
def test_a_missing_checkpoint_is_one_line(generator_dir: Path, tmp_path: Path, missing: str) -> None:
    paths = {"--checkpoint": str(generator_dir), "--upsampler": str(generator_dir), missing: str(tmp_path / "none")}
    code, _, err = run(["serve", *(item for pair in paths.items() for item in pair), "--device", "cpu"])
    assert code == 2 and err == f"error: checkpoint directory not found: {tmp_path / 'none'}\n", err


def test_a_taken_port_is_one_line(server: ServerProcess, generator_dir: Path) -> None:
    port = server.url.rstrip("/").rsplit(":", 1)[1]
    argv = ["serve", "--checkpoint", str(generator_dir), "--device", "cpu", "--port", port]
    result = subprocess.run([sys.executable, "-m", "gigagan.cli", *argv], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and f"error: cannot listen on 127.0.0.1:{port}" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_without_upsampler_then_a_clean_stop(generator_dir: Path, tmp_path: Path) -> None:
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    server = start_server(generator_dir, tmp_path / "serve.log", "--device", "cpu", env={"OMP_NUM_THREADS": "1"})
    try:
        client: Any = Client(server.url, verbose=False, download_files=tmp_path / "downloads")
        images, _, _ = client.predict(PROMPT, 1, 0, False, 1.0, api_name="/generate")
        assert len(images) == 1 and any((server.root / "outputs").iterdir())
        picture = next((server.root / "outputs").rglob("*.png"))
        with pytest.raises(AppError, match="no upsampler loaded: start the server with --upsampler PATH"):
            client.predict(handle_file(str(picture)), "", 0, api_name="/upsample")
        assert client.predict(api_name="/model_card")["upsampler"] is None
    finally:
        code = server.stop()
    assert code == 0, server.log_tail()
    assert not server.root.exists()


def test_the_web_package_imports_nothing_from_training_or_the_cli() -> None:
    offenders = []
    for path in sorted(WEB.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            offenders += [f"{path.name}: {n}" for n in names if n.startswith(("gigagan.training", "gigagan.cli"))]
    assert len(list(WEB.rglob("*.py"))) >= 5 and not offenders, offenders
