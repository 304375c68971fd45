"""Train the `quickstart` preset on the built-in `shapes` data for a wall-clock budget, then score
EMA samples for held-out compositional prompts (attribute combinations never seen in training)
with the shapes verifier.

The floor is the same images scored against shuffled prompts: what an image that ignores its
caption would get. Prints a table and writes JSON.

    .venv/bin/python benchmarks/bench_quickstart.py --minutes 15

Under torchrun the quickstart model trains data-parallel on every rank (gloo; the global batch is
split over the ranks); rank 0 scores it and then trains the references on all the ranks' threads:

    .venv/bin/torchrun --standalone --nproc_per_node 2 benchmarks/bench_quickstart.py --minutes 15 --batch-size 16
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from _bench_common import write_result
from gigagan import get_preset
from gigagan.config import config_to_dict, preset_training, with_overrides
from gigagan.data.shapes import (
    ShapeAttributes,
    caption,
    free_variation,
    heldout_prompts,
    render,
    sample_attributes,
    to_tensor,
)
from gigagan.data.shapes_verifier import attribute_accuracy, verify
from gigagan.nn import image_pyramid
from gigagan.training import Trainer
from gigagan.training.distributed import init_distributed, shutdown
from reference_gan import ReferenceSettings, ReferenceTrainer, empty_fields, nested_overrides, save_grid


def sample_images(generator: torch.nn.Module, prompts: list, seed: int, batch_size: int = 64) -> torch.Tensor:
    """EMA samples for (caption, attributes) prompts, z drawn from `seed`."""
    captions = [caption for caption, _ in prompts]
    images = []
    noise = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for start in range(0, len(captions), batch_size):
            chunk = captions[start : start + batch_size]
            z = torch.randn(len(chunk), generator.config.z_dim, generator=noise)
            images.append(generator(z, generator.tokenize(chunk), noise_mode="const")[0].clamp(-1, 1))
    return torch.cat(images)


def evaluate(generator: torch.nn.Module, count: int, seed: int) -> dict[str, dict[str, float]]:
    prompts = heldout_prompts(count, seed=seed)
    attributes = [attrs for _, attrs in prompts]
    images_tensor = sample_images(generator, prompts, seed)
    shuffled = torch.randperm(count, generator=torch.Generator().manual_seed(seed + 1)).tolist()
    return {
        "heldout": attribute_accuracy(images_tensor, attributes),
        "shuffled_floor": attribute_accuracy(images_tensor, [attributes[i] for i in shuffled]),
    }


@torch.no_grad()
def object_gap(trainer: Trainer, count: int = 64, seed: int = 7) -> dict[str, float]:
    """What D says about the object: mean logit of real training images minus that of the same
    images with the object painted out (an empty field of the background colour, same caption), per
    output depth (0 = finest). Positive where D asks for the object; the flat-field failure showed
    negative gaps at every depth."""
    attributes = [sample_attributes(seed, i) for i in range(count)]
    resolution = trainer.model_config.generator.resolution
    real = torch.stack([to_tensor(render(a, resolution)) for a in attributes])
    empty = empty_fields(attributes, real)
    discriminator = trainer.discriminator
    tokens = trainer.generator.tokenize([caption(a) for a in attributes])
    t = discriminator.encode_text(trainer.generator.text_encoder.clip(tokens))
    outputs = [
        discriminator(image_pyramid(images, discriminator.num_levels), t, use_vision_aided=False)
        for images in (real, empty)
    ]
    gaps: dict[str, list[float]] = {}
    for (_, depth), a, b in zip(outputs[0].pairs, outputs[0].multiscale, outputs[1].multiscale):
        gaps.setdefault(f"gap_depth{depth}", []).append(float((a.mean(dim=1) - b.mean(dim=1)).mean()))
    return {name: sum(values) / len(values) for name, values in gaps.items()}


def keep_finest_to_coarsest_prediction_only() -> None:
    """Bisection patch (this process only): D returns only its prediction at the coarsest depth from
    the finest pyramid level (every coarsest-depth prediction: the product's loss.predictions="coarsest")."""
    from gigagan.models.discriminator import MultiScaleDiscriminator

    forward = MultiScaleDiscriminator.forward

    def finest_to_coarsest(self, *args, **kwargs):
        out = forward(self, *args, **kwargs)
        keep = [k for k, pair in enumerate(out.pairs) if pair == (0, self.num_levels - 1)]
        out.multiscale = [out.multiscale[k] for k in keep]
        out.mismatched = [out.mismatched[k] for k in keep] if out.mismatched else []
        out.pairs = [out.pairs[k] for k in keep]
        return out

    MultiScaleDiscriminator.forward = finest_to_coarsest


def diversity(images: torch.Tensor) -> dict[str, float]:
    """Spread of pictures drawn for one prompt: mean absolute pixel difference between pairs (0-1
    scale), the standard deviation of the object's centre offset from its grid point as the verifier
    reads it (fraction of the side, mean of x and y), and that of the object's and the background's
    shades it reads (see gigagan.data.shapes.SHADE_JITTER)."""
    flat = (images.flatten(1) + 1) / 2
    pairs = torch.cdist(flat, flat, p=1) / flat.shape[1]
    count = len(images)
    read = [verify(image) for image in images]
    offsets = torch.tensor([[a.offset_x, a.offset_y] for a in read])
    return {
        "pixel_distance": float(pairs.sum() / (count * (count - 1))),
        "offset_std": float(offsets.std(dim=0).mean()),
        "color_shade_std": float(torch.tensor([a.color_shade for a in read]).std()),
        "background_shade_std": float(torch.tensor([a.background_shade for a in read]).std()),
    }


def real_renders(attributes: ShapeAttributes, count: int, resolution: int, seed: int = 0) -> torch.Tensor:
    """`count` renders of one caption with the dataset's own free variation (the real data's diversity)."""
    rng = np.random.default_rng(seed)
    return torch.stack([to_tensor(render(free_variation(attributes, rng), resolution)) for _ in range(count)])


DIVERSITY_SEEDS = 64


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=15.0, help="training wall-clock budget")
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="train for this many steps instead of --minutes (runs compare at equal steps whatever the machine's load)",
    )
    parser.add_argument("--curve-every-steps", type=int, default=1000, help="steps between curve points with --steps")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the preset's")
    parser.add_argument("--samples", type=int, default=512, help="held-out prompts to score")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--curve-every", type=float, default=5.0, help="minutes between learning-curve points")
    parser.add_argument("--curve-samples", type=int, default=256, help="held-out prompts per curve point")
    parser.add_argument(
        "--out", type=Path, default=None, help="run folder (default: runs/bench-quickstart/<--json stem>)"
    )
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/bench_quickstart.json"))
    parser.add_argument("--grid", type=Path, default=None, help="also save a PNG of 64 held-out EMA samples")
    parser.add_argument(
        "--model-set",
        action="append",
        default=[],
        metavar="FIELD=JSON",
        help="override a quickstart model config field, e.g. discriminator.dense_final_head=true",
    )
    parser.add_argument(
        "--train-set",
        action="append",
        default=[],
        metavar="FIELD=JSON",
        help="override a training setting, e.g. loss.r1_gamma=0.2",
    )
    parser.add_argument(
        "--references",
        default="labels,captions",
        help="reference GAN variants trained after the quickstart model under the same budget ('' for none)",
    )
    parser.add_argument(
        "--predictions",
        choices=("preset", "all", "coarsest_output", "finest_to_coarsest"),
        default="preset",
        help="bisection: the preset's loss.predictions, all MS-I/O predictions, only those at the coarsest "
        'output depth (loss.predictions="coarsest") or only the finest input\'s one there',
    )
    parser.add_argument(
        "--minibatch-std",
        type=int,
        default=0,
        metavar="GROUP",
        help="bisection: a minibatch-std feature over groups of GROUP samples in front of D's heads (0: off)",
    )
    parser.add_argument(
        "--freeze-discriminator-text",
        choices=("none", "layers", "branch"),
        default="none",
        nargs="?",
        const="layers",
        help="bisection: D's text layers (or its whole text branch, MLP included) keep their random initialisation",
    )
    args = parser.parse_args()
    args.out = args.out or Path("runs/bench-quickstart") / (args.json.stem if args.json else "run")
    if args.predictions == "finest_to_coarsest":
        keep_finest_to_coarsest_prediction_only()

    context = init_distributed("cpu")
    threads = max(1, torch.get_num_threads())  # overlap_phases halves them while the quickstart model trains
    overrides = {
        "data": "shapes",
        "max_steps": args.steps or 10**9,
        "max_minutes": None if args.steps else args.minutes,
        "seed": args.seed,
        "sample_every": 1000,  # as few interruptions as the product's defaults (TrainConfig)
        "checkpoint_every": 1000,
        "log_every": 10,
    }
    if args.batch_size is not None:
        overrides["batch_size"] = args.batch_size
    chosen = {"all": "all", "coarsest_output": "coarsest"}.get(args.predictions)
    predictions = [f'loss.predictions="{chosen}"'] if chosen else []
    overrides |= nested_overrides([*predictions, *args.train_set])
    config = preset_training("quickstart", overrides)  # the preset's own training settings, as `gigagan train`
    started = time.perf_counter()
    minibatch_std = [f"discriminator.mbstd_group_size={args.minibatch_std}", "discriminator.mbstd_channels=1"]
    model_set = [*args.model_set, *(minibatch_std if args.minibatch_std else [])]
    model_config = with_overrides(get_preset("quickstart"), nested_overrides(model_set))
    trainer = Trainer(model_config, config, args.out, context=context, progress=True)
    if args.freeze_discriminator_text != "none":  # parameters without gradients are skipped by the optimiser
        branch = trainer.discriminator.text_branch
        (branch.layers if args.freeze_discriminator_text == "layers" else branch).requires_grad_(False)
    # held-out accuracy of the EMA G every --curve-every minutes (a few seconds each, inside the budget)
    curve: list[dict] = []

    def on_step(step: int, stats: dict[str, float]) -> None:
        elapsed = time.perf_counter() - started
        due = (
            step >= (len(curve) + 1) * args.curve_every_steps
            if args.steps
            else elapsed >= (len(curve) + 1) * args.curve_every * 60
        )
        if not due:
            return
        point = evaluate(trainer.ema.model.eval(), args.curve_samples, args.seed)["heldout"]
        point |= object_gap(trainer)
        curve.append({"minutes": elapsed / 60, "step": step, "images_seen": trainer.images_seen, **point})
        tqdm.write(f"  {elapsed / 60:5.1f} min, step {step}: " + ", ".join(f"{k} {v:.2f}" for k, v in point.items()))

    if context.is_main:
        trainer.on_step = on_step
    result = trainer.run()
    train_seconds = time.perf_counter() - started
    shutdown(context)
    if not context.is_main:
        return
    torch.set_num_threads(threads * context.world_size)  # the references get every rank's cores
    scores = evaluate(trainer.ema.model.eval(), args.samples, args.seed)

    diversity_prompt = heldout_prompts(1, seed=args.seed)[0]
    models: dict[str, dict] = {
        "quickstart": {
            "steps": result.step,
            "images_seen": result.images_seen,
            "train_seconds": train_seconds,
            "scores": scores["heldout"],
            "curve": curve,
            "diversity": diversity(
                sample_images(trainer.ema.model.eval(), [diversity_prompt] * DIVERSITY_SEEDS, args.seed)
            ),
        }
    }
    if args.grid is not None:
        save_grid(sample_images(trainer.ema.model.eval(), heldout_prompts(64, seed=1), seed=1), args.grid)
    for conditioning in [name for name in args.references.split(",") if name]:
        # the reference GAN under the same wall-clock budget, threads and held-out prompts
        settings = ReferenceSettings(
            conditioning=conditioning,
            minutes=args.minutes,
            seed=args.seed,
            threads=torch.get_num_threads(),
            eval_every_minutes=args.curve_every,
            eval_samples=args.curve_samples,
        )
        reference = ReferenceTrainer(settings)
        print(f"\nreference GAN, {conditioning}: {args.minutes} minutes")
        run = reference.run(lambda point: tqdm.write(f"  {point['minutes']:5.1f} min, step {point['step']}"))
        prompts = heldout_prompts(args.samples, seed=args.seed)
        images = reference.sample(prompts, args.seed)
        models[f"reference_{conditioning}"] = {
            "steps": reference.step,
            "images_seen": reference.step * settings.batch_size,
            "train_seconds": settings.minutes * 60,
            "scores": attribute_accuracy(images, [a for _, a in prompts]),
            "curve": run["curve"],
            "diversity": diversity(reference.sample([diversity_prompt] * DIVERSITY_SEEDS, args.seed)),
        }
    real = real_renders(diversity_prompt[1], DIVERSITY_SEEDS, model_config.generator.resolution, args.seed)
    real_diversity = diversity(real)

    names = list(models)
    attributes = [k for k in scores["heldout"] if k != "all"] + ["all"]
    print(f"\nheld-out prompts ({args.samples}), {args.minutes:g} minutes each, {torch.get_num_threads()} threads")
    print(f"{'':<16}" + "".join(f"{name:>20}" for name in names) + f"{'shuffled floor':>16}")
    for key in ("steps", "images_seen"):
        print(f"{key:<16}" + "".join(f"{models[n][key]:>20}" for n in names))
    for name in attributes:
        row = "".join(f"{models[n]['scores'][name]:>20.3f}" for n in names)
        print(f"{name:<16}{row}{scores['shuffled_floor'][name]:>16.3f}")
    print(f"\ndiversity over {DIVERSITY_SEEDS} seeds of '{diversity_prompt[0]}'")
    for key in real_diversity:
        row = "".join(f"{models[n]['diversity'][key]:>20.4f}" for n in names)
        print(f"{key:<20}{row}   real renders {real_diversity[key]:.4f}")
    payload = {
        "preset": "quickstart",
        "model_overrides": args.model_set,
        "minibatch_std_group": args.minibatch_std,
        "minutes_budget": None if args.steps else args.minutes,
        "steps_budget": args.steps,
        "batch_size": config.batch_size,
        "processes": context.world_size,
        "training": config_to_dict(config),
        "samples_scored": args.samples,
        "shuffled_floor": scores["shuffled_floor"],
        "diversity_prompt": diversity_prompt[0],
        "real_diversity": real_diversity,
        "models": models,
    }
    write_result(args.json, payload)


if __name__ == "__main__":
    main()
