"""Run `gigagan serve` in a child process and wait until it answers (for tests, benchmarks and screenshots).

The child binds 127.0.0.1 on a port the OS says is free; its output goes to a log file, whose tail is
in the error when the server does not come up.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

READY = re.compile(r"serving (http://\S+) \(files in (.+?);")


def free_port() -> int:
    """A TCP port that nothing listens on now: the one the OS picks for a socket bound to port 0."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ServerProcess:
    """A running `gigagan serve`: its URL, its private folder and its log."""

    process: subprocess.Popen[bytes]
    url: str
    root: Path
    log: Path
    argv: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def rss_mb(self) -> float:
        """Resident memory of the server process (Linux /proc), in MiB."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        return int(match[1]) / 1024 if match else float("nan")

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.is_file() else ""

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (the server closes and deletes its folder), then SIGKILL if it does not end in time."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode


def start_server(
    checkpoint: str | os.PathLike[str],
    log: Path,
    *extra: str,
    port: int | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 180.0,
) -> ServerProcess:
    """Start `python -m gigagan.cli serve --checkpoint CHECKPOINT --host 127.0.0.1 --port PORT EXTRA...` and
    return once it announces its URL; a RuntimeError with the log's tail if it exits or times out first."""
    port = port or free_port()
    argv = [sys.executable, "-m", "gigagan.cli", "serve", "--checkpoint", str(checkpoint)]
    argv += ["--host", "127.0.0.1", "--port", str(port), *extra]
    child_env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    child_env.update(env or {})
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as output:
        process = subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT, env=child_env)
    server = ServerProcess(process, "", Path(), log, argv)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = READY.search(server.log_tail(100_000))
        if match:
            server.url, server.root = match[1], Path(match[2])
            return server
        if not server.alive():
            raise RuntimeError(f"gigagan serve exited with {process.returncode}: {server.log_tail()}")
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"gigagan serve did not come up within {timeout:g} s: {server.log_tail()}")


__all__ = ["ServerProcess", "free_port", "start_server"]
