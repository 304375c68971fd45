"""Score a training checkpoint's raw and EMA generators on held-out (or training) `shapes` prompts.

Tells whether an artefact in the samples (benchmarks and the demo draw from the EMA generator) is
the EMA's or the generator's own: both are read back by the shapes verifier on the same prompts and
z, and an optional grid shows the first 32 prompts of each side by side.

    .venv/bin/python benchmarks/score_checkpoint.py runs/demo --prompts 256 --grid /tmp/ema_vs_raw.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from _bench_common import write_result
from bench_quickstart import sample_images
from gigagan.data.shapes import HALF_SIZE, SHAPES, SIZES, caption, heldout_prompts, sample_attributes
from gigagan.data.shapes_verifier import ATTRIBUTES, attribute_accuracy, verify
from gigagan.io import checkpoint_directory
from gigagan.models import Generator

WEIGHTS = {"ema": "generator_ema.safetensors", "raw": "generator.safetensors"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, help="a run folder (its latest checkpoint) or a checkpoint folder")
    parser.add_argument("--prompts", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--split",
        choices=("heldout", "train"),
        default="heldout",
        help="held-out prompts (unseen shape/colour/background triples) or training-split prompts",
    )
    parser.add_argument("--grid", type=Path, default=None, help="PNG: 32 prompts, EMA row above raw row")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--size-breakdown",
        action="store_true",
        help="per shape and asked size: how often the EMA's object reads small / large, and its read scale",
    )
    args = parser.parse_args()

    directory = checkpoint_directory(args.checkpoint)
    if args.split == "heldout":
        prompts = heldout_prompts(args.prompts, seed=args.seed)
    else:
        prompts = [(caption(a), a) for a in (sample_attributes(args.seed + 1, i, "train") for i in range(args.prompts))]
    attributes = [attrs for _, attrs in prompts]
    scores, images = {}, {}
    for name, weights in WEIGHTS.items():
        generator = Generator.from_pretrained(directory, weights_name=weights).eval()
        images[name] = sample_images(generator, prompts, args.seed)
        scores[name] = attribute_accuracy(images[name], attributes)
    print(f"{directory}, {args.prompts} {args.split} prompts")
    print(f"{'generator':<10}" + "".join(f"{a:>12}" for a in (*ATTRIBUTES, "all")))
    for name, table in scores.items():
        print(f"{name:<10}" + "".join(f"{table[a]:>12.2f}" for a in (*ATTRIBUTES, "all")))
    if args.size_breakdown:
        print_size_breakdown(images["ema"], attributes)
    if args.grid is not None:
        from torchvision.utils import save_image

        rows = [images[name][:32].view(4, 8, *images[name].shape[1:]) for name in WEIGHTS]
        grid = torch.stack(rows, dim=1).flatten(0, 2)  # per block of 8 prompts: EMA row, raw row
        save_image((grid + 1) / 2, args.grid, nrow=8, padding=1)
        print(f"wrote {args.grid}")
    if args.json is not None:
        write_result(
            args.json, {"checkpoint": str(directory), "prompts": args.prompts, "split": args.split, "scores": scores}
        )


def print_size_breakdown(images: torch.Tensor, attributes: list) -> None:
    """Asked size x shape: the count read small / large and the mean read half-size relative to the
    asked size's nominal one (1.0 = as the data draws it; the small/large threshold sits at 1.35 for
    small and 0.79 for large)."""
    read = [verify(image) for image in images]
    print(f"\n{'asked':<8}{'shape':<10}{'n':>5}{'read small':>12}{'read large':>12}{'read scale':>12}")
    for size in SIZES:
        for shape in SHAPES:
            rows = [(r, a) for r, a in zip(read, attributes) if a.size == size and a.shape == shape]
            if not rows:
                continue
            small = sum(r.size == "small" for r, _ in rows)
            scale = sum(r.scale * HALF_SIZE[r.size] / HALF_SIZE[size] for r, _ in rows) / len(rows)
            print(f"{size:<8}{shape:<10}{len(rows):>5}{small:>12}{len(rows) - small:>12}{scale:>12.2f}")


if __name__ == "__main__":
    main()
