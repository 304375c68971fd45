"""Files every layer writes or looks up: atomic writes, a checkpoint's config.json, output folders, and
a training run's checkpoints (`RUN/checkpoints/step-*`, `RUN/latest`).

Every write goes to a temporary name in the same folder first and is renamed into place, so an
interrupted write never leaves a damaged file under the real name. Imports no torch: the command line
uses it before any model is loaded.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gigagan.errors import GigaGANError

CONFIG_NAME = "config.json"
FORMAT_VERSION = 1
CHECKPOINTS = "checkpoints"  # RUN/checkpoints/step-00001000/
LATEST = "latest"  # RUN/latest -> checkpoints/step-00001000
STATE_NAME = "training_state.json"  # in every complete training checkpoint


def first_line(error: BaseException) -> str:
    """The first line of an error's message (its type's name if it has none)."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


@contextlib.contextmanager
def atomic_target(path: Path) -> Iterator[str]:
    """Yield a temporary path beside `path`; once the body has written it, fsync and rename it into
    place (atomic), or remove it if the body fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        yield temporary
        with open(temporary, "rb") as file:
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and an atomic rename."""
    with atomic_target(path) as temporary:
        Path(temporary).write_bytes(data)


def ensure_writable_folder(folder: Path) -> Path:
    """Create `folder` if needed and check that files can be written there (one-line error if not)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise GigaGANError(f"cannot write to output folder {folder}: {reason}") from error
    return folder


def read_config_file(directory: Path) -> dict[str, Any]:
    """`directory/config.json` as a dict; a one-line error when it is missing or not a JSON object."""
    path = directory / CONFIG_NAME
    if not path.is_file():
        raise GigaGANError(f"{CONFIG_NAME} not found in {directory}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise GigaGANError(f"{path} is not valid JSON ({first_line(error)})") from error
    if not isinstance(data, dict):
        raise GigaGANError(f"{path} must hold a JSON object")
    return data


def update_config_file(directory: Path, key: str, value: dict[str, Any]) -> None:
    """Set one entry of `directory/config.json`, keeping the others (atomic)."""
    path = directory / CONFIG_NAME
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            data = {}
    from gigagan import __version__

    data.update({"format_version": FORMAT_VERSION, "gigagan_version": __version__, key: value})
    atomic_write_bytes(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def list_checkpoints(run_dir: Path) -> list[Path]:
    """A training run's complete checkpoints, oldest first."""
    folder = run_dir / CHECKPOINTS
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_dir() and p.name.startswith("step-") and (p / STATE_NAME).is_file()]
    return sorted(found, key=lambda p: p.name)


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint `run_dir/latest` names, else the newest complete one, else None."""
    link = run_dir / LATEST
    if link.exists() and (link / STATE_NAME).is_file():
        return link.resolve()
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def checkpoint_directory(path: Path) -> Path:
    """A checkpoint folder: the path itself when it holds config.json, else its `latest` (a run folder)."""
    if (path / CONFIG_NAME).is_file():
        return path
    if (path / LATEST / CONFIG_NAME).is_file():
        return path / LATEST
    if not path.exists():
        raise GigaGANError(f"checkpoint not found: {path}")
    raise GigaGANError(f"{path} holds neither {CONFIG_NAME} nor a 'latest' checkpoint")
