"""Look at what the multi-scale discriminator compares: for held-out `shapes` prompts, the EMA
generator's image pyramid and detail bands next to those of a real render of the same prompt.

Each row is one prompt: [fake levels, finest first | fake bands | real levels | real bands]; bands
are shown as 0.5 + gain * band, every picture scaled up to the finest resolution (nearest).

    .venv/bin/python benchmarks/show_pyramid.py runs/demo --out pyramid.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F
from torchvision.utils import save_image

from gigagan.data.shapes import heldout_prompts, render, to_tensor
from gigagan.io import checkpoint_directory
from gigagan.models import Generator
from gigagan.nn import image_pyramid, laplacian_bands


def _show(images: list[torch.Tensor], size: int, band_gain: float | None = None) -> list[torch.Tensor]:
    """[-1, 1] images (or bands, with a gain) as [0, 1] pictures of `size` pixels."""
    shown = []
    for image in images:
        picture = 0.5 + band_gain * image if band_gain is not None else (image + 1) / 2
        shown.append(F.interpolate(picture.clamp(0, 1), size=(size, size), mode="nearest"))
    return shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, help="a run folder or its latest/ checkpoint")
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--band-gain", type=float, default=2.0)
    parser.add_argument("--out", type=Path, default=Path("pyramid.png"))
    args = parser.parse_args()

    generator = Generator.from_pretrained(checkpoint_directory(args.checkpoint)).eval()
    prompts = heldout_prompts(args.prompts, seed=args.seed)
    captions = [caption for caption, _ in prompts]
    resolution = generator.config.resolution
    with torch.no_grad():
        z = torch.randn(len(captions), generator.config.z_dim, generator=torch.Generator().manual_seed(args.seed))
        fake = [level.clamp(-1, 1) for level in generator(z, generator.tokenize(captions), noise_mode="const")]
    real_images = torch.stack([to_tensor(render(attributes, resolution)) for _, attributes in prompts])
    real = image_pyramid(real_images, len(fake))
    columns = (
        _show(fake, resolution)
        + _show(laplacian_bands(fake), resolution, args.band_gain)
        + _show(real, resolution)
        + _show(laplacian_bands(real), resolution, args.band_gain)
    )
    grid = torch.stack(columns, dim=1).flatten(0, 1)  # rows = prompts
    save_image(grid, args.out, nrow=len(columns), padding=1)
    for index, caption in enumerate(captions):
        print(f"row {index}: {caption}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
