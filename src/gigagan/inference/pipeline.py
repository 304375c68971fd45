"""Text-to-image generation with a trained generator: `GigaGANPipeline`.

Every image is made from its own seed: its z is drawn from a generator seeded with that seed alone
and per-pixel noise is the network's fixed (`const`) noise, so an image depends only on (prompt,
seed, psi), never on the batch it was made in. With `seed=S`, image j of every prompt uses seed
S + j, so one column of a prompt grid shares its z.

Truncation pulls w toward the prompt's own mean w (estimated once per prompt from many z, cached):
psi = 1 is exactly no truncation, psi = 0 gives the mean-w image.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from gigagan.device import resolve_device
from gigagan.errors import GigaGANError
from gigagan.io import CONFIG_NAME, latest_checkpoint
from gigagan.models import Generator
from gigagan.models.generator import NoiseMode
from gigagan.models.pretrained import resolve_model_path
from gigagan.models.text import TextEncoding
from gigagan.models.upsampler import Upsampler

log = logging.getLogger(__name__)

OutputType = Literal["pil", "np", "pt"]
MEAN_W_SEED = 0x6167  # the fixed z draws behind every prompt's mean w
MEAN_W_SAMPLES = 1024
MAX_SEED = 2**63 - 1


@dataclass
class GenerationOutput:
    """What `GigaGANPipeline.__call__` returns: images in prompt-major order and where each came from.

    images: PIL images, a uint8 array [N, H, W, 3] ("np") or a float tensor [N, 3, H, W] in [0, 1] ("pt").
    """

    images: list[Image.Image] | np.ndarray | Tensor
    prompts: list[str]  # one per image
    seeds: list[int]  # one per image
    truncation_psi: float


@dataclass
class GeneratedBatch:
    """One batch from `GigaGANPipeline.generate_batches`: images [b, 3, H, W] in [-1, 1] (float32, CPU)."""

    images: Tensor
    prompts: list[str]
    seeds: list[int]
    prompt_indices: list[int]  # index of each image's prompt in the request
    image_indices: list[int]  # j of each image (its seed is base seed + j)


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """float32 or bfloat16 (names or torch dtypes)."""
    names = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
    if isinstance(dtype, torch.dtype):
        if dtype in (torch.float32, torch.bfloat16):
            return dtype
    elif str(dtype).lower() in names:
        return names[str(dtype).lower()]
    raise GigaGANError(f"unsupported dtype {dtype!r}; use float32 or bfloat16")


def find_checkpoint(path_or_hub_id: str | os.PathLike[str]) -> Path:
    """A model directory for a `save_pretrained` folder, a training checkpoint, a run directory (its
    `latest` checkpoint) or a Hugging Face Hub id."""
    path = Path(path_or_hub_id)
    if path.is_dir() and not (path / CONFIG_NAME).is_file():
        found = latest_checkpoint(path)
        if found is None:
            raise GigaGANError(f"no checkpoint in {path}: expected {CONFIG_NAME} or a training run with `latest`")
        return found
    return resolve_model_path(path_or_hub_id)


def file_hash(path: Path, length: int = 16) -> str:
    """The first `length` hex digits of the file's SHA-256."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:length]


def seed_to_z(seeds: Sequence[int], z_dim: int) -> Tensor:
    """z [len(seeds), z_dim] (float32, CPU): row i drawn from a generator seeded with seeds[i] alone."""
    rows = []
    for seed in seeds:
        if not 0 <= int(seed) <= MAX_SEED:
            raise GigaGANError(f"seed must be between 0 and 2**63-1, got {seed}")
        rows.append(torch.randn(z_dim, generator=torch.Generator().manual_seed(int(seed))))
    return torch.stack(rows) if rows else torch.zeros(0, z_dim)


def to_unit_range(images: Tensor) -> Tensor:
    """[-1, 1] generator output -> float32 [0, 1], clamped."""
    return ((images.float().clamp(-1, 1) + 1) / 2).cpu()


def to_pil(images: Tensor) -> list[Image.Image]:
    """Generator output [N, 3, H, W] in [-1, 1] -> PIL RGB images."""
    return [Image.fromarray(array) for array in to_uint8(images)]


def to_uint8(images: Tensor) -> np.ndarray:
    """Generator output [N, 3, H, W] in [-1, 1] -> uint8 [N, H, W, 3]."""
    return (to_unit_range(images) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def convert_output(images: Tensor, output_type: OutputType) -> list[Image.Image] | np.ndarray | Tensor:
    if output_type == "pil":
        return to_pil(images)
    if output_type == "np":
        return to_uint8(images)
    if output_type == "pt":
        return to_unit_range(images)
    raise GigaGANError(f"output_type must be pil, np or pt, got {output_type!r}")


class PretrainedPipeline:
    """What every pipeline shares: a frozen model on a device, the dtype it runs in, and the weights
    file it was loaded from (for provenance). Subclasses name their model class in `model_class`."""

    model_class: ClassVar[type[Generator] | type[Upsampler]]

    def __init__(
        self,
        model: nn.Module,
        device: str | torch.device = "auto",
        dtype: str | torch.dtype = "float32",
        checkpoint_path: Path | None = None,
        checkpoint_hash: str | None = None,
    ) -> None:
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype)
        self.model = model.to(self.device).eval().requires_grad_(False)
        self.checkpoint_path = checkpoint_path
        self._checkpoint_hash = checkpoint_hash

    @classmethod
    def from_pretrained(
        cls,
        path_or_hub_id: str | os.PathLike[str],
        device: str | torch.device = "auto",
        dtype: str | torch.dtype = "float32",
        **kwargs: Any,
    ) -> Self:
        """Load the (EMA) model of a `save_pretrained` folder, a training checkpoint, a run directory
        (its `latest`) or a Hub id."""
        resolved_device = resolve_device(device)
        directory = find_checkpoint(path_or_hub_id)
        model = cls.model_class.from_pretrained(directory, device="cpu")
        weights = cls.model_class._find_weights(directory, None)
        return cls(model, resolved_device, dtype, checkpoint_path=weights, **kwargs)

    @property
    def checkpoint_hash(self) -> str:
        """First 16 hex digits of the SHA-256 of the weights file ("unsaved" for an in-memory model)."""
        if self._checkpoint_hash is None:
            self._checkpoint_hash = file_hash(self.checkpoint_path) if self.checkpoint_path else "unsaved"
        return self._checkpoint_hash


class GigaGANPipeline(PretrainedPipeline):
    """Prompts (+ seeds, truncation) -> images, with the pieces the latent-space tools build on."""

    model_class = Generator

    def __init__(
        self,
        generator: Generator,
        device: str | torch.device = "auto",
        dtype: str | torch.dtype = "float32",
        checkpoint_path: Path | None = None,
        checkpoint_hash: str | None = None,
        noise_mode: NoiseMode = "const",
        mean_w_samples: int = MEAN_W_SAMPLES,
    ) -> None:
        if noise_mode not in ("const", "none"):
            raise GigaGANError("noise_mode must be const or none (random noise would depend on the batch)")
        super().__init__(generator, device, dtype, checkpoint_path, checkpoint_hash)
        self.noise_mode: NoiseMode = noise_mode
        self.mean_w_samples = mean_w_samples
        self._mean_w: dict[str, Tensor] = {}

    # ------------------------------------------------------------------ properties

    @property
    def generator(self) -> Generator:
        return self.model

    @property
    def resolution(self) -> int:
        return self.generator.config.resolution

    @property
    def num_levels(self) -> int:
        return self.generator.config.num_levels

    @property
    def level_resolutions(self) -> list[int]:
        """Resolution of each synthesis level, coarsest first."""
        return list(self.generator.config.resolutions)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """bfloat16 autocast on the pipeline's device when dtype is bfloat16, else nothing."""
        if self.dtype == torch.bfloat16:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # ------------------------------------------------------------------ the pieces

    def check_prompts(self, prompts: str | Sequence[str]) -> list[str]:
        """A non-empty list of strings; warns about prompts the tokenizer will cut at its context length."""
        if isinstance(prompts, str):
            prompts = [prompts]
        prompts = list(prompts)
        if not prompts:
            raise GigaGANError("no prompts given")
        tokenizer = self.generator.tokenizer
        for prompt in prompts:
            if not isinstance(prompt, str):
                raise GigaGANError(f"prompts must be strings, got {type(prompt).__name__}")
            count = tokenizer.count_tokens(prompt)
            if count > tokenizer.context_length:
                warnings.warn(
                    f"prompt has {count} tokens; truncated to {tokenizer.context_length}: {prompt[:60]!r}...",
                    stacklevel=3,
                )
        return prompts

    @torch.no_grad()
    def encode(self, prompts: Sequence[str]) -> TextEncoding:
        """Text encodings (float32) for a list of prompts."""
        ids = self.generator.tokenize(list(prompts)).to(self.device)
        with self.autocast():
            text = self.generator.encode_text(ids)
        return TextEncoding(local=text.local.float(), mask=text.mask, global_=text.global_.float())

    @torch.no_grad()
    def mean_w(self, prompts: Sequence[str]) -> Tensor:
        """Each prompt's mean w [len(prompts), w_dim] (float32), from fixed z draws; cached per prompt."""
        missing = [p for p in dict.fromkeys(prompts) if p not in self._mean_w]
        for prompt in missing:
            text = self.encode([prompt])
            draws = torch.Generator(device=self.device).manual_seed(MEAN_W_SEED)
            self._mean_w[prompt] = self.generator.mean_w(text, self.mean_w_samples, generator=draws)[0].float()
        return torch.stack([self._mean_w[p] for p in prompts])

    def z(self, seeds: Sequence[int]) -> Tensor:
        """z for each seed, on the pipeline's device."""
        return seed_to_z(seeds, self.generator.config.z_dim).to(self.device)

    @torch.no_grad()
    def map_w(
        self,
        z: Tensor,
        text: TextEncoding,
        prompts: Sequence[str],
        truncation_psi: float = 1.0,
        center: Tensor | None = None,
    ) -> Tensor:
        """w [B, w_dim] (float32), truncated toward `center` (default: each prompt's mean w) unless psi == 1,
        which leaves w untouched."""
        with self.autocast():
            w = self.generator.map(z, text)[:, 0].float()
        if truncation_psi != 1.0:  # the same lerp as Generator.map, done in float32
            w = (self.mean_w(prompts) if center is None else center).lerp(w, truncation_psi)
        return w

    def broadcast(self, w: Tensor) -> Tensor:
        """w [B, w_dim] -> w+ [B, num_ws, w_dim]."""
        return w[:, None, :].expand(-1, self.generator.num_ws, -1)

    def map(self, z: Tensor, text: TextEncoding, prompts: Sequence[str], truncation_psi: float = 1.0) -> Tensor:
        """w+ [B, num_ws, w_dim] (float32), truncated toward each prompt's mean w unless psi == 1."""
        return self.broadcast(self.map_w(z, text, prompts, truncation_psi))

    @torch.no_grad()
    def synthesize(self, ws: Tensor, text_local: Tensor, text_mask: Tensor) -> list[Tensor]:
        """w+ and (shared or per-level) text tokens -> the image pyramid, finest first (float32)."""
        with self.autocast():
            pyramid = self.generator.synthesis(ws, text_local, text_mask, noise_mode=self.noise_mode)
        return [level.float() for level in pyramid]

    # ------------------------------------------------------------------ generation

    def image_seeds(
        self, num_images_per_prompt: int, seed: int | None = None, generator: torch.Generator | None = None
    ) -> list[int]:
        """Seeds of images 0..n-1 of each prompt: seed + j, or n draws from `generator` (or torch's RNG)."""
        if num_images_per_prompt < 1:
            raise GigaGANError(f"num_images_per_prompt must be at least 1, got {num_images_per_prompt}")
        if seed is not None and generator is not None:
            raise GigaGANError("give seed or generator, not both")
        if seed is None:
            drawn = torch.randint(0, 2**62, (num_images_per_prompt,), generator=generator)
            return [int(s) for s in drawn]
        if not 0 <= seed <= MAX_SEED - num_images_per_prompt:
            raise GigaGANError(f"seed must be a non-negative 63-bit integer, got {seed}")
        return [seed + j for j in range(num_images_per_prompt)]

    @torch.no_grad()
    def generate_batches(
        self,
        prompt_or_prompts: str | Sequence[str],
        num_images_per_prompt: int = 1,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        truncation_psi: float = 1.0,
        batch_size: int = 16,
        progress: bool | None = None,
    ) -> Iterator[GeneratedBatch]:
        """Yield the requested images batch by batch (prompt-major order), with a progress bar when
        there is more than one batch (or `progress=True`)."""
        prompts = self.check_prompts(prompt_or_prompts)
        if batch_size < 1:
            raise GigaGANError(f"batch size must be at least 1, got {batch_size}")
        seeds = self.image_seeds(num_images_per_prompt, seed, generator)
        jobs = [(p, j) for p in range(len(prompts)) for j in range(num_images_per_prompt)]
        starts = range(0, len(jobs), batch_size)
        show = progress if progress is not None else len(starts) > 1
        bar = None
        if show:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(jobs), unit="img", dynamic_ncols=True, desc="generating")
        try:
            for start in starts:
                chunk = jobs[start : start + batch_size]
                batch_prompts = [prompts[p] for p, _ in chunk]
                batch_seeds = [seeds[j] for _, j in chunk]
                text = self.encode(batch_prompts)
                ws = self.map(self.z(batch_seeds), text, batch_prompts, truncation_psi)
                images = self.synthesize(ws, text.local, text.mask)[0].cpu()
                if bar is not None:
                    bar.update(len(chunk))
                yield GeneratedBatch(images, batch_prompts, batch_seeds, [p for p, _ in chunk], [j for _, j in chunk])
        finally:
            if bar is not None:
                bar.close()

    def __call__(
        self,
        prompt_or_prompts: str | Sequence[str],
        num_images_per_prompt: int = 1,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        truncation_psi: float = 1.0,
        output_type: OutputType = "pil",
        batch_size: int = 16,
        progress: bool | None = None,
    ) -> GenerationOutput:
        """Generate `num_images_per_prompt` images per prompt; image j of each prompt uses seed + j.

        Without seed or generator the seeds are drawn from torch's global RNG (and returned).
        """
        if output_type not in ("pil", "np", "pt"):
            raise GigaGANError(f"output_type must be pil, np or pt, got {output_type!r}")
        batches = list(
            self.generate_batches(
                prompt_or_prompts, num_images_per_prompt, seed, generator, truncation_psi, batch_size, progress
            )
        )
        images = torch.cat([b.images for b in batches])
        return GenerationOutput(
            images=convert_output(images, output_type),
            prompts=[p for b in batches for p in b.prompts],
            seeds=[s for b in batches for s in b.seeds],
            truncation_psi=truncation_psi,
        )


__all__ = [
    "GeneratedBatch",
    "GenerationOutput",
    "GigaGANPipeline",
    "convert_output",
    "file_hash",
    "find_checkpoint",
    "resolve_device",
    "resolve_dtype",
    "seed_to_z",
    "to_pil",
    "to_uint8",
]
