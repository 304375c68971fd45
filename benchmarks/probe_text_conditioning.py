"""Diagnostic probe for issue 3: is the generator or its text conditioning what learns objects slowly?

Trains the `quickstart` generator by plain supervised regression (mean squared error to the real
`shapes` image, z = 0, no noise, Adam) instead of the GAN game, under one of two conditionings:

- `caption`: the real text path (toy random CLIP tower -> learned text layers -> t_global, t_local);
- `oracle`: the same network, but t_global replaced by a sum of learned embeddings of the true
  attributes (shape, colour, background, size, position), a clean factorised code; t_local (for
  cross-attention) still comes from the caption.

Every `--eval-every` steps it scores the generator on held-out prompts with the shapes verifier and
prints one line per evaluation; the JSON goes to benchmarks/results/probe_text_<conditioning>.json. This is a probe,
not a training method: the product trains with the GAN objective.

    .venv/bin/python benchmarks/probe_text_conditioning.py --conditioning caption --steps 400
    .venv/bin/python benchmarks/probe_text_conditioning.py --conditioning oracle --steps 400
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from torch import nn

from _bench_common import write_result
from gigagan import get_preset
from gigagan.data.shapes import COLORS, POSITIONS, SHAPES, SIZES, ShapeAttributes, ShapesDataset, heldout_prompts
from gigagan.data.shapes_verifier import attribute_accuracy
from gigagan.models import Generator
from gigagan.models.text import TextEncoding

ATTRIBUTE_VALUES = {"shape": SHAPES, "color": COLORS, "background": COLORS, "size": SIZES, "position": POSITIONS}


class OracleCode(nn.Module):
    """t_global from the true attributes: one learned embedding per attribute value, summed."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.embeddings = nn.ModuleDict({name: nn.Embedding(len(v), width) for name, v in ATTRIBUTE_VALUES.items()})

    def forward(self, attributes: list[ShapeAttributes]) -> torch.Tensor:
        total = 0
        for name, values in ATTRIBUTE_VALUES.items():
            indices = torch.tensor([values.index(getattr(a, name)) for a in attributes])
            total = total + self.embeddings[name](indices)
        return total


def generate(
    generator: Generator, oracle: OracleCode | None, captions: list[str], attributes: list[ShapeAttributes]
) -> torch.Tensor:
    text = generator.encode_text(generator.tokenize(captions))
    if oracle is not None:
        text = TextEncoding(local=text.local, mask=text.mask, global_=oracle(attributes))
    z = torch.zeros(len(captions), generator.config.z_dim)
    return generator.synthesis(generator.map(z, text), text.local, text.mask, noise_mode="none")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conditioning", choices=["caption", "oracle"], default="caption")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--eval-every", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.002)
    parser.add_argument("--beta1", type=float, default=0.9)
    parser.add_argument("--heldout", type=int, default=128, help="held-out prompts per evaluation")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="default: results/probe_text_<conditioning>.json")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    generator = Generator(get_preset("quickstart").generator)
    oracle = OracleCode(generator.text_encoder.width) if args.conditioning == "oracle" else None
    modules = [generator] + ([oracle] if oracle is not None else [])
    params = [p for module in modules for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=args.lr, betas=(args.beta1, 0.99))
    data = ShapesDataset(32, seed=args.seed)
    prompts = heldout_prompts(args.heldout)
    rows = []
    start = time.time()
    for step in range(1, args.steps + 1):
        indices = torch.randint(len(data), (args.batch_size,)).tolist()
        items = [data[i] for i in indices]
        images = torch.stack([item["image"] for item in items])
        attributes = [data.attributes(i) for i in indices]
        output = generate(generator, oracle, [item["caption"] for item in items], attributes)
        loss = (output - images).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % args.eval_every == 0 or step == args.steps:
            with torch.no_grad():
                samples = generate(generator, oracle, [c for c, _ in prompts], [a for _, a in prompts]).clamp(-1, 1)
            accuracy = attribute_accuracy(samples, [a for _, a in prompts])
            row = {"step": step, "mse": round(loss.item(), 4), "seconds": round(time.time() - start)}
            rows.append(row | {k: round(v, 3) for k, v in accuracy.items()})
            print(" ".join(f"{k}={v}" for k, v in rows[-1].items()), flush=True)
    path = args.json or Path(f"benchmarks/results/probe_text_{args.conditioning}.json")
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    write_result(path, {"settings": settings, "curve": rows})


if __name__ == "__main__":
    main()
