"""Train the `cifar10` preset on the CIFAR-10 training split (captions "a photo of a {class}") for a
wall-clock budget, then score EMA samples against the test split: FID, KID, precision/recall and
intra-class FID on N generated images (one per test caption), next to the real-vs-real floor at the
same N (train images against the same test images). Prints a table and writes JSON.

    .venv/bin/python benchmarks/bench_cifar10.py --minutes 60 --num-images 10000   # the issue's setting
    .venv/bin/python benchmarks/bench_cifar10.py --minutes 5 --num-images 500      # a smoke run

The data is `../shared/data/cifar10-jpg.tar.gz` (see `benchmarks/cifar10_data.py`). FID is biased
upward at small N, so a model is only comparable to the floor printed beside it (same N, same test
subset); KID is unbiased.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from _bench_common import write_result
from cifar10_data import DEFAULT_TARBALL, cifar10_folders
from gigagan import get_preset
from gigagan.config import config_to_dict, preset_training
from gigagan.metrics import EvalSettings, evaluate_folders, evaluate_generator
from gigagan.training import Trainer
from gigagan.training.distributed import DistributedContext, resolve_device

CAPTION_TEMPLATE = "a photo of a {label}"
METRICS = "fid,kid,pr,intra_fid"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0, help="training wall-clock budget")
    parser.add_argument("--num-images", type=int, default=10_000, help="generated (and real) images scored")
    parser.add_argument("--batch-size", type=int, default=None, help="training batch (default: the preset's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tarball", type=Path, default=DEFAULT_TARBALL)
    parser.add_argument("--out", type=Path, default=Path("runs/bench-cifar10"))
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/bench_cifar10.json"))
    args = parser.parse_args()

    train_folder, test_folder = cifar10_folders(args.tarball)
    overrides = {
        "data": str(train_folder),
        "caption_template": CAPTION_TEMPLATE,
        "max_steps": 10**9,
        "max_minutes": args.minutes,
        "seed": args.seed,
        "sample_every": 500,
        "checkpoint_every": 1000,
    }
    if args.batch_size is not None:
        overrides["batch_size"] = args.batch_size
    config = preset_training("cifar10", overrides)
    context = DistributedContext(device=resolve_device(args.device))

    started = time.perf_counter()
    trainer = Trainer(get_preset("cifar10"), config, args.out, context=context)
    result = trainer.run()
    train_seconds = time.perf_counter() - started

    settings = EvalSettings(seed=args.seed, device=args.device, cache_dir=args.out / "fid-stats")
    started = time.perf_counter()
    model = evaluate_generator(
        trainer.ema.model.eval(),
        str(test_folder),
        METRICS,
        args.num_images,
        settings,
        caption_template=CAPTION_TEMPLATE,
    )
    floor = evaluate_folders(train_folder, test_folder, METRICS, args.num_images, settings)
    eval_seconds = time.perf_counter() - started

    print(f"\ncifar10 preset: {result.step} steps, {result.images_seen} images, {train_seconds / 60:.1f} min training")
    print(f"{'metric':<18} {'model':>10} {'real vs real':>13}")
    for name in model.metrics:
        print(f"{name:<18} {model.metrics[name]:>10.4f} {floor.metrics.get(name, float('nan')):>13.4f}")
    payload = {
        "preset": "cifar10",
        "minutes_budget": args.minutes,
        "train_seconds": train_seconds,
        "eval_seconds": eval_seconds,
        "steps": result.step,
        "images_seen": result.images_seen,
        "num_images": args.num_images,
        "model": model.metrics,
        "model_info": model.info,
        "real_vs_real": floor.metrics,
        "real_vs_real_info": floor.info,
        "training": config_to_dict(config),
        "machine": {
            "device": args.device,
            "cuda": torch.cuda.get_device_name() if args.device.startswith("cuda") else None,
        },
    }
    write_result(args.json, payload)


if __name__ == "__main__":
    main()
