"""Can the discriminator see the object? A supervised probe of D alone.

The flat-field failure of the `quickstart` GAN (G draws an empty field of the caption's background
colour) can only last while D cannot tell such a field from a real picture. This probe trains a
discriminator, without G, to call real `shapes` images real and the same images with the object
painted out (an empty field of the background colour, same caption) fake, with the non-saturating
loss, and reports the mean logit gap D(real) - D(empty) on held-out items as it trains. A D that
needs hundreds of steps for this trivially separable task cannot pull G out of the flat field.

`--negative recolour` asks the next question: the fake is the same picture with the object drawn
in another colour, so only a D that reads the object's colour against the caption separates them.
A GAN whose D cannot learn this draws every object in one default colour.

    .venv/bin/python benchmarks/probe_discriminator.py --discriminator dcgan
    .venv/bin/python benchmarks/probe_discriminator.py --discriminator gigagan --lr 0.0025 --beta1 0 --beta2 0.99
    .venv/bin/python benchmarks/probe_discriminator.py --negative recolour --dense-final-head --lr 0.004
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import torch

from _bench_common import write_result
from gigagan.data.shapes import COLORS, SHAPES, ShapeAttributes, render, to_tensor
from reference_gan import (
    RESOLUTION,
    Batch,
    DCGANDiscriminator,
    FrozenText,
    GigaGANDiscriminatorAdapter,
    ShapesStream,
    empty_fields,
    make_condition,
    non_saturating,
)


def equalize(module: torch.nn.Module) -> torch.nn.Module:
    """Re-parametrise every conv / linear layer of `module` with an equalized learning rate: unit-variance
    stored weights scaled by 1/sqrt(fan_in) at run time (as gigagan.nn's layers), zero biases."""
    import math

    from torch.nn.utils import parametrize

    class Gain(torch.nn.Module):
        def __init__(self, gain: float) -> None:
            super().__init__()
            self.gain = gain

        def forward(self, weight: torch.Tensor) -> torch.Tensor:
            return weight * self.gain

    for layer in module.modules():
        if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)):
            fan_in = layer.weight[0].numel()
            with torch.no_grad():
                layer.weight.normal_()
                if layer.bias is not None:
                    layer.bias.zero_()
            parametrize.register_parametrization(layer, "weight", Gain(1 / math.sqrt(fan_in)))
    return module


class HybridDiscriminator(torch.nn.Module):
    """For bisection: the reference DCGAN trunk or GigaGAN's trunk (finest input only), under the
    reference's projection head or GigaGAN's DenseHead (one logit per image either way)."""

    def __init__(self, condition: torch.nn.Module, dim: int, trunk: str, head: str) -> None:
        super().__init__()
        from gigagan.models.discriminator import DenseHead

        self.condition = condition
        reference = DCGANDiscriminator(condition, cond_dim=dim)
        if trunk == "dcgan":
            self.trunk, width = equalize(reference.body), 256
        else:
            gigagan = GigaGANDiscriminatorAdapter(condition, False).discriminator
            self.gigagan, width = gigagan, gigagan.config.channels[0]
            self.trunk = None
        self.head_kind = head
        if head == "dcgan":
            self.to_logit = equalize(torch.nn.Conv2d(width, 1, 4))
            self.embed = equalize(torch.nn.Linear(dim, width))
        elif head == "patch":
            from gigagan.models.discriminator import PredictionHead

            self.head = PredictionHead(width, 64, dim)
        else:
            self.head = DenseHead(width, 4, 64, dim)

    def features(self, image: torch.Tensor) -> torch.Tensor:
        if self.trunk is not None:
            return self.trunk(image)
        d = self.gigagan
        x = d.blocks[0](d.from_rgb[0](image))
        for depth in range(1, d.num_levels):
            x = d.blocks[depth](d.downsample[depth - 1](x))
        return x

    def forward(self, pyramid, batch, clip, wrong=None):
        h = self.features(pyramid[0])
        code = self.condition(batch, clip).global_
        if self.head_kind == "dcgan":
            logit = self.to_logit(h).flatten(1) + (h.sum(dim=(2, 3)) * self.embed(code)).sum(1, keepdim=True)
        else:
            logit = self.head(h, code)
        return [logit], []


def apply_patches(patches: list[str]) -> None:
    """Monkey-patch gigagan's DownsampleBlock for bisection (this process only)."""
    import math

    import torch.nn.functional as F

    from gigagan.models import discriminator as module

    def forward(self, x):
        if "stride_conv" in patches:  # 3x3 convolution at stride 2 on the unfiltered map
            w = self.conv.weight * self.conv.weight_gain
            out = F.leaky_relu(F.conv2d(x, w, self.conv.bias, stride=2, padding=1), 0.2) * math.sqrt(2)
            skip = F.avg_pool2d(x, 2)
        else:
            x = F.avg_pool2d(x, 2) if "no_blur" in patches else module.downsample2x(x)
            out, skip = self.conv(x), x
        if "no_skip" in patches:
            return out
        return (self.skip(skip) + out) / math.sqrt(2)

    if patches:
        module.DownsampleBlock.forward = forward


def select(logits: list[torch.Tensor], pairs: list[tuple[int, int]], which: str, num_levels: int) -> list[torch.Tensor]:
    """The predictions the loss uses: all, those from the finest input, or those at the coarsest output."""
    if which == "all" or not pairs:
        return logits
    if which == "finest_to_coarsest":  # the one prediction that sees the whole trunk
        return [x for x, pair in zip(logits, pairs) if pair == (0, num_levels - 1)]
    if which == "finest_input":
        return [x for x, (source, _) in zip(logits, pairs) if source == 0]
    return [x for x, (_, depth) in zip(logits, pairs) if depth == num_levels - 1]


def mean_logit(logits: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack([x.mean(dim=1) for x in logits]).mean(dim=0)


def recoloured(attributes: list[ShapeAttributes], seed: int) -> torch.Tensor:
    """The same pictures with each object drawn in another colour (neither its own nor the
    background's): a negative that only a D reading the object's colour under the caption rejects."""
    rng = np.random.default_rng(seed)
    images = []
    for item in attributes:
        others = [c for c in COLORS if c not in (item.color, item.background)]
        images.append(to_tensor(render(dataclasses.replace(item, color=str(rng.choice(others))), RESOLUTION)))
    return torch.stack(images)


def reshaped(attributes: list[ShapeAttributes], seed: int) -> torch.Tensor:
    """The same pictures with each object drawn as another shape (same colour, place and size): a
    negative that only a D reading the object's shape under the caption rejects."""
    rng = np.random.default_rng(seed)
    images = []
    for item in attributes:
        others = [s for s in SHAPES if s != item.shape]
        images.append(to_tensor(render(dataclasses.replace(item, shape=str(rng.choice(others))), RESOLUTION)))
    return torch.stack(images)


def negatives(kind: str, batch: Batch, seed: int) -> torch.Tensor:
    if kind == "empty":
        return empty_fields(batch.attributes, batch.images)
    return recoloured(batch.attributes, seed) if kind == "recolour" else reshaped(batch.attributes, seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--discriminator", choices=("dcgan", "gigagan", "hybrid"), default="gigagan")
    parser.add_argument("--hybrid", default="gigagan:dcgan", help="TRUNK:HEAD for --discriminator hybrid")
    parser.add_argument("--conditioning", choices=("labels", "captions"), default="captions")
    parser.add_argument("--dense-final-head", action="store_true")
    parser.add_argument(
        "--own-text", action="store_true", help="GigaGAN D reads captions through its own text branch (as in training)"
    )
    parser.add_argument("--equalized", action="store_true", help="DCGAN D with equalized-learning-rate layers")
    parser.add_argument(
        "--d-set",
        action="append",
        default=[],
        metavar="FIELD=JSON",
        help="override a quickstart DiscriminatorConfig field, e.g. channels=[256,128,64,64]",
    )
    parser.add_argument(
        "--predictions", choices=("all", "finest_input", "coarsest_output", "finest_to_coarsest"), default="all"
    )
    parser.add_argument(
        "--reduce",
        choices=("per_position", "per_image", "per_image_sum", "per_image_sqrt"),
        default="per_position",
        help="loss on every position's logit, or on each prediction's mean logit",
    )
    parser.add_argument("--logit-scale", type=float, default=1.0, help="multiply every logit (a hotter D)")
    parser.add_argument(
        "--negative",
        choices=("empty", "recolour", "reshape"),
        default="empty",
        help="the fake: the object painted out, or drawn in another colour or shape (same caption)",
    )
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.0025)
    parser.add_argument("--beta1", type=float, default=0.0)
    parser.add_argument("--beta2", type=float, default=0.99)
    parser.add_argument("--eval-every", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--patch",
        action="append",
        default=[],
        choices=("no_skip", "no_blur", "stride_conv"),
        help="bisection patches of GigaGAN's downsampling block",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    apply_patches(args.patch)
    torch.manual_seed(args.seed)

    text = FrozenText() if args.conditioning == "captions" else None
    dim = text.tower.width if text else 128
    condition = make_condition(args.conditioning, dim)
    if args.discriminator == "hybrid":
        trunk, head = args.hybrid.split(":")
        discriminator = HybridDiscriminator(condition, dim, trunk, head)
    elif args.discriminator == "dcgan":
        discriminator = DCGANDiscriminator(condition, cond_dim=dim)
        if args.equalized:
            equalize(discriminator.body), equalize(discriminator.to_logit), equalize(discriminator.embed)
    else:
        discriminator = GigaGANDiscriminatorAdapter(condition, args.dense_final_head, args.d_set, args.own_text)
    params = [p for p in discriminator.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, args.lr, (args.beta1, args.beta2))
    train, heldout = ShapesStream(args.seed), ShapesStream(args.seed + 1000).batch(128)

    def clip(batch: Batch):
        return text(batch.captions) if text is not None else None

    heldout_clip = clip(heldout)
    heldout_negatives = negatives(args.negative, heldout, 10**6)
    curve = []
    started = time.perf_counter()
    for step in range(1, args.steps + 1):
        batch = train.batch(args.batch_size)
        features = clip(batch)
        real, _ = discriminator([batch.images], batch, features)
        empty, _ = discriminator([negatives(args.negative, batch, step)], batch, features)
        pairs = getattr(discriminator, "last_pairs", [])
        levels = getattr(discriminator, "num_levels", 1)
        real, empty = (select(x, pairs, args.predictions, levels) for x in (real, empty))
        real, empty = [x * args.logit_scale for x in real], [x * args.logit_scale for x in empty]
        if args.reduce == "per_image":
            real, empty = [mean_logit(real)[:, None]], [mean_logit(empty)[:, None]]
        elif args.reduce != "per_position":  # each prediction's logits summed (or / sqrt(positions))
            power = 1.0 if args.reduce == "per_image_sum" else 0.5
            real, empty = ([x.sum(dim=1, keepdim=True) / x.shape[1] ** (1 - power) for x in y] for y in (real, empty))
        loss = non_saturating(real, True) + non_saturating(empty, False)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % args.eval_every == 0 or step == args.steps:
            with torch.no_grad():
                real, _ = discriminator([heldout.images], heldout, heldout_clip)
                empty, _ = discriminator([heldout_negatives], heldout, heldout_clip)
                real, empty = [x * args.logit_scale for x in real], [x * args.logit_scale for x in empty]
                gap = mean_logit(real) - mean_logit(empty)
                per_prediction = [float((a.mean(1) - b.mean(1)).mean()) for a, b in zip(real, empty)]
            point = {
                "step": step,
                "loss": float(loss.detach()),
                "gap": float(gap.mean()),
                "separated": float((gap > 0).float().mean()),
                "gap_per_prediction": per_prediction,
                "seconds": time.perf_counter() - started,
            }
            curve.append(point)
            print(
                f"step {step:4d}: loss {point['loss']:.3f}, gap {point['gap']:+.3f}, "
                f"separated {point['separated']:.2f}, per prediction " + " ".join(f"{g:+.2f}" for g in per_prediction),
                flush=True,
            )
    tag = (
        args.discriminator
        + ("_dense" if args.dense_final_head else "")
        + ("_equalized" if args.equalized else "")
        + ("_owntext" if args.own_text else "")
        + f"_{args.conditioning}"
        + ("" if args.negative == "empty" else f"_{args.negative}")
    )
    print(f"{tag} {args.predictions} {args.reduce} {args.d_set}: {time.perf_counter() - started:.0f} s")
    write_result(
        args.json or Path(f"benchmarks/results/probe_discriminator_{tag}.json"),
        {"args": vars(args) | {"json": str(args.json)}, "curve": curve},
    )


if __name__ == "__main__":
    main()
