"""How fast does a GAN learn the object's *shape*? A short probe on a `shapes` subset.

In the full `shapes` task the shape is learned last (after background, position, size and colour)
and only after ~150k-230k images even by the reference DCGAN, so a 10-minute run on one thread
says nothing about it. Here the other attributes are pinned (by default: a large object in the
centre, one colour, one background) and only the shape varies, so the speed at which a model learns
to draw the asked shape shows within minutes. The `quickstart` GAN (with the same `--model-set` /
`--train-set` overrides as `bench_quickstart.py`) or the reference GAN (`--model reference`) trains
for a wall-clock budget on the subset; every `--curve-every` minutes its samples for fresh subset
prompts are read back by the shapes verifier. Prints the curve and writes JSON.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/shape_sprint.py --minutes 8
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/shape_sprint.py --minutes 8 --model reference
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/shape_sprint.py --colors red,yellow --positions left,right
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from _bench_common import write_result
from bench_quickstart import sample_images
from gigagan import get_preset
from gigagan.config import DiscriminatorConfig, preset_training, with_overrides
from gigagan.data import BatchStream
from gigagan.data.shapes import (
    COLORS,
    OFFSET_JITTER,
    POSITIONS,
    SCALE_JITTER,
    SHAPES,
    SIZES,
    ShapeAttributes,
    caption,
    render,
    to_tensor,
)
from gigagan.data.shapes_verifier import attribute_accuracy
from gigagan.models import Discriminator
from gigagan.models.discriminator import DenseHead, DiscriminatorOutput, DownsampleBlock
from gigagan.models.text import CLIPTextFeatures
from gigagan.nn import EqualConv2d, EqualLinear
from gigagan.training import Trainer
from reference_gan import (
    RESOLUTION,
    ReferenceSettings,
    ReferenceTrainer,
    ShapesStream,
    nested_overrides,
    save_grid,
    select_predictions,
    setting_value,
)

# every value of each attribute (the order of Subset's arguments); a subset flag may also say "all"
SUBSET_CHOICES = {"shapes": SHAPES, "colors": COLORS, "backgrounds": COLORS, "sizes": SIZES, "positions": POSITIONS}


class Subset:
    """The attribute values a sprint draws from; every draw has the dataset's own jitter."""

    def __init__(
        self, shapes: list[str], colors: list[str], backgrounds: list[str], sizes: list[str], positions: list[str]
    ) -> None:
        self.values = (shapes, colors, backgrounds, sizes, positions)
        for (name, allowed), values in zip(SUBSET_CHOICES.items(), self.values):
            unknown = [v for v in values if v not in allowed]
            if unknown or not values:
                raise SystemExit(f"--{name}: {unknown or 'empty'} not in {allowed}")
        if not any(c != b for c in colors for b in backgrounds):
            raise SystemExit("every colour equals every background")

    def draw(self, rng: np.random.Generator) -> ShapeAttributes:
        while True:
            shape, color, background, size, position = (str(v[rng.integers(len(v))]) for v in self.values)
            if color != background:
                break
        offset_x, offset_y = rng.uniform(-OFFSET_JITTER, OFFSET_JITTER, size=2)
        scale = rng.uniform(1 - SCALE_JITTER, 1 + SCALE_JITTER)
        return ShapeAttributes(shape, color, background, size, position, float(offset_x), float(offset_y), float(scale))

    def prompts(self, count: int, seed: int) -> list[tuple[str, ShapeAttributes]]:
        rng = np.random.default_rng([seed, 0xE7A1])
        attributes = [self.draw(rng) for _ in range(count)]
        return [(caption(a), a) for a in attributes]


class SubsetDataset(Dataset):
    """Training items for `Trainer` (a pure function of the index, like `ShapesDataset`)."""

    def __init__(self, subset: Subset, seed: int, length: int = 1 << 20) -> None:
        self.subset, self.seed, self.length = subset, seed, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        attributes = self.subset.draw(np.random.default_rng([self.seed, index]))
        return {"image": to_tensor(render(attributes, RESOLUTION)), "caption": caption(attributes)}


class SubsetStream(ShapesStream):
    """Training batches of the subset for `ReferenceTrainer`."""

    def __init__(self, subset: Subset, seed: int) -> None:
        super().__init__(seed)
        self.subset = subset

    def attributes(self, size: int) -> list[ShapeAttributes]:
        return [self.subset.draw(self.rng) for _ in range(size)]


class HybridDiscriminator(Discriminator):
    """A single-logit D for bisecting ours toward the reference's DCGAN D, behind our
    `Discriminator`'s interface, so that our trainer and loss train it, on our text branch's t_D.

    trunk "strided": the reference's 32 -> 16 -> 8 -> 4 px stride-2 4x4 convolutions (64, 128, 256
    channels, equalized learning rate) on the finest level; trunk "ours": the finest input's MS-I/O
    path alone (its fromRGB, the residual blocks of every depth and the downsampling blocks, at the
    config's widths). Between them, at the strided trunk's widths on the finest image: "downblock"
    (three of our `DownsampleBlock`s in the config's `downsample` mode, with their 1x1 skips and no
    activation after the sum).
    head "dcgan": an unconditional logit from the whole 4x4 map (the reference's 4x4 convolution
    without padding, written as a linear layer) plus <embed(t_D), sum-pooled features>; head
    "dense": our `DenseHead` as the preset builds it (dense layer, projection logit).
    ("strided", "dcgan") is the reference's D. The contrastive term scores the head's image
    embedding against its caption embedding. MS-I/O modules the trunk does not use stay unused."""

    def __init__(
        self, config: DiscriminatorConfig, trunk: str = "strided", head: str = "dcgan", width: int = 64
    ) -> None:
        super().__init__(config)
        self.trunk = trunk
        if trunk == "strided":
            self.body = nn.Sequential(
                *(
                    layer
                    for a, b in itertools.pairwise([3, width, width * 2, width * 4])
                    for layer in (EqualConv2d(a, b, 4, stride=2), nn.LeakyReLU(0.2))
                )
            )
            channels = width * 4
        elif trunk == "downblock":
            self.body = nn.Sequential(
                *(
                    DownsampleBlock(a, b, config.downsample)
                    for a, b in itertools.pairwise([3, width, width * 2, width * 4])
                )
            )
            channels = width * 4
        elif trunk == "ours":
            channels = config.channels[0]
        else:
            raise SystemExit(f"unknown trunk {trunk!r}")
        if head == "dcgan":
            self.to_logit = EqualLinear(channels * config.resolutions[0] ** 2, 1)
            self.embed = EqualLinear(config.t_dim, channels)
            self.dense_head = None
        elif head == "dense":
            self.dense_head = DenseHead(
                channels, config.resolutions[0], config.head_channels, config.t_dim, config.projection_only
            )
        else:
            raise SystemExit(f"unknown head {head!r}")

    def features(self, pyramid: list[Tensor]) -> Tensor:
        """[B, C, 4, 4] trunk features of the finest level (the coarser levels enter with weight 0,
        so that R1, which differentiates by every level, runs)."""
        unused = sum(0.0 * level.sum() for level in pyramid[1:])
        if self.trunk != "ours":
            return self.body(pyramid[0]) + unused
        x = self.from_rgb[0](self.discriminator_inputs(pyramid)[0])
        for depth in range(self.num_levels):
            x = self.blocks[depth](x)
            if depth < self.num_levels - 1:
                x = self.downsample[depth](x)
        return x + unused

    def forward(
        self,
        pyramid: list[Tensor],
        text: CLIPTextFeatures | Tensor,
        use_vision_aided: bool = True,
        mismatched_text: Tensor | None = None,
    ) -> DiscriminatorOutput:
        self.check_pyramid(pyramid)
        t = text if isinstance(text, Tensor) else self.encode_text(text)
        h = self.features(pyramid)
        if self.dense_head is not None:
            embedding = self.dense_head.embed_image(h)
            caption_embedding = self.dense_head.embed_caption(t)

            def logit(code: Tensor) -> Tensor:
                return self.dense_head.score(embedding, code)

        else:
            unconditional = self.to_logit(h.flatten(1))
            embedding = h.sum(dim=(2, 3))
            caption_embedding = self.embed(t)

            def logit(code: Tensor) -> Tensor:
                code_embedding = caption_embedding if code is t else self.embed(code)
                return unconditional + (embedding * code_embedding).sum(1, keepdim=True)

        return DiscriminatorOutput(
            multiscale=[logit(t)],
            pairs=[(0, self.num_levels - 1)],
            vision=[],
            mismatched=[logit(mismatched_text)] if mismatched_text is not None else [],
            image_embeddings=[embedding],
            caption_embedding=caption_embedding,
        )


class SelectedPredictionsDiscriminator(Discriminator):
    """Our discriminator with only some MS-I/O predictions in the loss (`select_predictions`): a
    bisection tool for which of the L(L+1)/2 heads' outputs teach G what."""

    def __init__(self, config: DiscriminatorConfig, predictions: str) -> None:
        super().__init__(config)
        self.predictions = predictions

    def forward(
        self,
        pyramid: list[Tensor],
        text: CLIPTextFeatures | Tensor,
        use_vision_aided: bool = True,
        mismatched_text: Tensor | None = None,
    ) -> DiscriminatorOutput:
        return select_predictions(super().forward(pyramid, text, use_vision_aided, mismatched_text), self.predictions)


SUBSET_DEFAULTS = {
    "shapes": ",".join(SHAPES),
    "colors": "red",
    "backgrounds": "blue",
    "sizes": "large",
    "positions": "center",
}


def add_subset_arguments(parser: argparse.ArgumentParser) -> None:
    """--shapes, --colors, --backgrounds, --sizes, --positions: comma lists of values, or "all"."""
    for name, default in SUBSET_DEFAULTS.items():
        parser.add_argument(f"--{name}", default=default, help=f'comma list, or "all" (default: {default})')


def subset_from_arguments(args: argparse.Namespace) -> Subset:
    return Subset(
        *(
            list(choices) if getattr(args, name) == "all" else getattr(args, name).split(",")
            for name, choices in SUBSET_CHOICES.items()
        )
    )


def run_quickstart(args: argparse.Namespace, subset: Subset, score) -> tuple[list[dict], torch.Tensor]:
    class SubsetTrainer(Trainer):
        def _build_networks(self) -> tuple[nn.Module, nn.Module]:
            generator, discriminator = super()._build_networks()
            if args.discriminator == "dcgan":
                discriminator = HybridDiscriminator(self.model_config.discriminator)
            elif args.discriminator == "hybrid":
                trunk, head = args.hybrid.split(":")
                discriminator = HybridDiscriminator(self.model_config.discriminator, trunk, head)
            elif args.predictions:
                discriminator = SelectedPredictionsDiscriminator(self.model_config.discriminator, args.predictions)
            return generator, discriminator

        def _build_stream(self) -> BatchStream:
            self.dataset = SubsetDataset(subset, self.config.seed)
            return BatchStream(self.dataset, self.local_batch, seed=self.config.seed)

    overrides = {"data": "shapes", "max_steps": 10**9, "max_minutes": args.minutes, "seed": args.seed}
    overrides |= {"sample_every": 10**9, "checkpoint_every": 10**9, "log_every": 10}
    overrides |= nested_overrides(args.train_set)
    config = preset_training("quickstart", overrides)
    model_config = with_overrides(get_preset("quickstart"), nested_overrides(args.model_set))
    trainer = SubsetTrainer(model_config, config, args.out, progress=False)
    curve: list[dict] = []
    started = time.perf_counter()

    def sample(prompts: list, seed: int) -> torch.Tensor:
        return sample_images(trainer.ema.model.eval(), prompts, seed)

    def on_step(step: int, stats: dict[str, float]) -> None:
        if time.perf_counter() - started >= (len(curve) + 1) * args.curve_every * 60:
            curve.append(score(step, trainer.images_seen, sample))

    trainer.on_step = on_step
    result = trainer.run()
    if not curve or curve[-1]["step"] != result.step:
        curve.append(score(result.step, result.images_seen, sample))
    return curve, sample(subset.prompts(64, seed=1), seed=1)


def run_reference(args: argparse.Namespace, subset: Subset, score) -> tuple[list[dict], torch.Tensor]:
    defaults = ReferenceSettings()
    changes = {}
    for assignment in args.reference_set:
        name, _, text = assignment.partition("=")
        if not hasattr(defaults, name):
            raise SystemExit(f"--reference-set: ReferenceSettings has no field {name!r}")
        changes[name] = setting_value(getattr(defaults, name), text)
    settings = ReferenceSettings(
        conditioning=args.reference_conditioning,
        minutes=args.minutes,
        seed=args.seed,
        threads=torch.get_num_threads(),
        eval_every_minutes=args.curve_every,
        **changes,
    )
    reference = ReferenceTrainer(settings)
    reference.data = SubsetStream(subset, args.seed)
    curve: list[dict] = []

    def evaluate() -> dict:
        curve.append(score(reference.step, reference.step * settings.batch_size, reference.sample))
        return curve[-1]

    reference.run(evaluate=evaluate)
    return curve, reference.sample(subset.prompts(64, seed=1), seed=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=("quickstart", "reference"), default="quickstart")
    parser.add_argument(
        "--discriminator",
        choices=("gigagan", "dcgan", "hybrid"),
        default="gigagan",
        help="quickstart only: our D, the reference's DCGAN D on our t_D, or a HybridDiscriminator (--hybrid)",
    )
    parser.add_argument(
        "--hybrid",
        default="strided:dcgan",
        help='with --discriminator hybrid: "TRUNK:HEAD", TRUNK strided|downblock|ours, '
        "HEAD dcgan|dense (HybridDiscriminator)",
    )
    parser.add_argument(
        "--predictions",
        default="",
        help='quickstart, our D only: the MS-I/O predictions in the loss, "d,s:d" by output depth d or '
        "(input level s, depth d), 0 = finest; default all",
    )
    parser.add_argument("--reference-conditioning", choices=("labels", "captions"), default="captions")
    parser.add_argument(
        "--reference-set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="a reference_gan.ReferenceSettings field, e.g. batch_size=16 or generator=gigagan",
    )
    parser.add_argument("--minutes", type=float, default=8.0, help="training wall-clock budget")
    parser.add_argument("--curve-every", type=float, default=2.0, help="minutes between curve points")
    parser.add_argument("--samples", type=int, default=160, help="subset prompts scored per curve point")
    parser.add_argument("--seed", type=int, default=0)
    add_subset_arguments(parser)
    parser.add_argument("--model-set", action="append", default=[], metavar="FIELD=JSON")
    parser.add_argument("--train-set", action="append", default=[], metavar="FIELD=JSON")
    parser.add_argument("--out", type=Path, default=None, help="run folder (default: runs/shape-sprint/<--json stem>)")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/shape_sprint.json"))
    parser.add_argument("--grid", type=Path, default=None, help="also save a PNG of 64 subset samples")
    args = parser.parse_args()
    args.out = args.out or Path("runs/shape-sprint") / (args.json.stem if args.json else "run")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    subset = subset_from_arguments(args)
    prompts = subset.prompts(args.samples, args.seed)
    started = time.perf_counter()

    def score(step: int, images_seen: int, sample) -> dict:
        accuracy = attribute_accuracy(sample(prompts, args.seed), [a for _, a in prompts])
        point = {"minutes": (time.perf_counter() - started) / 60, "step": step, "images_seen": images_seen, **accuracy}
        print(
            f"{point['minutes']:5.1f} min, step {step:5d}, {images_seen:7d} images: "
            + ", ".join(f"{k} {v:.2f}" for k, v in accuracy.items()),
            flush=True,
        )
        return point

    run = run_quickstart if args.model == "quickstart" else run_reference
    curve, grid = run(args, subset, score)
    if args.grid is not None:
        save_grid(grid, args.grid)
    chance = 1 / len(subset.values[0])
    write_result(
        args.json,
        {"args": {k: str(v) for k, v in vars(args).items()}, "shape_chance": chance, "curve": curve},
    )


if __name__ == "__main__":
    main()
