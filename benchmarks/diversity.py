"""Sample diversity of a trained `shapes` model for fixed prompts, next to the real data's.

For each prompt, 64 seeds: the mean absolute pixel difference between pairs of samples (0-1 scale)
and the spread (standard deviation) of the object's centre offset from its grid point as the shapes
verifier reads it; the same two figures for 64 real renders of the prompt (the dataset's own
jitter). A collapsed generator has pixel distance near 0 and no offset spread.

    .venv/bin/python benchmarks/diversity.py --checkpoint runs/demo
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _bench_common import write_result
from bench_quickstart import DIVERSITY_SEEDS, diversity, real_renders, sample_images
from gigagan.data.shapes import heldout_prompts
from gigagan.models import Generator
from gigagan.training.checkpoint import latest_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True, help="run folder or checkpoint")
    parser.add_argument("--prompts", type=int, default=4, help="held-out prompts to measure")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/diversity.json"))
    args = parser.parse_args()

    checkpoint = latest_checkpoint(args.checkpoint) or args.checkpoint  # a run folder or a checkpoint
    generator = Generator.from_pretrained(checkpoint).eval()
    rows = []
    for text, attributes in heldout_prompts(args.prompts, seed=args.seed):
        fake = diversity(sample_images(generator, [(text, attributes)] * DIVERSITY_SEEDS, args.seed))
        real = diversity(real_renders(attributes, DIVERSITY_SEEDS, generator.config.resolution, args.seed))
        rows.append({"prompt": text, "model": fake, "real": real})
        print(
            f"{text}\n  pixel distance: model {fake['pixel_distance']:.4f}, real {real['pixel_distance']:.4f}; "
            f"offset spread: model {fake['offset_std']:.4f}, real {real['offset_std']:.4f}"
        )
    write_result(args.json, {"checkpoint": str(checkpoint), "seeds": DIVERSITY_SEEDS, "prompts": rows})


if __name__ == "__main__":
    main()
