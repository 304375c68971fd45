"""What the web studio does, without the web: `Studio` keeps the models loaded, checks every request's
values (one-line `GigaGANError`s), admits at most one running request plus `max_queue` waiting ones
(the rest are told "busy, try again") and writes every picture with the library's own writers
(`gigagan.inference.figures`, `gigagan.inference.export`) into its private temporary folder only.

The gradio app (`gigagan.web.app`) is a thin layer over these methods; tests and the benchmark call them
in-process too.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from gigagan.errors import GigaGANError
from gigagan.inference.export import save_png
from gigagan.inference.figures import (
    cell_scale,
    write_generation,
    write_interpolation,
    write_prompt_mix,
    write_style_mix,
)
from gigagan.inference.latent import level_groups, parse_levels
from gigagan.inference.pipeline import GigaGANPipeline
from gigagan.inference.tiling import plan_tiles
from gigagan.inference.upsample import UpsamplerPipeline, check_output_size, read_image
from gigagan.web.checks import (
    Limits,
    check_int,
    check_psi,
    check_seed,
    parse_seed_list,
    random_seed,
    single_prompt,
    split_prompts,
)

BUSY_MESSAGE = "busy, try again in a moment: {waiting} requests are already waiting"
SIZE_HINT = "send a smaller picture"
NO_UPSAMPLER = "no upsampler loaded: start the server with --upsampler PATH to upsample"
KEEP_REQUEST_FOLDERS = 64  # older request folders are deleted (gradio keeps its own copies)
MEAN_W_CACHE_LIMIT = 1024  # prompts whose mean w the pipeline may cache before the cache is cleared


@dataclass
class Generated:
    """Result of `Studio.generate`: PNG files (CLI names and text chunks) in prompt-major order."""

    paths: list[Path]
    prompts: list[str]
    seeds: list[int]
    base_seed: int
    truncation_psi: float

    def captions(self) -> list[str]:
        return [f"seed {seed} · {prompt}" for prompt, seed in zip(self.prompts, self.seeds)]


@dataclass
class Interpolation:
    gif: Path
    frames: list[Path]
    grid: Path


@dataclass
class MixGrid:
    grid: Path
    legend: str
    levels: list[int] = field(default_factory=list)


@dataclass
class Upsampled:
    path: Path
    width: int
    height: int
    tiles: str


def header_size(path: Path) -> tuple[int, int] | None:
    """A picture's size from its header (nothing decoded), or None when it does not open as a picture."""
    try:
        with Image.open(path) as image:
            return image.size
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


# ---------------------------------------------------------------------------- admission


class ServerBusy(GigaGANError):
    """More requests than the queue holds: the caller should try again later."""


class Admission:
    """One request runs on the model at a time; up to `max_queue` more wait; any beyond are refused at once."""

    def __init__(self, max_queue: int) -> None:
        if max_queue < 0:
            raise GigaGANError(f"max queue must be at least 0, got {max_queue}")
        self.max_queue = max_queue
        self._slots = threading.BoundedSemaphore(max_queue + 1)
        self._model = threading.Lock()

    @contextlib.contextmanager
    def enter(self) -> Iterator[None]:
        if not self._slots.acquire(blocking=False):
            raise ServerBusy(BUSY_MESSAGE.format(waiting=self.max_queue))
        try:
            with self._model:
                yield
        finally:
            self._slots.release()


# ---------------------------------------------------------------------------- the studio


class Studio:
    """The loaded models, the request limits, the admission gate and the private output folder."""

    def __init__(
        self,
        pipe: GigaGANPipeline,
        upsampler: UpsamplerPipeline | None = None,
        max_queue: int = 16,
        limits: Limits | None = None,
        root: Path | None = None,
    ) -> None:
        self.pipe = pipe
        self.upsampler = upsampler
        self.limits = limits or Limits()
        self.admission = Admission(max_queue)
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="gigagan-studio-"))
        self.outputs = self.root / "outputs"
        self.outputs.mkdir(parents=True, exist_ok=True)
        self._folder_lock = threading.Lock()
        self._card: dict[str, Any] | None = None

    @classmethod
    def load(
        cls,
        checkpoint: str | os.PathLike[str],
        upsampler: str | os.PathLike[str] | None = None,
        device: str = "auto",
        dtype: str = "float32",
        max_queue: int = 16,
        limits: Limits | None = None,
    ) -> Studio:
        """Load the generator (and upsampler) once; every request reuses them."""
        pipe = GigaGANPipeline.from_pretrained(checkpoint, device=device, dtype=dtype)
        upsampling = UpsamplerPipeline.from_pretrained(upsampler, pipe.device, dtype) if upsampler else None
        return cls(pipe, upsampling, max_queue, limits)

    @property
    def scale(self) -> int:
        """Grid cells are scaled up (nearest) to at least 96 px, as the CLI does."""
        return cell_scale(self.pipe.resolution)

    def level_choices(self) -> list[tuple[str, str]]:
        """(label, value) per pyramid level for the crossover pickers: value is the resolution."""
        groups = {level: name for name, levels in level_groups(self.pipe.num_levels).items() for level in levels}
        return [(f"{r}×{r} ({groups[i]})", str(r)) for i, r in enumerate(self.pipe.level_resolutions)]

    def default_levels(self, *groups: str) -> list[str]:
        chosen = level_groups(self.pipe.num_levels)
        return [str(self.pipe.level_resolutions[i]) for group in groups for i in chosen[group]]

    def close(self) -> None:
        """Delete the studio's temporary folder."""
        shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------------ requests

    def generate(self, prompts: Any, num_images: Any, seed: Any, truncation_psi: Any) -> Generated:
        """`num_images` PNGs per prompt (image j: seed + j), named and tagged as `gigagan generate` writes
        them; `seed=None` draws a random base seed."""
        prompt_list = split_prompts(prompts, self.limits)
        count = check_int(num_images, "number of images", 1, self.limits.max_images)
        if len(prompt_list) * count > self.limits.max_images:
            raise GigaGANError(
                f"at most {self.limits.max_images} images per request, asked for "
                f"{len(prompt_list)} prompts x {count} = {len(prompt_list) * count}"
            )
        base = random_seed() if seed is None else check_seed(seed, "seed", count)
        psi = check_psi(truncation_psi)
        with self._request("generate") as folder:
            write_generation(self.pipe, folder, prompt_list, count, base, psi, 16, self.scale, progress=False)
        paths, image_prompts, seeds = [], [], []
        for index, prompt in enumerate(prompt_list):
            for j in range(count):
                paths.append(folder / f"{index:04d}-seed{base + j}.png")
                image_prompts.append(prompt)
                seeds.append(base + j)
        return Generated(paths, image_prompts, seeds, base, psi)

    def interpolate(
        self, prompt: Any, seed: Any, to_prompt: Any, to_seed: Any, frames: Any, space: Any, truncation_psi: Any
    ) -> Interpolation:
        """Frames, a boomerang GIF and a grid from (prompt, seed) to (to_prompt, to_seed); an empty
        `to_prompt` means the same prompt."""
        start = single_prompt(prompt, self.limits, "start prompt")
        end = start if not str(to_prompt or "").strip() else single_prompt(to_prompt, self.limits, "end prompt")
        seeds = check_seed(seed, "start seed"), check_seed(to_seed, "end seed")
        count = check_int(frames, "number of frames", 2, self.limits.max_frames)
        if space not in ("z", "w"):
            raise GigaGANError(f"interpolation space must be z or w, got {space!r}")
        psi = check_psi(truncation_psi)
        with self._request("interpolate") as folder:
            written = write_interpolation(
                self.pipe, folder, (start, seeds[0]), (end, seeds[1]), count, space, psi, 12.0, self.scale, mp4=False
            )
        frame_paths = sorted((folder / "frames").glob("frame-*.png"))
        gif = next(p for p in written if p.suffix == ".gif")
        return Interpolation(gif=gif, frames=frame_paths, grid=folder / "interpolation-grid.png")

    def style_mix(self, prompt: Any, row_seeds: Any, column_seeds: Any, levels: Any, truncation_psi: Any) -> MixGrid:
        """The style-mixing grid (paper fig. 6): each cell takes `levels` from its column seed."""
        text = single_prompt(prompt, self.limits)
        rows = parse_seed_list(row_seeds, "row seeds", self.limits)
        columns = parse_seed_list(column_seeds, "column seeds", self.limits)
        return self._mixing_figure("style-mix", write_style_mix, levels, truncation_psi, text, rows, columns)

    def prompt_mix(self, prompt: Any, fine_prompts: Any, seeds: Any, levels: Any, truncation_psi: Any) -> MixGrid:
        """The prompt-mixing grid (paper fig. 8): prompt A's coarse levels, each prompt B's `levels`."""
        coarse = single_prompt(prompt, self.limits, "prompt A")
        fine = split_prompts(fine_prompts, self.limits, "prompts B")
        if len(fine) > self.limits.max_fine_prompts:
            raise GigaGANError(f"at most {self.limits.max_fine_prompts} prompts B, got {len(fine)}")
        seed_list = parse_seed_list(seeds, "seeds", self.limits)
        return self._mixing_figure("prompt-mix", write_prompt_mix, levels, truncation_psi, coarse, fine, seed_list)

    def _mixing_figure(self, name: str, write: Callable[..., Any], levels: Any, truncation: Any, *args: Any) -> MixGrid:
        """A style- or prompt-mixing grid: `write` (write_style_mix or write_prompt_mix) with the request's
        checked prompts and seeds (`args`), levels and truncation, in a request folder of its own."""
        spec = self._levels(levels)
        psi = check_psi(truncation)
        with self._request(name) as folder:
            write(self.pipe, folder, *args, spec, psi, self.scale, write_cells=False)
        return self._mix_grid(folder / name, spec)

    def upsample(self, image_path: Any, prompt: Any, seed: Any) -> Upsampled:
        """Upsample one uploaded picture (tiled when larger than a tile) with an optional prompt; the PNG
        carries the text chunks `gigagan upsample` writes."""
        if self.upsampler is None:
            raise GigaGANError(NO_UPSAMPLER)
        if not image_path:
            raise GigaGANError("no picture given: upload one or send a generated image")
        path = Path(str(image_path))
        size = path.stat().st_size if path.is_file() else 0
        if size > self.limits.max_upload_bytes:
            raise GigaGANError(
                f"the picture is {size / 2**20:.1f} MB; uploads may be at most {self.limits.max_upload_text}"
            )
        text = "" if not str(prompt or "").strip() else single_prompt(prompt, self.limits)
        seed_value = check_seed(seed)
        scale = self.upsampler.scale_factor
        declared = header_size(path)  # refuse an oversized picture before decoding it
        if declared is not None:
            check_output_size(*declared, scale, self.limits.max_output_pixels, "the picture", SIZE_HINT)
        picture = read_image(path)  # a one-line error for anything that is not a picture
        check_output_size(picture.width, picture.height, scale, self.limits.max_output_pixels, "the picture", SIZE_HINT)
        config = self.upsampler.upsampler.config
        tile = config.input_resolution
        tiles = plan_tiles(picture.height, picture.width, tile, tile // 4, config.alignment).num_tiles
        with self._request("upsample") as folder:
            (output,) = self.upsampler([picture], text, seed_value)
            metadata = {
                "prompt": text,
                "seed": seed_value,
                "source": path.name,
                "checkpoint": self.upsampler.checkpoint_hash,
            }
            written = save_png(output, folder / f"{path.stem[:64]}-x{scale}.png", metadata)
        note = "one tile" if tiles <= 1 else f"{tiles} overlapping tiles of {tile}px, blended seamlessly"
        return Upsampled(written, output.width, output.height, note)

    def model_card(self) -> dict[str, Any]:
        """Preset, parameter counts, checkpoint hash and training step of the loaded model(s) (cached)."""
        if self._card is None:
            from gigagan.web.card import describe_generator, describe_upsampler

            card: dict[str, Any] = {"generator": describe_generator(self.pipe)}
            card["upsampler"] = describe_upsampler(self.upsampler) if self.upsampler is not None else None
            card["limits"] = {
                "max_images_per_request": self.limits.max_images,
                "max_prompts": self.limits.max_prompts,
                "max_frames": self.limits.max_frames,
                "max_upload": self.limits.max_upload_text,
                "max_queue": self.admission.max_queue,
            }
            self._card = card
        return self._card

    # ------------------------------------------------------------------ helpers

    def _levels(self, levels: Any) -> str:
        """Crossover levels as the checkbox group sends them (resolutions) or as text: a parse_levels spec."""
        parts = [str(item) for item in levels] if isinstance(levels, list | tuple) else [str(levels or "")]
        spec = ",".join(part.strip() for part in parts if part.strip())
        if not spec:
            raise GigaGANError("no crossover levels selected: pick at least one level")
        parse_levels(spec, self.pipe.level_resolutions)
        return spec

    @contextlib.contextmanager
    def _request(self, kind: str) -> Iterator[Path]:
        """Admission (or ServerBusy), then a fresh output folder; afterwards the caches are bounded."""
        with self.admission.enter():
            yield self._request_folder(kind)
            self._bound_caches()

    def _mix_grid(self, stem: Path, spec: str) -> MixGrid:
        """A written mixing grid (STEM.png), its legend (STEM.txt) and the levels `spec` chose."""
        legend = stem.with_suffix(".txt").read_text()
        return MixGrid(stem.with_suffix(".png"), legend, parse_levels(spec, self.pipe.level_resolutions))

    def _request_folder(self, kind: str) -> Path:
        """A new folder under the studio's outputs; the oldest beyond KEEP_REQUEST_FOLDERS are deleted."""
        with self._folder_lock:
            folder = self.outputs / f"{time.time_ns()}-{kind}"
            folder.mkdir(parents=True)
            existing = sorted(p for p in self.outputs.iterdir() if p.is_dir())
            for old in existing[:-KEEP_REQUEST_FOLDERS]:
                shutil.rmtree(old, ignore_errors=True)
        return folder

    def _bound_caches(self) -> None:
        """Keep the pipeline's per-prompt mean-w cache from growing without end."""
        cache = getattr(self.pipe, "_mean_w", None)
        if isinstance(cache, dict) and len(cache) > MEAN_W_CACHE_LIMIT:
            cache.clear()


__all__ = [
    "BUSY_MESSAGE",
    "NO_UPSAMPLER",
    "Admission",
    "Generated",
    "Interpolation",
    "Limits",
    "MixGrid",
    "ServerBusy",
    "Studio",
    "Upsampled",
]
