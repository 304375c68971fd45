"""Training checkpoints: everything needed for an exact resume, written so that a kill at any
moment never damages the previous checkpoint.

Layout of a run directory:
    DIR/checkpoints/step-00001000/   config.json, generator.safetensors, generator_ema.safetensors,
                                     discriminator.safetensors, optimizers.safetensors,
                                     training_state.json
    DIR/latest -> checkpoints/step-00001000   (a symbolic link, replaced atomically)

A checkpoint is first written to a hidden temporary folder and renamed into place; `latest` is
switched only after that, so it always names a complete checkpoint, which `Generator.from_pretrained`
loads directly (EMA weights preferred).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gigagan.errors import GigaGANError
from gigagan.io import (
    CHECKPOINTS,
    LATEST,
    STATE_NAME,
    atomic_write_bytes,
    latest_checkpoint,
    list_checkpoints,
    read_config_file,
    update_config_file,
)
from gigagan.models.pretrained import load_safetensors, save_safetensors

OPTIMIZERS_NAME = "optimizers.safetensors"


def checkpoint_name(step: int) -> str:
    return f"step-{step:08d}"


def optimizer_tensors(optimizers: dict[str, torch.optim.Optimizer]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split optimizer state dicts into tensors (for safetensors) and JSON-able structure."""
    tensors: dict[str, torch.Tensor] = {}
    structure: dict[str, Any] = {}
    for name, optimizer in optimizers.items():
        state = optimizer.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for index, values in state["state"].items():
            for key, value in values.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"{name}.{index}.{key}"] = value
                else:
                    scalars.setdefault(str(index), {})[key] = value
        structure[name] = {"param_groups": state["param_groups"], "scalars": scalars}
    return tensors, structure


def restore_optimizers(
    optimizers: dict[str, torch.optim.Optimizer], tensors: dict[str, torch.Tensor], structure: dict[str, Any]
) -> None:
    for name, optimizer in optimizers.items():
        state: dict[int, dict[str, Any]] = {}
        for key, value in tensors.items():
            owner, index, field = key.split(".", 2)
            if owner == name:
                state.setdefault(int(index), {})[field] = value
        for index, scalars in structure[name]["scalars"].items():
            state.setdefault(int(index), {}).update(scalars)
        optimizer.load_state_dict({"state": state, "param_groups": structure[name]["param_groups"]})


def rng_state() -> dict[str, torch.Tensor]:
    tensors = {"rng.cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        for index, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{index}"] = state
    return tensors


def restore_rng_state(tensors: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(tensors["rng.cpu"])
    cuda = sorted((k for k in tensors if k.startswith("rng.cuda.")), key=lambda k: int(k.rsplit(".", 1)[1]))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda])


def save_checkpoint(
    run_dir: Path,
    step: int,
    networks: dict[str, nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    state: dict[str, Any],
    configs: dict[str, dict[str, Any]],
) -> Path:
    """Write a complete checkpoint for `step` and point `run_dir/latest` at it.

    networks: file stem -> module ("generator", "generator_ema", "discriminator");
    configs: config.json entries ("generator", "discriminator", "training").
    """
    checkpoints = run_dir / CHECKPOINTS
    final = checkpoints / checkpoint_name(step)
    temporary = checkpoints / f".{checkpoint_name(step)}.tmp"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    for stem, module in networks.items():
        save_safetensors(module.state_dict(), temporary / f"{stem}.safetensors")
    tensors, structure = optimizer_tensors(optimizers)
    save_safetensors({**tensors, **rng_state()}, temporary / OPTIMIZERS_NAME)
    for key, value in configs.items():
        update_config_file(temporary, key, value)
    payload = {"step": step, "optimizers": structure, **state}
    atomic_write_bytes(temporary / STATE_NAME, (json.dumps(payload, indent=2) + "\n").encode())
    _fsync_directory(temporary)
    if final.exists():
        shutil.rmtree(final)
    os.replace(temporary, final)
    _fsync_directory(checkpoints)
    point_latest(run_dir, final)
    return final


def point_latest(run_dir: Path, target: Path) -> None:
    """Atomically make `run_dir/latest` a relative symbolic link to `target`."""
    link = run_dir / LATEST
    temporary = run_dir / f".{LATEST}.tmp"
    temporary.unlink(missing_ok=True)
    os.symlink(os.path.relpath(target, run_dir), temporary)
    os.replace(temporary, link)
    _fsync_directory(run_dir)


def _fsync_directory(path: Path) -> None:
    try:
        handle = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def prune_checkpoints(run_dir: Path, keep: int, protect: set[Path] | None = None) -> list[Path]:
    """Delete all but the newest `keep` checkpoints (and leftover temporary folders)."""
    removed = []
    folder = run_dir / CHECKPOINTS
    if folder.is_dir():
        for leftover in folder.glob(".step-*.tmp"):
            shutil.rmtree(leftover, ignore_errors=True)
    if keep <= 0:
        return removed
    protected = {p.resolve() for p in (protect or set())}
    for path in list_checkpoints(run_dir)[:-keep]:
        if path.resolve() not in protected:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def load_checkpoint(
    path: Path, networks: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer]
) -> dict[str, Any]:
    """Restore networks, optimizers and RNG state from a checkpoint; returns its training state."""
    state_path = path / STATE_NAME
    if not state_path.is_file():
        raise GigaGANError(f"{path} is not a complete training checkpoint ({STATE_NAME} missing)")
    try:
        state = json.loads(state_path.read_text())
    except json.JSONDecodeError as error:
        raise GigaGANError(f"{state_path} is corrupt ({error.msg})") from error
    for stem, module in networks.items():
        weights_path = path / f"{stem}.safetensors"
        tensors = load_safetensors(weights_path)
        try:
            module.load_state_dict(tensors, strict=True)
        except RuntimeError as error:
            raise GigaGANError(f"{weights_path} does not match the model being trained") from error
    optimizers_path = path / OPTIMIZERS_NAME
    tensors = load_safetensors(optimizers_path)
    try:
        structure = state["optimizers"]
        restore_optimizers(optimizers, {k: v for k, v in tensors.items() if not k.startswith("rng.")}, structure)
        restore_rng_state({k: v for k, v in tensors.items() if k.startswith("rng.")})
    except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as error:
        reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
        raise GigaGANError(
            f"{optimizers_path} (with {STATE_NAME}) does not match the optimizers being trained ({reason})"
        ) from error
    return state


def verify_checkpoint(path: Path) -> dict[str, Any]:
    """Check a checkpoint's files before anything is built from them: training_state.json and config.json
    are JSON objects and every safetensors file has a whole, readable header (a truncated or garbled file
    is refused). Returns the training state; a one-line GigaGANError naming the file otherwise."""
    from safetensors import safe_open

    state_path = path / STATE_NAME
    try:
        state = json.loads(state_path.read_text())
    except FileNotFoundError as error:
        raise GigaGANError(f"{path} is not a complete training checkpoint ({STATE_NAME} missing)") from error
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise GigaGANError(f"{state_path} is corrupt ({error})") from error
    if not isinstance(state, dict) or not isinstance(state.get("step"), int) or "optimizers" not in state:
        raise GigaGANError(f"{state_path} is corrupt (no step or optimizer state)")
    read_config_file(path)
    files = sorted(path.glob("*.safetensors"))
    if OPTIMIZERS_NAME not in {file.name for file in files}:
        raise GigaGANError(f"{path} is not a complete training checkpoint ({OPTIMIZERS_NAME} missing)")
    for file in files:
        try:
            with safe_open(str(file), framework="pt", device="cpu") as handle:
                handle.keys()
        except Exception as error:
            reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
            raise GigaGANError(f"{file} is corrupt or truncated ({reason})") from error
    return state


__all__ = [  # `list_checkpoints` and `latest_checkpoint` live in gigagan.io (inference finds runs too)
    "CHECKPOINTS",
    "LATEST",
    "OPTIMIZERS_NAME",
    "STATE_NAME",
    "checkpoint_name",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "point_latest",
    "prune_checkpoints",
    "save_checkpoint",
    "verify_checkpoint",
]
