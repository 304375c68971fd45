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
from gigagan.data.shapes import caption, heldout_prompts, sample_attributes
from gigagan.data.shapes_verifier import ATTRIBUTES, attribute_accuracy
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


if __name__ == "__main__":
    main()
