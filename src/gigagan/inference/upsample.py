"""Super-resolution with a trained upsampler: `UpsamplerPipeline`, and reading the images to upsample.

Any input size works: images larger than a tile run through seamless tiled inference
(`gigagan.inference.tiling`), so memory stays bounded. Each image is upsampled from its own seed
(z and per-pixel noise), so a result depends only on (image, prompt, seed), never on the batch.

`read_image` turns a picture file into RGB, or a one-line `GigaGANError`: missing or empty files,
files that are not pictures, zero-size pictures, pictures whose output would exceed the pixel limit
(`MAX_OUTPUT_PIXELS`, 4096 x 4096 = the paper's 16-megapixel "4K" output, overridable), and modes
that cannot become RGB. RGBA / LA / palette images are composited on white, L and CMYK converted,
16-bit and float greys rescaled (`gigagan.data.to_rgb`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from gigagan.data.images import image_to_tensor, to_rgb
from gigagan.errors import GigaGANError
from gigagan.inference.pipeline import PretrainedPipeline
from gigagan.inference.tiling import upsample_images
from gigagan.models.upsampler import Upsampler

MAX_OUTPUT_PIXELS = 4096 * 4096


def read_image(path: str | os.PathLike[str]) -> Image.Image:
    """An upright 8-bit RGB picture from a file, or a one-line GigaGANError saying what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise GigaGANError(f"image not found: {path}")
    if path.stat().st_size == 0:
        raise GigaGANError(f"{path} is an empty file (0 bytes), not an image")
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width < 1 or height < 1:
                raise GigaGANError(f"{path} is a zero-size image ({width}x{height})")
            image.load()
            upright = ImageOps.exif_transpose(image)
            try:
                return to_rgb(upright)
            except (ValueError, OSError) as error:
                raise GigaGANError(f"{path}: cannot convert mode {image.mode} to RGB ({error})") from error
    except Image.DecompressionBombError as error:
        raise GigaGANError(f"{path} is too large to decode safely ({error})") from error
    except UnidentifiedImageError as error:
        raise GigaGANError(f"{path} is not an image (unrecognised format)") from error
    except (OSError, ValueError, SyntaxError) as error:
        raise GigaGANError(f"{path} is damaged or unreadable ({type(error).__name__}: {error})") from error


def check_output_size(
    width: int, height: int, scale: int, max_pixels: int, name: str = "image", hint: str = "raise it with --max-pixels"
) -> None:
    """Refuse an input whose upsampled size would exceed `max_pixels` (the message ends with `hint`)."""
    if width * height * scale * scale > max_pixels:
        raise GigaGANError(
            f"{name} is {width}x{height}: upsampled {scale}x it would be {width * scale}x{height * scale} "
            f"({width * height * scale * scale:,} pixels), above the limit of {max_pixels:,} pixels ({hint})"
        )


class UpsamplerPipeline(PretrainedPipeline):
    """Images (+ prompt, seed) -> images `scale_factor` times larger, tiled when large."""

    model_class = Upsampler

    @property
    def upsampler(self) -> Upsampler:
        return self.model

    @property
    def scale_factor(self) -> int:
        return self.upsampler.config.scale_factor

    @torch.no_grad()
    def upsample(
        self,
        images: Tensor | Sequence[Tensor],
        prompts: str | Sequence[str] = "",
        seeds: int | Sequence[int] = 0,
        tile_size: int | None = None,
        overlap: int | None = None,
        tiles_per_batch: int = 4,
    ) -> list[Tensor]:
        """Upsample each image [3, H, W] in [-1, 1] (a batch tensor or a list of any sizes) with its prompt
        ("" = unconditional) and seed; returns float32 CPU images [3, H * s, W * s] in about [-1, 1]."""
        images = list(images)
        count = len(images)
        prompt_list = [prompts] * count if isinstance(prompts, str) else list(prompts)
        seed_list = [seeds + i for i in range(count)] if isinstance(seeds, int) else list(seeds)
        if len(prompt_list) != count or len(seed_list) != count:
            raise GigaGANError(f"{count} images need as many prompts and seeds")
        outputs = []
        for image, prompt, seed in zip(images, prompt_list, seed_list):
            with self._autocast():
                output = upsample_images(
                    self.upsampler,
                    image.to(self.device),
                    prompt,
                    tile_size=tile_size,
                    overlap=overlap,
                    seed=int(seed),
                    tiles_per_batch=tiles_per_batch,
                    output_device="cpu",
                )
            outputs.append(output.float())
        return outputs

    def __call__(
        self,
        images: Image.Image | Sequence[Image.Image],
        prompts: str | Sequence[str] = "",
        seed: int = 0,
        **kwargs: Any,
    ) -> list[Image.Image]:
        """PIL images in, PIL images out; image i uses seed + i."""
        from gigagan.inference.export import tensor_to_pil

        pictures = [images] if isinstance(images, Image.Image) else list(images)
        tensors = [image_to_tensor(to_rgb(picture)) for picture in pictures]
        return [tensor_to_pil(output) for output in self.upsample(tensors, prompts, seed, **kwargs)]

    def _autocast(self) -> Any:
        import contextlib

        if self.dtype == torch.bfloat16:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()


__all__ = ["MAX_OUTPUT_PIXELS", "UpsamplerPipeline", "check_output_size", "read_image"]
