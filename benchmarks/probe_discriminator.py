"""Can the discriminator see the object? A supervised probe of D alone.

The flat-field failure of the `quickstart` GAN (G draws an empty field of the caption's background
colour) can only last while D cannot tell such a field from a real picture. This probe trains a
discriminator, without G, to call real `shapes` images real and the same images with the object
painted out (an empty field of the background colour, same caption) fake, with the non-saturating
loss, and reports the mean logit gap D(real) - D(empty) on held-out items as it trains. A D that
needs hundreds of steps for this trivially separable task cannot pull G out of the flat field.

    .venv/bin/python benchmarks/probe_discriminator.py --discriminator dcgan
    .venv/bin/python benchmarks/probe_discriminator.py --discriminator gigagan --lr 0.0025 --beta1 0 --beta2 0.99
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from _bench_common import write_result
from gigagan.data.shapes import PALETTE
from reference_gan import (
    Batch,
    DCGANDiscriminator,
    FrozenText,
    GigaGANDiscriminatorAdapter,
    ShapesStream,
    make_condition,
    non_saturating,
)


def empty_fields(batch: Batch) -> torch.Tensor:
    """Each image's background colour everywhere (the object painted out)."""
    colours = torch.tensor([PALETTE[a.background] for a in batch.attributes], dtype=torch.float32) / 127.5 - 1
    return colours[:, :, None, None].expand_as(batch.images).contiguous()


def mean_logit(logits: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack([x.mean(dim=1) for x in logits]).mean(dim=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--discriminator", choices=("dcgan", "gigagan"), default="gigagan")
    parser.add_argument("--conditioning", choices=("labels", "captions"), default="captions")
    parser.add_argument("--dense-final-head", action="store_true")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.0025)
    parser.add_argument("--beta1", type=float, default=0.0)
    parser.add_argument("--beta2", type=float, default=0.99)
    parser.add_argument("--eval-every", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    text = FrozenText() if args.conditioning == "captions" else None
    dim = text.tower.width if text else 128
    condition = make_condition(args.conditioning, dim)
    if args.discriminator == "dcgan":
        discriminator = DCGANDiscriminator(condition, cond_dim=dim)
    else:
        discriminator = GigaGANDiscriminatorAdapter(condition, args.dense_final_head)
    params = [p for p in discriminator.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, args.lr, (args.beta1, args.beta2))
    train, heldout = ShapesStream(args.seed), ShapesStream(args.seed + 1000).batch(128)

    def clip(batch: Batch):
        return text(batch.captions) if text is not None else None

    heldout_clip = clip(heldout)
    curve = []
    started = time.perf_counter()
    for step in range(1, args.steps + 1):
        batch = train.batch(args.batch_size)
        features = clip(batch)
        real, _ = discriminator([batch.images], batch, features)
        empty, _ = discriminator([empty_fields(batch)], batch, features)
        loss = non_saturating(real, True) + non_saturating(empty, False)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % args.eval_every == 0 or step == args.steps:
            with torch.no_grad():
                real, _ = discriminator([heldout.images], heldout, heldout_clip)
                empty, _ = discriminator([empty_fields(heldout)], heldout, heldout_clip)
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
    tag = args.discriminator + ("_dense" if args.dense_final_head else "") + f"_{args.conditioning}"
    write_result(
        args.json or Path(f"benchmarks/results/probe_discriminator_{tag}.json"),
        {"args": vars(args) | {"json": str(args.json)}, "curve": curve},
    )


if __name__ == "__main__":
    main()
