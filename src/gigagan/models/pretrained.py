"""The checkpoint format: `config.json` plus safetensors weights in one directory (never pickles).

`config.json` holds one entry per network kept in the directory (`"generator"`,
`"discriminator"`, ...), so a training checkpoint and a released model share one layout. Every
write goes to a temporary name first and is renamed into place (`gigagan.io`), so an interrupted
write never leaves a damaged file under the real name.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from gigagan.config import config_from_dict, config_to_dict
from gigagan.errors import GigaGANError
from gigagan.io import CONFIG_NAME, atomic_target, first_line, read_config_file, update_config_file
from gigagan.models.clip import skip_clip_weight_loading

ModelT = TypeVar("ModelT", bound="PretrainedModel")


def save_safetensors(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None) -> None:
    """Atomically write a safetensors file (tensors are copied to contiguous CPU memory)."""
    with atomic_target(path) as temporary:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, temporary, metadata=metadata)


def load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """Read a safetensors file, turning every failure into a one-line error naming the file."""
    if not path.is_file():
        raise GigaGANError(f"weights file not found: {path}")
    try:
        tensors = {}
        with safe_open(str(path), framework="pt", device="cpu") as file:
            for key in file.keys():  # noqa: SIM118 (safe_open is not a mapping)
                tensors[key] = file.get_tensor(key)
        return tensors
    except GigaGANError:
        raise
    except Exception as error:
        raise GigaGANError(f"{path} is corrupt or truncated ({first_line(error)})") from error


def resolve_model_path(path_or_hub_id: str | os.PathLike[str]) -> Path:
    """A local directory for a path, or a Hugging Face Hub snapshot for an `owner/name` id."""
    path = Path(path_or_hub_id)
    if path.is_dir():
        return path
    text = str(path_or_hub_id)
    if path.exists():
        raise GigaGANError(f"{path} is a file; give the directory that holds {CONFIG_NAME}")
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", text) or text.startswith((".", "/")):
        raise GigaGANError(f"checkpoint directory not found: {text}")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id=text, allow_patterns=[CONFIG_NAME, "*.safetensors"]))
    except Exception as error:
        raise GigaGANError(
            f"{text} is neither a local directory nor a reachable Hugging Face Hub model ({type(error).__name__})"
        ) from error


class PretrainedModel(nn.Module):
    """Adds `save_pretrained` / `from_pretrained` to a network built from one config dataclass."""

    config_key: ClassVar[str]
    config_class: ClassVar[type]
    weights_names: ClassVar[tuple[str, ...]]  # files `from_pretrained` looks for, in order

    config: Any

    def save_pretrained(self, directory: str | os.PathLike[str], weights_name: str | None = None) -> Path:
        """Write `config.json` (this network's entry) and the weights as safetensors."""
        directory = Path(directory)
        name = weights_name or self.weights_names[-1]
        metadata = {
            "format": "gigagan",
            "config_key": self.config_key,
            "config": json.dumps(config_to_dict(self.config)),
        }
        save_safetensors(self.state_dict(), directory / name, metadata)
        update_config_file(directory, self.config_key, config_to_dict(self.config))
        return directory / name

    @classmethod
    def from_pretrained(
        cls: type[ModelT],
        path_or_hub_id: str | os.PathLike[str],
        weights_name: str | None = None,
        device: str | torch.device = "cpu",
        config_overrides: dict[str, Any] | None = None,
    ) -> ModelT:
        """Rebuild the network from a directory (or Hub id) written by `save_pretrained`."""
        directory = resolve_model_path(path_or_hub_id)
        data = read_config_file(directory)
        if cls.config_key not in data:
            raise GigaGANError(f"{directory / CONFIG_NAME} has no {cls.config_key!r} entry")
        config_data = dict(data[cls.config_key])
        config_data.update(config_overrides or {})
        config = config_from_dict(cls.config_class, config_data)
        weights_path = cls._find_weights(directory, weights_name)
        state = load_safetensors(weights_path)
        with skip_clip_weight_loading():
            model = cls(config)
        _load_state_checked(model, state, weights_path)
        return model.to(device).eval()

    @classmethod
    def _find_weights(cls, directory: Path, weights_name: str | None) -> Path:
        names = (weights_name,) if weights_name else cls.weights_names
        for name in names:
            if (directory / name).is_file():
                return directory / name
        raise GigaGANError(f"weights file not found: {directory / names[-1]}")


def _load_state_checked(model: nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing tensors (e.g. {missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected tensors (e.g. {unexpected[0]})")
    if wrong_shape:
        key = wrong_shape[0]
        shapes = f"{tuple(state[key].shape)} in the file, {tuple(expected[key].shape)} expected"
        problems.append(f"{len(wrong_shape)} with other shapes (e.g. {key}: {shapes})")
    if problems:
        raise GigaGANError(f"{path} does not match {CONFIG_NAME}: " + "; ".join(problems))
    model.load_state_dict(state, strict=True)


__all__ = ["PretrainedModel", "load_safetensors", "resolve_model_path", "save_safetensors"]
