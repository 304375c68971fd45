"""Which attributes does a trained `shapes` discriminator check? For real training renders, D's
logit under the true caption minus its logit for the same render with one attribute changed (the
other shapes, another object colour, the other size, another position), per output depth
(0 = finest), and how often D scores the true render above every changed one. A positive gap
means D asks G for that attribute; a gap near 0 means G gets no gradient towards it. For G (the
EMA), how much its picture for a fixed z changes when the caption changes in that attribute alone
(mean absolute pixel difference, 0-1 scale), next to how much the real renders change.

    .venv/bin/python benchmarks/probe_attribute_gaps.py --checkpoint /tmp/runs/F1out/latest
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch
from torchvision.utils import make_grid, save_image

from _bench_common import write_result
from gigagan.data.shapes import COLORS, POSITIONS, SHAPES, SIZES, caption, render, sample_attributes, to_tensor
from gigagan.models import Discriminator, Generator
from gigagan.nn import image_pyramid
from gigagan.training.checkpoint import latest_checkpoint


def alternatives(attributes, name: str) -> list:
    """`attributes` with `name` set to each other allowed value."""
    values = {"shape": SHAPES, "color": COLORS, "size": SIZES, "position": POSITIONS}[name]
    current = getattr(attributes, name)
    forbidden = {current} | ({attributes.background} if name == "color" else set())
    return [dataclasses.replace(attributes, **{name: v}) for v in values if v not in forbidden]


@torch.no_grad()
def depth_logits(discriminator: Discriminator, images: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """[B, depths]: mean logit of every prediction at each output depth."""
    out = discriminator(image_pyramid(images, discriminator.num_levels), t, use_vision_aided=False)
    per_depth: dict[int, list[torch.Tensor]] = {}
    for (_, depth), logits in zip(out.pairs, out.multiscale):
        per_depth.setdefault(depth, []).append(logits.float().mean(dim=1))
    return torch.stack([torch.stack(v).mean(dim=0) for _, v in sorted(per_depth.items())], dim=1)


def renders(items: list, resolution: int) -> torch.Tensor:
    """The real pictures of `items` ([N, 3, R, R] in [-1, 1])."""
    return torch.stack([to_tensor(render(a, resolution)) for a in items])


@torch.no_grad()
def draw(generator: Generator, z: torch.Tensor, items: list) -> torch.Tensor:
    """G's pictures of `items`' captions for the latents `z` (one row each)."""
    return generator(z, generator.tokenize([caption(a) for a in items]), noise_mode="const")[0].clamp(-1, 1)


@torch.no_grad()
def save_shape_grid(generator: Generator, path: Path, seed: int, prompts: int = 6) -> None:
    """Rows of real renders of one prompt in each shape, each followed by G's pictures for them (one z
    per row), upscaled 4x."""
    rows = []
    for i in range(prompts):
        items = [dataclasses.replace(sample_attributes(seed + 1, i), shape=shape) for shape in SHAPES]
        z = torch.randn(1, generator.config.z_dim, generator=torch.Generator().manual_seed(seed + i))
        rows += [renders(items, generator.config.resolution), draw(generator, z.repeat(len(items), 1), items)]
    grid = make_grid(torch.cat(rows) * 0.5 + 0.5, nrow=len(SHAPES), padding=1)
    save_image(torch.nn.functional.interpolate(grid[None], scale_factor=4, mode="nearest")[0], path)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True, help="run folder or checkpoint")
    parser.add_argument("--count", type=int, default=128, help="training renders probed")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--generator-weights", default=None, help="e.g. generator.safetensors for the raw G")
    parser.add_argument(
        "--grid", type=Path, default=None, help="PNG: 6 prompts x 5 shapes, real renders above G's (fixed z per row)"
    )
    args = parser.parse_args()

    checkpoint = latest_checkpoint(args.checkpoint) or args.checkpoint
    generator = Generator.from_pretrained(checkpoint, weights_name=args.generator_weights).eval()
    discriminator = Discriminator.from_pretrained(checkpoint).eval()
    resolution = generator.config.resolution
    attributes = [sample_attributes(args.seed, i) for i in range(args.count)]
    tokens = generator.tokenize([caption(a) for a in attributes])
    with torch.no_grad():
        t = discriminator.encode_text(generator.text_encoder.clip(tokens))
    real = renders(attributes, resolution)
    true_logits = depth_logits(discriminator, real, t)  # [B, depths]
    # G's pictures for one z per item, before and after each caption change (mean absolute change, 0-1)
    z = torch.randn(len(attributes), generator.config.z_dim, generator=torch.Generator().manual_seed(args.seed))
    base_fake = draw(generator, z, attributes)
    rows = {}
    for name in ("shape", "color", "size", "position"):
        changed = [alternatives(a, name) for a in attributes]
        per_item = min(len(c) for c in changed)
        changed_items = [[c[k] for c in changed] for k in range(per_item)]
        changed_real = [renders(items, resolution) for items in changed_items]
        logits = torch.stack([depth_logits(discriminator, images, t) for images in changed_real], dim=1)
        # [B, alternatives, depths]
        fake_change = real_change = 0.0
        for items, images in zip(changed_items, changed_real):
            fake_change += float((draw(generator, z, items) - base_fake).abs().mean()) / 2 / per_item
            real_change += float((images - real).abs().mean()) / 2 / per_item
        gap = true_logits[:, None, :] - logits
        total_true, total_changed = true_logits.mean(dim=1), logits.mean(dim=2)
        rows[name] = {
            "gap_by_depth": [round(float(g), 3) for g in gap.mean(dim=(0, 1))],
            "gap": float(gap.mean()),
            "true_above_all": float((total_true[:, None] > total_changed).all(dim=1).float().mean()),
            "chance": 1.0 / (per_item + 1),
        }
        rows[name] |= {"generator_change": fake_change, "real_change": real_change}
        print(
            f"{name:<9} G change {rows[name]['generator_change']:.3f} (real {rows[name]['real_change']:.3f}); "
            f"D gap by depth {rows[name]['gap_by_depth']}, mean {rows[name]['gap']:+.3f}; "
            f"true scored above all {per_item} changed: {rows[name]['true_above_all']:.2f} "
            f"(chance {rows[name]['chance']:.2f})"
        )
    if args.grid is not None:
        save_shape_grid(generator, args.grid, args.seed)
    if args.json is not None:
        write_result(args.json, {"checkpoint": str(checkpoint), "count": args.count, "attributes": rows})


if __name__ == "__main__":
    main()
