"""How much do a trained generator's seeds differ within one caption? A diagnostic for the
within-class collapse on CIFAR-10.

For each class caption ("a photo of a {class}") the generator draws `--seeds` images from different z
(constant noise); the spread is the mean over pixels of the standard deviation across seeds, in
[0, 1] pixel units, reported for the EMA generator, the raw generator and a freshly initialised one
of the same config, next to the same statistic over as many real training images of that class.
The w spread says where z is lost: the standard deviation of w across seeds (one caption) against
the standard deviation of the mean w across captions. The w share says how much of the difference
between two captions' pictures comes through w rather than through the text tokens that G's
cross-attention reads: mean |G(w_a, tokens_b) - G(w_b, tokens_b)| / mean |G(w_a, tokens_a) -
G(w_b, tokens_b)| over pairs of captions (same z).

    .venv/bin/python benchmarks/probe_seed_spread.py runs/bench-cifar10/ours/run/latest
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from _bench_common import write_result
from bench_cifar10 import CAPTION_TEMPLATE
from cifar10_data import DEFAULT_TARBALL, cifar10_folders
from gigagan.metrics.evaluate import seeded_latents
from gigagan.models import Generator
from reference_cifar10 import IMAGE_SUFFIXES, class_names


def seed_spread(images: Tensor) -> float:
    """Mean over pixels of the per-pixel standard deviation across images [N, 3, H, W] in [0, 1]."""
    return float(images.std(dim=0).mean())


@torch.no_grad()
def generator_spreads(generator: Generator, captions: list[str], seeds: int) -> dict[str, float]:
    """Pixel spread across seeds per caption (mean over captions), and the w spreads."""
    generator.eval()
    z = seeded_latents(seeds, 0, generator.config.z_dim, 0)
    pixel, w_within, w_means, drawn = [], [], [], []
    for caption in captions:
        text = generator.encode_text(generator.tokenize([caption] * seeds))
        ws = generator.map(z, text)
        images = generator.synthesis(ws, text.local, text.mask, "const")[0].float().clamp(-1, 1)
        pixel.append(seed_spread((images + 1) / 2))
        w = ws[:, 0].float()
        w_within.append(float(w.std(dim=0).mean()))
        w_means.append(w.mean(dim=0))
        drawn.append((text, ws, images))
    shares = []
    for (_, ws_a, images_a), (text_b, _, images_b) in zip(drawn, drawn[1:] + drawn[:1]):
        crossed = generator.synthesis(ws_a, text_b.local, text_b.mask, "const")[0].float().clamp(-1, 1)
        shares.append(float((crossed - images_b).abs().mean() / (images_a - images_b).abs().mean()))
    return {
        "pixel_spread": float(np.mean(pixel)),
        "w_spread_within_caption": float(np.mean(w_within)),
        "w_spread_across_captions": float(torch.stack(w_means).std(dim=0).mean()),
        "w_share_across_captions": float(np.mean(shares)),
    }


def real_spread(folder: Path, classes: list[str], count: int) -> float:
    """The same pixel spread over the first `count` training images of each class."""
    spreads = []
    for name in classes:
        files = sorted(p for p in (folder / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:count]
        pixels = np.stack([np.asarray(Image.open(p).convert("RGB"), dtype=np.float32) / 255 for p in files])
        spreads.append(seed_spread(torch.from_numpy(pixels).permute(0, 3, 1, 2)))
    return float(np.mean(spreads))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, help="a run's checkpoint directory (config.json + weights)")
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--tarball", type=Path, default=DEFAULT_TARBALL)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    train_folder, _ = cifar10_folders(args.tarball)
    classes = class_names(train_folder)
    captions = [CAPTION_TEMPLATE.format(label=name) for name in classes]
    ema = Generator.from_pretrained(args.checkpoint)
    raw = Generator.from_pretrained(args.checkpoint, "generator.safetensors")
    torch.manual_seed(0)
    rows = {
        "ema": generator_spreads(ema, captions, args.seeds),
        "raw": generator_spreads(raw, captions, args.seeds),
        "init": generator_spreads(Generator(ema.config), captions, args.seeds),
    }
    real = real_spread(train_folder, classes, args.seeds)
    print(f"{'generator':<8}{'pixel spread':>14}{'w within':>12}{'w across':>12}{'w share':>12}   (real: {real:.4f})")
    keys = ("w_spread_within_caption", "w_spread_across_captions", "w_share_across_captions")
    for name, row in rows.items():
        values = "".join(f"{row[key]:>12.4f}" for key in keys)
        print(f"{name:<8}{row['pixel_spread']:>14.4f}{values}")
    if args.json is not None:
        write_result(args.json, {"checkpoint": str(args.checkpoint), "real_pixel_spread": real, **rows})


if __name__ == "__main__":
    main()
