"""CIFAR-10, three GANs side by side: our `cifar10-small` preset, the peer `gigagan-pytorch==0.3.0`
(its own trainer, in the benchmark venv `.bench-venv`) and the class-conditional reference DCGAN of
`reference_cifar10.py`. Each trains alone on the machine for the same wall-clock budget on the
training split (captions "a photo of a {class}"; the reference reads the class label), then writes
N samples in equal shares per class, and all three are scored by the same code at the same N
against the test split: FID, KID, precision/recall and intra-class FID, next to the real-vs-real
floor at that N (N training images against the same N test images). Prints a table, writes JSON
and one per-class sample grid per model (a row per class).

    .venv/bin/python benchmarks/bench_cifar10.py --minutes 60 --num-images 2000 --grid-dir docs/cifar10
    .venv/bin/python benchmarks/bench_cifar10.py --minutes 1 --num-images 100 --models ours,reference   # smoke run
    .venv/bin/python benchmarks/bench_cifar10.py --minutes 180 --models ours --train-set keep_checkpoints=0  # long run
    .venv/bin/python benchmarks/bench_cifar10.py --curve --json benchmarks/results/curve.json  # its checkpoints' FIDs

`--score-only` rescores the samples a previous run left in `--out` (scoring is the slow part on a
CPU: the Inception network reads a few images per second per core; the test and training features
are cached in `OUT/fid-stats`). The data is `../shared/data/cifar10-jpg.tar.gz` (see
`benchmarks/cifar10_data.py`). FID is biased upward at small N: compare a model only with the
floor and the other models at the same N; KID is unbiased.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from _bench_common import write_result
from cifar10_data import DEFAULT_TARBALL, cifar10_folders
from gigagan import get_preset
from gigagan.config import config_to_dict, preset_training, with_overrides
from gigagan.metrics import EvalSettings, evaluate_folders
from gigagan.metrics.evaluate import generated_batches
from gigagan.models import Generator
from gigagan.models.summary import count_parameters
from gigagan.training import Trainer
from reference_cifar10 import SAMPLE_STATISTICS, balanced_labels, class_grid, class_names, write_fakes
from reference_cifar10 import run as run_reference
from reference_gan import nested_overrides

CAPTION_TEMPLATE = "a photo of a {label}"
METRICS = "fid,kid,pr,intra_fid"
MODELS = ("ours", "reference", "peer")
ROOT = Path(__file__).resolve().parents[1]
PEER_PYTHON = ROOT / ".bench-venv" / "bin" / "python"
PEER_INSTALL = "benchmarks/README.md says how to make it with gigagan-pytorch==0.3.0"


def train_ours(args: argparse.Namespace, train_folder: Path, out: Path) -> dict[str, Any]:
    """Our preset through the product's own Trainer, then its EMA generator's samples."""
    overrides: dict[str, Any] = {
        "data": str(train_folder),
        "caption_template": CAPTION_TEMPLATE,
        "max_steps": args.steps or 10**9,
        "max_minutes": None if args.steps else args.minutes,
        "seed": args.seed,
        "sample_every": 10**9,
        "checkpoint_every": 2000,
    }
    if args.batch_size is not None:
        overrides["batch_size"] = args.batch_size
    config = preset_training(args.preset, nested_overrides(args.train_set) | overrides)
    model_config = with_overrides(get_preset(args.preset), nested_overrides(args.model_set))
    started = time.perf_counter()
    trainer = Trainer(model_config, config, out / "run", progress=args.progress)
    result = trainer.run()
    train_seconds = time.perf_counter() - started

    started = time.perf_counter()
    write_our_samples(trainer.ema.model.eval(), class_names(train_folder), args.num_images, args.seed, out)
    return {
        "model": f"gigagan {args.preset}",
        "steps": result.step,
        "images_seen": result.images_seen,
        "batch_size": config.batch_size,
        "train_seconds": train_seconds,
        "generate_seconds": time.perf_counter() - started,
        "params_g": count_parameters(trainer.generator),
        "params_d": count_parameters(trainer.discriminator),
        "training": config_to_dict(config),
        "model_config": config_to_dict(model_config),
    }


def write_our_samples(generator: Generator, classes: list[str], num_images: int, seed: int, out: Path) -> None:
    """`num_images` samples in equal shares per class as OUT/fakes/<class>/*.png, and OUT/grid.png."""
    labels = balanced_labels(num_images, len(classes))
    captions = [CAPTION_TEMPLATE.format(label=classes[label]) for label in labels.tolist()]
    batches = generated_batches(generator, captions, len(captions), 250, seed)
    pixels = np.concatenate([images.permute(0, 2, 3, 1).numpy() for images, _ in batches])
    write_fakes(pixels, labels, classes, out / "fakes")
    class_grid(pixels, labels, len(classes)).save(out / "grid.png")


def eval_settings(args: argparse.Namespace) -> EvalSettings:
    """Scoring settings: the run's seed, real features cached in --stats-dir (default OUT/fid-stats)."""
    return EvalSettings(seed=args.seed, cache_dir=args.stats_dir or args.out / "fid-stats")


def score_curve(args: argparse.Namespace, train_folder: Path, test_folder: Path) -> None:
    """FID and intra-class FID of every checkpoint our run kept (OUT/ours/run/checkpoints), EMA G."""
    checkpoints = sorted((args.out / "ours" / "run" / "checkpoints").glob("step-*"))
    if not checkpoints:
        raise SystemExit(f"no checkpoints under {args.out / 'ours' / 'run' / 'checkpoints'}")
    settings = eval_settings(args)
    curve = []
    for checkpoint in checkpoints:
        out = args.out / "curve" / checkpoint.name
        write_our_samples(
            Generator.from_pretrained(checkpoint), class_names(train_folder), args.num_images, args.seed, out
        )
        metrics = evaluate_folders(test_folder, out / "fakes", "fid,intra_fid", args.num_images, settings).metrics
        step = int(checkpoint.name.removeprefix("step-"))
        curve.append({"step": step, **metrics})
        print(f"step {step:>7}: FID {metrics['fid']:.2f}, intra-class FID {metrics['intra_fid']:.2f}", flush=True)
    write_result(
        args.json,
        {"num_images": args.num_images, "curve": curve, "command": " ".join([Path(sys.executable).name, *sys.argv])},
    )


def train_peer(args: argparse.Namespace, train_folder: Path, out: Path) -> dict[str, Any]:
    """The peer's worker in its own venv; its summary is the last line it prints."""
    if not PEER_PYTHON.exists():
        raise SystemExit(f"the peer needs the benchmark venv {PEER_PYTHON.parent.parent} ({PEER_INSTALL})")
    command = [
        str(PEER_PYTHON),
        str(ROOT / "benchmarks" / "_peer_cifar10.py"),
        "--minutes",
        str(args.minutes),
        "--num-images",
        str(args.num_images),
        "--out",
        str(out),
        "--seed",
        str(args.seed),
        "--threads",
        str(args.threads),
        "--tarball",
        str(args.tarball),
        "--grid",
        str(out / "grid.png"),
        *args.peer_arg,
    ]
    environment = {**os.environ, "HF_HUB_OFFLINE": "1"}  # the worker's own folder is on its sys.path
    finished = subprocess.run(command, env=environment, stdout=subprocess.PIPE, text=True, check=False)
    lines = [line for line in finished.stdout.splitlines() if line.strip()]
    if finished.returncode != 0 or not lines:
        raise SystemExit(f"the peer worker failed (exit {finished.returncode}): {' '.join(command)}")
    return {"model": "gigagan-pytorch 0.3.0", **json.loads(lines[-1])}


def train(name: str, args: argparse.Namespace, train_folder: Path, out: Path) -> dict[str, Any]:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    budget = f"{args.steps} steps" if name == "ours" and args.steps else f"{args.minutes:g} minutes"
    print(f"\n== {name}: training for {budget}", flush=True)
    if name == "ours":
        summary = train_ours(args, train_folder, out)
    elif name == "reference":
        torch.set_num_threads(args.threads)
        summary = run_reference(
            train_folder, args.minutes, args.num_images, out, args.seed, args.reference_statistics, True
        )
    else:
        summary = train_peer(args, train_folder, out)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0, help="training wall-clock budget of each model")
    parser.add_argument("--num-images", type=int, default=2000, help="samples per model (and real images) scored")
    parser.add_argument("--models", default=",".join(MODELS), help=f"which of {', '.join(MODELS)}")
    parser.add_argument("--preset", default="cifar10-small", help="our preset")
    parser.add_argument("--batch-size", type=int, default=None, help="our training batch (default: the preset's)")
    parser.add_argument("--steps", type=int, default=None, help="train ours for this many steps instead of --minutes")
    parser.add_argument(
        "--train-set", action="append", default=[], metavar="FIELD=JSON", help="override one of our training settings"
    )
    parser.add_argument(
        "--model-set", action="append", default=[], metavar="FIELD=JSON", help="override one of our model settings"
    )
    parser.add_argument("--peer-arg", action="append", default=[], help="extra argument for _peer_cifar10.py")
    parser.add_argument(
        "--reference-statistics",
        choices=SAMPLE_STATISTICS,
        default="running",
        help="the reference G's batch-norm statistics for the scored samples (the other mode's go to fakes-<mode>)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads of the reference and the peer")
    parser.add_argument("--tarball", type=Path, default=DEFAULT_TARBALL)
    parser.add_argument("--out", type=Path, default=Path("runs/bench-cifar10"))
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/bench_cifar10.json"))
    parser.add_argument("--grid-dir", type=Path, default=None, help="copy each model's per-class grid here")
    parser.add_argument("--stats-dir", type=Path, default=None, help="feature cache (default: OUT/fid-stats)")
    parser.add_argument("--score-only", action="store_true", help="score the samples already in --out")
    parser.add_argument("--no-floor", action="store_true", help="skip the real-vs-real floor")
    parser.add_argument(
        "--curve", action="store_true", help="score every checkpoint our run in --out kept (FID, intra-class FID)"
    )
    parser.add_argument("--progress", action="store_true", help="our trainer's progress bar")
    args = parser.parse_args()
    models = [name.strip() for name in args.models.split(",") if name.strip()]
    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")

    train_folder, test_folder = cifar10_folders(args.tarball)
    if args.curve:
        score_curve(args, train_folder, test_folder)
        return
    summaries: dict[str, dict[str, Any]] = {}
    for name in models:
        out = args.out / name
        if args.score_only:
            summaries[name] = json.loads((out / "summary.json").read_text())
        else:
            summaries[name] = train(name, args, train_folder, out)
        if args.grid_dir is not None:
            args.grid_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out / "grid.png", args.grid_dir / f"{name}.png")

    settings = eval_settings(args)
    scores: dict[str, dict[str, float]] = {}
    started = time.perf_counter()
    if not args.no_floor:
        print("\n== scoring: real vs real floor", flush=True)
        scores["real vs real"] = evaluate_folders(test_folder, train_folder, METRICS, args.num_images, settings).metrics
    for name in models:
        print(f"\n== scoring: {name}", flush=True)
        fakes = args.out / name / "fakes"
        scores[name] = evaluate_folders(test_folder, fakes, METRICS, args.num_images, settings).metrics
    eval_seconds = time.perf_counter() - started

    print(f"\nCIFAR-10, {args.minutes:g} minutes of training each, N = {args.num_images} (test split as the reals)")
    columns = list(scores)
    print(f"{'':<22}" + "".join(f"{column:>16}" for column in columns))
    rows = [("steps", "steps"), ("images seen", "images_seen"), ("params G", "params_g"), ("params D", "params_d")]
    for label, key in rows:
        cells = [summaries.get(column, {}).get(key, "") for column in columns]
        print(f"{label:<22}" + "".join(f"{cell:>16}" for cell in cells))
    for metric in scores[columns[0]]:
        print(f"{metric:<22}" + "".join(f"{scores[column].get(metric, float('nan')):>16.4f}" for column in columns))
    write_result(
        args.json,
        {
            "minutes_budget": args.minutes,
            "num_images": args.num_images,
            "metrics": scores,
            "models": summaries,
            "eval_seconds": eval_seconds,
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
        },
    )


if __name__ == "__main__":
    main()
