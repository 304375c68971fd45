"""Train the `quickstart` preset on the built-in `shapes` data for a wall-clock budget, then score
EMA samples for held-out compositional prompts (attribute combinations never seen in training)
with the shapes verifier.

The floor is the same images scored against shuffled prompts: what an image that ignores its
caption would get. Prints a table and writes JSON.

    .venv/bin/python benchmarks/bench_quickstart.py --minutes 15
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from _bench_common import write_result
from gigagan import get_preset
from gigagan.config import config_to_dict, preset_training
from gigagan.data.shapes import attribute_accuracy, heldout_prompts
from gigagan.training import Trainer


def evaluate(generator: torch.nn.Module, count: int, seed: int, batch_size: int = 64) -> dict[str, dict[str, float]]:
    prompts = heldout_prompts(count, seed=seed)
    captions = [caption for caption, _ in prompts]
    attributes = [attrs for _, attrs in prompts]
    images = []
    noise = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for start in range(0, count, batch_size):
            chunk = captions[start : start + batch_size]
            z = torch.randn(len(chunk), generator.config.z_dim, generator=noise)
            images.append(generator(z, generator.tokenize(chunk), noise_mode="const")[0].clamp(-1, 1))
    images_tensor = torch.cat(images)
    shuffled = torch.randperm(count, generator=torch.Generator().manual_seed(seed + 1)).tolist()
    return {
        "heldout": attribute_accuracy(images_tensor, attributes),
        "shuffled_floor": attribute_accuracy(images_tensor, [attributes[i] for i in shuffled]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=15.0, help="training wall-clock budget")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the preset's")
    parser.add_argument("--samples", type=int, default=512, help="held-out prompts to score")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--curve-every", type=float, default=5.0, help="minutes between learning-curve points")
    parser.add_argument("--curve-samples", type=int, default=256, help="held-out prompts per curve point")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-quickstart"))
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/bench_quickstart.json"))
    args = parser.parse_args()

    torch.set_num_threads(max(1, torch.get_num_threads()))
    overrides = {
        "data": "shapes",
        "max_steps": 10**9,
        "max_minutes": args.minutes,
        "seed": args.seed,
        "sample_every": 200,
        "checkpoint_every": 200,
        "log_every": 10,
    }
    if args.batch_size is not None:
        overrides["batch_size"] = args.batch_size
    config = preset_training("quickstart", overrides)  # the preset's own training settings, as `gigagan train`
    started = time.perf_counter()
    trainer = Trainer(get_preset("quickstart"), config, args.out, progress=True)
    # held-out accuracy of the EMA G every --curve-every minutes (a few seconds each, inside the budget)
    curve: list[dict] = []

    def on_step(step: int, stats: dict[str, float]) -> None:
        elapsed = time.perf_counter() - started
        if elapsed < (len(curve) + 1) * args.curve_every * 60:
            return
        point = evaluate(trainer.ema.model.eval(), args.curve_samples, args.seed)["heldout"]
        curve.append({"minutes": elapsed / 60, "step": step, "images_seen": trainer.images_seen, **point})
        tqdm.write(f"  {elapsed / 60:5.1f} min, step {step}: " + ", ".join(f"{k} {v:.2f}" for k, v in point.items()))

    trainer.on_step = on_step
    result = trainer.run()
    train_seconds = time.perf_counter() - started
    scores = evaluate(trainer.ema.model.eval(), args.samples, args.seed)

    attributes = [k for k in scores["heldout"] if k != "all"] + ["all"]
    print(f"\nquickstart on shapes: {result.step} steps, {result.images_seen} images, {train_seconds / 60:.1f} min")
    print(f"{'attribute':<12} {'held-out':>9} {'floor':>9}")
    for name in attributes:
        print(f"{name:<12} {scores['heldout'][name]:>9.3f} {scores['shuffled_floor'][name]:>9.3f}")
    payload = {
        "preset": "quickstart",
        "minutes_budget": args.minutes,
        "train_seconds": train_seconds,
        "steps": result.step,
        "images_seen": result.images_seen,
        "batch_size": config.batch_size,
        "training": config_to_dict(config),
        "samples_scored": args.samples,
        "scores": scores,
        "curve": curve,
    }
    write_result(args.json, payload)


if __name__ == "__main__":
    main()
