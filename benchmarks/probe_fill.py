"""Does the trained discriminator prefer G's striped objects to cleanly filled ones?

Loads a training checkpoint (generator, EMA generator and discriminator) and, for held-out `shapes`
prompts, shows D four pictures per prompt, each as the pyramid downsampled from the picture:

- `G picture`: the generator's image (what the verifier and users see);
- `G 16x16, upsampled`: the generator's 16x16 level brought back to full size (bilinear): the same
  object without the finest toRGB output, so filled but soft;
- `real`: the real render of the prompt;
- `real, softened`: the real render through the same 32 -> 16 -> 32 round trip.

It prints D's mean logit per output depth (under the prompt's caption) and the verifier's reading
of each picture. If D scores the striped G picture above the filled one, D itself asks for the
stripes; if below, D asks for the fill and G does not follow.

    .venv/bin/python benchmarks/probe_fill.py /tmp/exp/runY5 --prompts 128
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

from _bench_common import write_result
from gigagan.data.shapes import heldout_prompts, render, to_tensor
from gigagan.data.shapes_verifier import ATTRIBUTES, attribute_accuracy
from gigagan.io import checkpoint_directory
from gigagan.models import Discriminator, Generator
from gigagan.nn import downsample2x, image_pyramid


def soften(images: torch.Tensor) -> torch.Tensor:
    """Down to half size (antialiased) and back up (bilinear)."""
    return F.interpolate(downsample2x(images), size=images.shape[-2:], mode="bilinear", align_corners=False)


@torch.no_grad()
def depth_logits(discriminator: Discriminator, generator: Generator, images: torch.Tensor, captions: list[str]) -> list:
    """D's mean logit per output depth (over all predictions ending there and all images)."""
    features = generator.text_encoder.clip(generator.tokenize(captions))
    out = discriminator(image_pyramid(images, discriminator.num_levels), features, use_vision_aided=False)
    per_depth: dict[int, list[float]] = {}
    for (_, depth), logits in zip(out.pairs, out.multiscale):
        per_depth.setdefault(depth, []).append(float(logits.mean()))
    return [sum(v) / len(v) for _, v in sorted(per_depth.items())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, help="a run folder (its latest checkpoint) or a checkpoint folder")
    parser.add_argument("--prompts", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights", choices=("generator_ema", "generator"), default="generator")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    directory = checkpoint_directory(args.checkpoint)
    generator = Generator.from_pretrained(directory, weights_name=f"{args.weights}.safetensors").eval()
    discriminator = Discriminator.from_pretrained(directory).eval()
    prompts = heldout_prompts(args.prompts, seed=args.seed)
    captions = [text for text, _ in prompts]
    attributes = [attrs for _, attrs in prompts]
    resolution = generator.config.resolution

    noise = torch.Generator().manual_seed(args.seed)
    with torch.no_grad():  # one pass gives both the picture and the 16x16 level, for the same z
        z = torch.randn(len(captions), generator.config.z_dim, generator=noise)
        pyramid = generator(z, generator.tokenize(captions), noise_mode="const")
    picture, level16 = pyramid[0].clamp(-1, 1), pyramid[1].clamp(-1, 1)
    real = torch.stack([to_tensor(render(attrs, resolution)) for attrs in attributes])
    variants = {
        "G picture": picture,
        "G 16x16, upsampled": F.interpolate(level16, size=picture.shape[-2:], mode="bilinear", align_corners=False),
        "real": real,
        "real, softened": soften(real),
    }
    rows = {}
    for name, images in variants.items():
        rows[name] = {
            "logits_per_depth": depth_logits(discriminator, generator, images, captions),
            "verifier": attribute_accuracy(images, attributes),
        }
    depths = len(next(iter(rows.values()))["logits_per_depth"])
    header = f"{'picture':<20}" + "".join(f"{'D depth ' + str(d):>11}" for d in range(depths))
    print(f"{directory} ({args.weights}), {args.prompts} held-out prompts")
    print(header + "".join(f"{a:>11}" for a in (*ATTRIBUTES, "all")))
    for name, row in rows.items():
        logits = "".join(f"{x:>11.2f}" for x in row["logits_per_depth"])
        print(f"{name:<20}" + logits + "".join(f"{row['verifier'][a]:>11.2f}" for a in (*ATTRIBUTES, "all")))
    if args.json is not None:
        write_result(args.json, {"checkpoint": str(directory), "prompts": args.prompts, "rows": rows})


if __name__ == "__main__":
    main()
