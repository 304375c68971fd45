"""Train small upsamplers for a wall-clock budget each and compare them with bicubic and Lanczos.

Tasks:
- `cifar10`: CIFAR-10 8 -> 32 px (4x), class captions "a photo of a {label}", from the shared
  tarball (`benchmarks/cifar10_data.py` extracts it once); evaluated on the test split.
- `shapes`: the built-in captioned shapes, 16 -> 128 px (8x); evaluated on the held-out split.

The networks are `upsampler-tiny` widened a little (`small_upsampler`). Low-resolution inputs for
evaluation are the real images downsampled with antialiased bicubic and saved as 8-bit (what a
low-res file would hold); every method upsamples those same inputs. Scores on 8-bit outputs: PSNR
(dB, mean over images, higher is better) and FID (clean-fid Inception features of the outputs vs the
real high-resolution images, lower is better; a small-sample FID, biased upwards, but comparable
between methods on the same images). The Inception network takes about 1.5 s per image on one CPU
thread (4 x `--eval-images` images per task), so on a CPU use a GPU run or `--no-fid` for quick looks.

    .venv/bin/python benchmarks/bench_upsampler.py --minutes 10
    .venv/bin/python benchmarks/bench_upsampler.py --minutes 3 --tasks shapes --eval-images 64 --no-fid   # smoke
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from gigagan.config.upsampler import UpsamplerModelConfig, get_upsampler_preset
from gigagan.data import build_dataset
from gigagan.training.degrade import make_low_res, sample_rng
from gigagan.training.distributed import DistributedContext, init_distributed
from gigagan.training.upsampler import UpsamplerTrainConfig, UpsamplerTrainer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench_common import write_result
from cifar10_data import cifar10_folders

CIFAR_CAPTIONS = "a photo of a {label}"


def small_upsampler(input_resolution: int, scale_factor: int, width: int = 64) -> UpsamplerModelConfig:
    """`upsampler-tiny` at another input size and scale, `width` channels at the bottleneck."""
    config = get_upsampler_preset("upsampler-tiny")
    levels = 2 + int(math.log2(scale_factor))  # bottleneck (input / 2), input, then one per octave
    channels = [max(8, width >> max(0, i - 1)) for i in range(levels)]
    upsampler = dataclasses.replace(
        config.upsampler,
        input_resolution=input_resolution,
        scale_factor=scale_factor,
        encoder_channels=[width // 2, width],
        channels=channels,
        blocks=[1] * levels,
        kernels=[2, 2] + [1] * (levels - 2),
        attention=[True] + [False] * (levels - 1),
    )
    discriminator = dataclasses.replace(
        config.discriminator,
        resolution=input_resolution * scale_factor,
        channels=channels,
        blocks=[1] * levels,
        attention=[False] * levels,
    )
    model = UpsamplerModelConfig(upsampler, discriminator)
    model.validate()
    return model


def task_settings(name: str) -> dict[str, Any]:
    if name == "cifar10":
        train, test = cifar10_folders()
        return {
            "model": small_upsampler(8, 4),
            "data": str(train),
            "test": str(test),
            "caption_template": CIFAR_CAPTIONS,
        }
    if name == "shapes":
        return {"model": small_upsampler(16, 8), "data": "shapes", "test": "shapes:heldout", "caption_template": None}
    raise SystemExit(f"unknown task {name!r}")


def evaluation_set(settings: dict[str, Any], count: int) -> tuple[torch.Tensor, list[str]]:
    """`count` real high-res images [N, 3, R, R] in [-1, 1] spread over the test split, with captions."""
    resolution = settings["model"].upsampler.output_resolution
    dataset = build_dataset(settings["test"], resolution, seed=1, caption_template=settings["caption_template"])
    indices = np.linspace(0, len(dataset) - 1, num=min(count, len(dataset))).round().astype(int)
    items = [dataset[int(i)] for i in indices]
    return torch.stack([item["image"] for item in items]), [str(item["caption"]) for item in items]


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[N, 3, H, W] in [-1, 1] -> uint8 [N, H, W, 3]."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def pil_upsample(low: np.ndarray, size: int, method: Image.Resampling) -> np.ndarray:
    return np.stack([np.asarray(Image.fromarray(image).resize((size, size), method)) for image in low])


@torch.no_grad()
def model_upsample(model: torch.nn.Module, low: np.ndarray, captions: list[str], batch_size: int = 64) -> np.ndarray:
    device = next(model.parameters()).device
    inputs = torch.from_numpy(low).permute(0, 3, 1, 2).float() / 127.5 - 1
    outputs = []
    for start in range(0, len(inputs), batch_size):
        chunk = inputs[start : start + batch_size].to(device)
        seeds = range(start, start + len(chunk))
        z = torch.stack([torch.randn(model.config.z_dim, generator=torch.Generator().manual_seed(s)) for s in seeds])
        tokens = model.tokenize(captions[start : start + len(chunk)])
        outputs.append(to_uint8(model(chunk, z.to(device), tokens, noise_mode="const")[0].float()))
    return np.concatenate(outputs)


def psnr(outputs: np.ndarray, reference: np.ndarray) -> float:
    """Mean over images of the PSNR (dB) of 8-bit outputs against 8-bit references."""
    error = (outputs.astype(np.float64) - reference.astype(np.float64)) ** 2
    mse = np.maximum(error.reshape(len(error), -1).mean(axis=1), 1e-10)
    return float(np.mean(10 * np.log10(255.0**2 / mse)))


def fid_scorer(device: torch.device) -> Any:
    """A function (outputs, reference) -> FID, or None (with the reason printed) where it is unavailable."""
    try:
        from gigagan.metrics import InceptionFeatures, feature_fid

        network = InceptionFeatures().to(device)
    except Exception as error:  # the metrics package or its Inception weights are missing
        print(f"FID unavailable: {type(error).__name__}: {error}")
        return None

    def features(images: np.ndarray) -> np.ndarray:
        batches = [torch.from_numpy(images[i : i + 50]).permute(0, 3, 1, 2) for i in range(0, len(images), 50)]
        with torch.no_grad():
            return torch.cat([network(batch).cpu() for batch in batches]).double().numpy()

    cache: dict[int, np.ndarray] = {}

    def score(outputs: np.ndarray, reference: np.ndarray) -> float:
        if id(reference) not in cache:
            cache[id(reference)] = features(reference)
        return float(feature_fid(features(outputs), cache[id(reference)]))

    return score


def run_task(name: str, args: argparse.Namespace, context: DistributedContext) -> dict[str, Any]:
    settings = task_settings(name)
    model_config: UpsamplerModelConfig = settings["model"]
    config = UpsamplerTrainConfig(
        data=settings["data"],
        caption_template=settings["caption_template"],
        batch_size=args.batch_size,
        max_steps=10**9,
        max_minutes=args.minutes,
        seed=args.seed,
        sample_every=500,
        checkpoint_every=500,
        log_every=20,
        input_noise=(0.0, 0.02),
    )
    started = time.perf_counter()
    trainer = UpsamplerTrainer(model_config, config, args.runs / name, context=context, progress=True)
    result = trainer.run()
    train_seconds = time.perf_counter() - started

    real, captions = evaluation_set(settings, args.eval_images)
    input_size = model_config.upsampler.input_resolution
    rngs = [sample_rng(args.seed, 0, row) for row in range(len(real))]
    low = to_uint8(make_low_res(real, input_size, rngs))
    reference = to_uint8(real)
    size = real.shape[-1]
    outputs = {
        "upsampler": model_upsample(trainer.ema.model.eval(), low, captions),
        "bicubic": pil_upsample(low, size, Image.Resampling.BICUBIC),
        "lanczos": pil_upsample(low, size, Image.Resampling.LANCZOS),
    }
    scores: dict[str, dict[str, float | None]] = {m: {"psnr": psnr(o, reference)} for m, o in outputs.items()}
    fid = fid_scorer(context.device) if args.fid else None
    for method, images in outputs.items():
        scores[method]["fid"] = fid(images, reference) if fid is not None else None
    return {
        "task": f"{name} {input_size}->{size} ({size // input_size}x)",
        "upsampler_params": sum(p.numel() for p in trainer.generator.parameters() if p.requires_grad),
        "train_seconds": train_seconds,
        "steps": result.step,
        "images_seen": result.images_seen,
        "eval_images": len(real),
        "scores": scores,
        "fid_note": None if fid is not None else "FID not computed (--no-fid or gigagan.metrics unavailable)",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="training wall-clock budget per task")
    parser.add_argument("--tasks", default="cifar10,shapes", help="comma-separated: cifar10, shapes")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--eval-images", type=int, default=500, help="test images scored per task")
    parser.add_argument("--fid", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--runs", type=Path, default=Path("runs/bench-upsampler"))
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/bench_upsampler.json"))
    args = parser.parse_args()

    context = init_distributed(args.device)
    results = []
    for name in [t.strip() for t in args.tasks.split(",") if t.strip()]:
        results.append(run_task(name, args, context))
        task = results[-1]
        minutes = task["train_seconds"] / 60
        print(f"\n{task['task']}: {task['steps']} steps, {task['images_seen']} images, {minutes:.1f} min")
        print(f"{'method':<10} {'PSNR dB':>8} {'FID':>8}")
        for method, score in task["scores"].items():
            fid = f"{score['fid']:.2f}" if score["fid"] is not None else "n/a"
            print(f"{method:<10} {score['psnr']:>8.2f} {fid:>8}")
    payload = {
        "minutes_budget_per_task": args.minutes,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "device": str(context.device),
        "results": results,
    }
    write_result(args.json, payload)


if __name__ == "__main__":
    main()
