"""Can the generator *draw* the asked shape? A supervised probe, no discriminator.

The generator is trained alone to reproduce the `shapes` render of each caption (pixel L1 between
G(z, caption) and the render; z is drawn but the target does not depend on it), on a subset of the
attributes (`shape_sprint.py`'s flags). Every `--eval-every` steps the shapes verifier reads back its
images for fresh subset prompts. A generator that cannot make the shape under a direct pixel loss
cannot be taught it by a discriminator either, and the step at which each generator gets there
compares their capacity to express shape x position, without the GAN game.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/probe_generator.py --generator ours --positions all
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/probe_generator.py --generator dcgan --positions all
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from _bench_common import write_result
from gigagan import get_preset
from gigagan.config import with_overrides
from gigagan.data.shapes_verifier import attribute_accuracy
from gigagan.models import Generator
from reference_gan import DCGANGenerator, FrozenText, make_condition, nested_overrides, save_grid
from shape_sprint import SubsetStream, add_subset_arguments, subset_from_arguments


class OurGenerator:
    """The `quickstart` generator with its own text encoder."""

    def __init__(self, overrides: list[str]) -> None:
        config = with_overrides(get_preset("quickstart").generator, nested_overrides(overrides))
        self.module = Generator(config)
        self.text_module: nn.Module | None = self.module.text_encoder
        self.z_dim = config.z_dim

    def __call__(self, z: Tensor, batch, noise_mode: str) -> Tensor:
        return self.module(z, self.module.tokenize(batch.captions), noise_mode=noise_mode)[0]


class ReferenceGenerator:
    """The reference's DCGAN generator on the frozen toy tower's caption features."""

    def __init__(self) -> None:
        self.text = FrozenText()
        self.module = DCGANGenerator(make_condition("captions", self.text.tower.width), cond_dim=self.text.tower.width)
        self.text_module: nn.Module | None = None  # --text-lr applies to ours only
        self.z_dim = self.module.z_dim

    def __call__(self, z: Tensor, batch, noise_mode: str) -> Tensor:
        return self.module(z, batch, self.text(batch.captions))[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generator", choices=("ours", "dcgan"), default="ours")
    parser.add_argument("--model-set", action="append", default=[], metavar="FIELD=JSON", help="ours: G config")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=None, help="default: 0.0025 (ours), 0.0002 (dcgan)")
    parser.add_argument("--betas", type=float, nargs=2, default=None, help="default: 0 0.99 (ours), 0.5 0.999")
    parser.add_argument(
        "--text-lr", type=float, default=None, help="ours: learning rate of the text encoder's layers (default: --lr)"
    )
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--samples", type=int, default=160)
    parser.add_argument("--seed", type=int, default=0)
    add_subset_arguments(parser)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/probe_generator.json"))
    parser.add_argument("--grid", type=Path, default=None)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    subset = subset_from_arguments(args)
    ours = args.generator == "ours"
    generator = OurGenerator(args.model_set) if ours else ReferenceGenerator()
    lr = args.lr if args.lr is not None else (0.0025 if ours else 0.0002)
    betas = tuple(args.betas) if args.betas is not None else ((0.0, 0.99) if ours else (0.5, 0.999))
    text_lr = lr if args.text_lr is None else args.text_lr
    text_module = generator.text_module or nn.Identity()
    text_parameters = [p for p in text_module.parameters() if p.requires_grad]
    text_ids = {id(p) for p in text_parameters}
    parameters = [p for p in generator.module.parameters() if p.requires_grad and id(p) not in text_ids]
    groups = [{"params": parameters}] + ([{"params": text_parameters, "lr": text_lr}] if text_parameters else [])
    optimizer = torch.optim.Adam(groups, lr, betas)
    stream = SubsetStream(subset, args.seed)

    @torch.no_grad()
    def evaluate(step: int) -> dict:
        generator.module.eval()
        prompts = subset.prompts(args.samples, seed=1)
        batch = stream.batch_of([a for _, a in prompts])
        z = torch.randn(len(prompts), generator.z_dim, generator=torch.Generator().manual_seed(1))
        images = generator(z, batch, "const").clamp(-1, 1)
        generator.module.train()
        return {"step": step, **attribute_accuracy(images, [a for _, a in prompts])}, images

    curve = []
    started = time.perf_counter()
    for step in range(1, args.steps + 1):
        batch = stream.batch(args.batch_size)
        z = torch.randn(args.batch_size, generator.z_dim)
        loss = F.l1_loss(generator(z, batch, "random"), batch.images)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % args.eval_every == 0 or step == args.steps:
            point, images = evaluate(step)
            point |= {"loss": float(loss.detach()), "seconds": time.perf_counter() - started}
            curve.append(point)
            print(
                f"step {step:5d} ({point['seconds']:5.0f} s), L1 {point['loss']:.3f}: "
                + ", ".join(f"{k} {point[k]:.2f}" for k in ("shape", "color", "background", "size", "position")),
                flush=True,
            )
    if args.grid is not None:
        save_grid(images[:64], args.grid)
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    write_result(args.json, {"args": settings | {"lr": lr, "betas": betas, "text_lr": text_lr}, "curve": curve})


if __name__ == "__main__":
    main()
