"""What do the trained text codes say about the caption? A linear probe of t_D and t_global.

The `quickstart` GAN learns the background colour, size and position from captions but draws every
object in a default colour. This probe asks whether the information is there: it reads a run's
checkpoint, computes D's text code t_D and the EMA generator's t_global for training captions, fits
one linear (softmax) classifier per attribute on them, and reports held-out accuracy per attribute.
The same codes from freshly initialised networks give the baseline of what the random toy tower
and untrained layers already carry.

    .venv/bin/python benchmarks/probe_text_code.py --checkpoint runs/demo/latest
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

from _bench_common import write_result
from gigagan.data.shapes import caption, heldout_prompts, sample_attributes
from gigagan.data.shapes_verifier import ATTRIBUTES
from gigagan.models import Discriminator, Generator
from reference_gan import ATTRIBUTE_VALUES


@torch.no_grad()
def text_codes(generator: Generator, discriminator: Discriminator, captions: list[str]) -> dict[str, torch.Tensor]:
    codes: dict[str, list[torch.Tensor]] = {"t_D": [], "t_global": []}
    for start in range(0, len(captions), 256):
        tokens = generator.tokenize(captions[start : start + 256])
        features = generator.text_encoder.clip(tokens)
        codes["t_D"].append(discriminator.encode_text(features))
        codes["t_global"].append(generator.text_encoder(clip_features=features).global_)
    return {name: torch.cat(values) for name, values in codes.items()}


def probe_accuracy(
    train: torch.Tensor, train_labels: torch.Tensor, test: torch.Tensor, test_labels: torch.Tensor
) -> float:
    """Held-out accuracy of a softmax classifier fitted on standardised codes (Adam, weight decay)."""
    mean, std = train.mean(0), train.std(0) + 1e-6
    train, test = (train - mean) / std, (test - mean) / std
    classes = int(max(train_labels.max(), test_labels.max())) + 1
    layer = torch.nn.Linear(train.shape[1], classes)
    optimizer = torch.optim.Adam(layer.parameters(), lr=0.01, weight_decay=1e-4)
    for _ in range(300):
        loss = F.cross_entropy(layer(train), train_labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return float((layer(test).argmax(1) == test_labels).float().mean())


def labels(attributes: list, name: str) -> torch.Tensor:
    values = ATTRIBUTE_VALUES[name]
    return torch.tensor([values.index(getattr(a, name)) for a in attributes])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True, help="a run's checkpoint folder (e.g. runs/x/latest)")
    parser.add_argument("--train-items", type=int, default=2000)
    parser.add_argument("--heldout", type=int, default=512)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.manual_seed(0)

    train_attributes = [sample_attributes(0, i, "train") for i in range(args.train_items)]
    heldout = heldout_prompts(args.heldout)
    train_captions = [caption(a) for a in train_attributes]
    test_captions, test_attributes = [c for c, _ in heldout], [a for _, a in heldout]

    trained = (
        Generator.from_pretrained(args.checkpoint, weights_name="generator_ema.safetensors").eval(),
        Discriminator.from_pretrained(args.checkpoint).eval(),
    )
    fresh = (Generator(trained[0].config).eval(), Discriminator(trained[1].config).eval())
    table: dict[str, dict[str, float]] = {}
    for tag, (generator, discriminator) in (("initial", fresh), ("trained", trained)):
        train_codes = text_codes(generator, discriminator, train_captions)
        test_codes = text_codes(generator, discriminator, test_captions)
        for code in train_codes:
            table[f"{code} {tag}"] = {
                name: probe_accuracy(
                    train_codes[code], labels(train_attributes, name), test_codes[code], labels(test_attributes, name)
                )
                for name in ATTRIBUTES
            }
    print(f"linear probe, held-out accuracy ({args.heldout} captions), {args.checkpoint}")
    print(f"{'code':<18}" + "".join(f"{name:>11}" for name in ATTRIBUTES))
    for row, scores in table.items():
        print(f"{row:<18}" + "".join(f"{scores[name]:11.2f}" for name in ATTRIBUTES))
    write_result(
        args.json or Path("benchmarks/results/probe_text_code.json"),
        {"checkpoint": str(args.checkpoint), "train_items": args.train_items, "accuracy": table},
    )


if __name__ == "__main__":
    main()
