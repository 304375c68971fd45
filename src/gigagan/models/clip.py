"""CLIP towers through open_clip: architecture lookup, tower construction, weight loading,
tokenizer and image preprocessing.

We build only the tower a network needs (the text transformer for the generator, the image
transformer for the vision-aided discriminator) from open_clip's own architecture configs, and load
their weights from a full CLIP checkpoint: a local file (`.pt`, `.bin` or `.safetensors`) or an
open_clip pretrained tag, which open_clip downloads where there is internet. With
`pretrained=None` the tower is randomly initialised and says so; nothing pretends to be pretrained.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import functools
import logging
import os
import warnings
from collections.abc import Iterator
from typing import Any

import open_clip
import torch
import torch.nn.functional as F
from open_clip.factory import load_state_dict
from open_clip.model import _build_text_tower, _build_vision_tower
from torch import Tensor, nn

from gigagan.config import CLIPConfig
from gigagan.errors import GigaGANError

log = logging.getLogger(__name__)

# OpenAI CLIP's image normalisation (also used by every open_clip ViT we default to).
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

_WEIGHTS_COME_FROM_CHECKPOINT = contextvars.ContextVar("weights_come_from_checkpoint", default=False)


@contextlib.contextmanager
def skip_clip_weight_loading() -> Iterator[None]:
    """Build towers without reading `pretrained` weights (a gigagan checkpoint supplies them)."""
    token = _WEIGHTS_COME_FROM_CHECKPOINT.set(True)
    try:
        yield
    finally:
        _WEIGHTS_COME_FROM_CHECKPOINT.reset(token)


def _should_load(config: CLIPConfig) -> bool:
    return bool(config.pretrained) and not _WEIGHTS_COME_FROM_CHECKPOINT.get()


def clip_architecture(config: CLIPConfig) -> dict[str, Any]:
    """open_clip's architecture dict for `config.model_name`, with the config's overrides applied."""
    architecture = open_clip.get_model_config(config.model_name)
    if architecture is None:
        known = ", ".join(sorted(open_clip.list_models())[:8])
        raise GigaGANError(f"unknown open_clip architecture {config.model_name!r} (known: {known}, ...)")
    architecture = copy.deepcopy(architecture)
    architecture["text_cfg"].update(config.text_overrides)
    architecture["vision_cfg"].update(config.vision_overrides)
    if config.embed_dim is not None:
        architecture["embed_dim"] = config.embed_dim
    if architecture["text_cfg"].get("hf_model_name"):
        raise GigaGANError(f"{config.model_name} uses a Hugging Face text model; choose a CLIP-BPE architecture")
    return architecture


def _quick_gelu(config: CLIPConfig, architecture: dict[str, Any]) -> bool:
    # OpenAI's released weights were trained with QuickGELU; open_clip marks this per architecture
    # ("-quickgelu" names) or by the "openai" tag.
    return bool(architecture.get("quick_gelu", False)) or config.pretrained == "openai"


def build_text_tower(config: CLIPConfig) -> nn.Module:
    """open_clip TextTransformer, with pretrained weights when `config.pretrained` is set."""
    architecture = clip_architecture(config)
    tower = _build_text_tower(architecture["embed_dim"], architecture["text_cfg"], _quick_gelu(config, architecture))
    if _should_load(config):
        _load_tower_weights(tower, config, prefix="")
    return tower


def build_vision_tower(config: CLIPConfig) -> nn.Module:
    """open_clip VisionTransformer, with pretrained weights when `config.pretrained` is set."""
    architecture = clip_architecture(config)
    if isinstance(architecture["vision_cfg"].get("layers"), (list, tuple)) or architecture["vision_cfg"].get(
        "timm_model_name"
    ):
        raise GigaGANError(f"{config.model_name}: only ViT image towers are supported for the vision-aided D")
    tower = _build_vision_tower(
        architecture["embed_dim"], architecture["vision_cfg"], _quick_gelu(config, architecture)
    )
    if _should_load(config):
        _load_tower_weights(tower, config, prefix="visual.")
    return tower


def build_clip_model(config: CLIPConfig) -> nn.Module:
    """A whole open_clip CLIP (image and text towers, projections, logit scale) for scoring."""
    architecture = clip_architecture(config)
    model = open_clip.CLIP(
        embed_dim=architecture["embed_dim"],
        vision_cfg=architecture["vision_cfg"],
        text_cfg=architecture["text_cfg"],
        quick_gelu=_quick_gelu(config, architecture),
    )
    if _should_load(config):
        path = resolve_clip_checkpoint(config)
        result = model.load_state_dict(_read_clip_state_dict(path), strict=False)
        missing = [k for k in result.missing_keys if k != "attn_mask"]
        if missing:
            raise GigaGANError(f"CLIP checkpoint {path} lacks {len(missing)} weights, e.g. {missing[0]}")
    return model


def clip_image_size(config: CLIPConfig) -> int:
    size = clip_architecture(config)["vision_cfg"]["image_size"]
    return int(size if isinstance(size, int) else size[0])


def resolve_clip_checkpoint(config: CLIPConfig) -> str:
    """A local file for `config.pretrained`: the path itself, or open_clip's download of a tag."""
    source = str(config.pretrained)
    if os.path.isfile(source):
        return source
    if os.sep in source or source.endswith((".pt", ".bin", ".pth", ".safetensors")):
        raise GigaGANError(f"CLIP checkpoint not found: {source}")
    pretrained_cfg = open_clip.get_pretrained_cfg(config.model_name, source)
    if not pretrained_cfg:
        tags = ", ".join(open_clip.list_pretrained_tags_by_model(config.model_name)) or "none"
        raise GigaGANError(f"no open_clip weights {source!r} for {config.model_name} (tags: {tags})")
    try:
        return open_clip.download_pretrained(pretrained_cfg)
    except Exception as error:  # network errors come in many types
        raise GigaGANError(
            f"could not download CLIP weights {config.model_name}/{source} ({type(error).__name__}); "
            "pass a local checkpoint path instead"
        ) from error


def _read_clip_state_dict(path: str) -> dict[str, Tensor]:
    """A CLIP state dict from safetensors, a (weights-only) torch file, or OpenAI's TorchScript file."""
    try:
        return load_state_dict(path)
    except Exception as error:
        try:  # OpenAI's released checkpoints are TorchScript archives
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                return dict(torch.jit.load(path, map_location="cpu").state_dict())
        except Exception:
            raise GigaGANError(f"cannot read CLIP checkpoint {path}: {type(error).__name__}") from error


def _load_tower_weights(tower: nn.Module, config: CLIPConfig, prefix: str) -> None:
    path = resolve_clip_checkpoint(config)
    state = _read_clip_state_dict(path)
    if prefix:
        state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    else:  # text weights sit at the top level of a CLIP state dict, beside 'visual.*'
        expected = set(tower.state_dict())
        state = {k: v for k, v in state.items() if k in expected}
    result = tower.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if k != "attn_mask"]
    if missing:
        raise GigaGANError(f"CLIP checkpoint {path} lacks {len(missing)} {prefix or 'text '}weights, e.g. {missing[0]}")
    log.info("loaded CLIP %s tower weights from %s", "image" if prefix else "text", path)


@functools.lru_cache(maxsize=8)
def _open_clip_tokenizer(model_name: str, context_length: int) -> Any:
    # Building the BPE tables takes about a second; share one tokenizer per architecture.
    return open_clip.get_tokenizer(model_name, context_length=context_length)


class CLIPTokenizer:
    """open_clip's CLIP BPE tokenizer (vocabulary ships in the wheel): prompts -> [B, 77] ids."""

    def __init__(self, config: CLIPConfig) -> None:
        architecture = clip_architecture(config)
        self.context_length = int(architecture["text_cfg"].get("context_length", 77))
        self._tokenizer = _open_clip_tokenizer(config.model_name, self.context_length)

    def __call__(self, prompts: str | list[str]) -> Tensor:
        if isinstance(prompts, str):
            prompts = [prompts]
        return self._tokenizer(list(prompts))

    def count_tokens(self, prompt: str) -> int:
        """Token count including start and end tokens, before truncation."""
        return len(self._tokenizer.encode(prompt)) + 2


def clip_preprocess(images: Tensor, size: int) -> Tensor:
    """Differentiable CLIP input: images in [-1, 1] -> resized to `size`, CLIP-normalised."""
    if images.shape[-1] != size or images.shape[-2] != size:
        antialias = images.shape[-1] > size
        images = F.interpolate(images, size=(size, size), mode="bicubic", align_corners=False, antialias=antialias)
    images = (images + 1) / 2
    mean = torch.tensor(CLIP_MEAN, device=images.device, dtype=images.dtype)[:, None, None]
    std = torch.tensor(CLIP_STD, device=images.device, dtype=images.dtype)[:, None, None]
    return (images - mean) / std
