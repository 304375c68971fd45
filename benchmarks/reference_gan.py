"""A known-good reference for `shapes`: a minimal conditional DCGAN, and the bisection harness that
swaps GigaGAN's pieces into it one at a time.

The reference: four (transposed) convolutions on each side, batch-norm in G, a projection
discriminator (one logit per image: an unconditional linear head plus <embed(condition), pooled
features>), the non-saturating logistic loss, Adam 2e-4 with betas (0.5, 0.999), batch 64, no
regularisation. It is conditioned either on one-hot attribute labels (`--conditioning labels`) or
on the captions through the `quickstart` preset's text path (`--conditioning captions`: the frozen
toy CLIP tower's token embeddings and two learned text layers, one copy in G and one in D).

Flags swap in GigaGAN's generator (`--generator gigagan`) or discriminator (`--discriminator
gigagan`, the `quickstart` networks) and GigaGAN's training settings (R1, matching-aware loss,
learning rates, betas), so "why does our GAN not learn" becomes "which of these differences
matters". Every run trains for a wall-clock budget and scores the held-out prompts (attribute
combinations the training split never shows) with the shapes verifier, as `bench_quickstart.py`
does.

    .venv/bin/python benchmarks/reference_gan.py --conditioning labels --minutes 2
    .venv/bin/python benchmarks/reference_gan.py --conditioning captions --generator gigagan --minutes 8
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from _bench_common import write_result
from gigagan import get_preset
from gigagan.config import with_overrides
from gigagan.data.shapes import (
    COLORS,
    PALETTE,
    POSITIONS,
    SHAPES,
    SIZES,
    ShapeAttributes,
    caption,
    heldout_prompts,
    render,
    sample_attributes,
    to_tensor,
)
from gigagan.data.shapes_verifier import attribute_accuracy
from gigagan.models import Discriminator, Generator
from gigagan.models.clip import CLIPTokenizer
from gigagan.models.discriminator import DiscriminatorOutput
from gigagan.models.text import CLIPTextFeatures, CLIPTextTower, TextEncoding, TextLayers, trim_padding
from gigagan.nn import image_pyramid

RESOLUTION = 32
ATTRIBUTE_VALUES = {"shape": SHAPES, "color": COLORS, "background": COLORS, "size": SIZES, "position": POSITIONS}


def nested_overrides(assignments: list[str]) -> dict:
    """["a.b=JSON", ...] -> {"a": {"b": value}} (command-line config overrides for bisection runs)."""
    overrides: dict = {}
    for assignment in assignments:
        path, _, raw = assignment.partition("=")
        *parents, name = path.split(".")
        node = overrides
        for part in parents:
            node = node.setdefault(part, {})
        node[name] = json.loads(raw)
    return overrides


def empty_fields(attributes: list[ShapeAttributes], like: Tensor) -> Tensor:
    """Each image's background colour everywhere (the object painted out), shaped like `like`."""
    colours = torch.tensor([PALETTE[a.background] for a in attributes], dtype=torch.float32) / 127.5 - 1
    return colours[:, :, None, None].expand_as(like).contiguous()


def attribute_labels(attributes: list[ShapeAttributes]) -> Tensor:
    """[B, 5] long: the index of each attribute's value (shape, colour, background, size, position)."""
    return torch.tensor(
        [[values.index(getattr(a, name)) for name, values in ATTRIBUTE_VALUES.items()] for a in attributes]
    )


@dataclass
class Batch:
    images: Tensor  # [B, 3, 32, 32] in [-1, 1]
    attributes: list[ShapeAttributes]
    captions: list[str]
    labels: Tensor  # [B, 5]
    clip: CLIPTextFeatures | None = None  # frozen-tower features of `captions` (captions conditioning)


class ShapesStream:
    """Random training items of `shapes` (the same split and renderer as `gigagan train`)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def attributes(self, size: int) -> list[ShapeAttributes]:
        """`size` random items' attributes (subclasses draw from another distribution)."""
        indices = self.rng.integers(0, 2**31, size=size)
        return [sample_attributes(self.seed, int(i), "train") for i in indices]

    def batch(self, size: int) -> Batch:
        return self.batch_of(self.attributes(size))

    @staticmethod
    def batch_of(attributes: list[ShapeAttributes]) -> Batch:
        """The rendered, captioned and labelled batch of the given items."""
        images = torch.stack([to_tensor(render(a, RESOLUTION)) for a in attributes])
        return Batch(images, attributes, [caption(a) for a in attributes], attribute_labels(attributes))


# ---------------------------------------------------------------------------------------------
# Conditioning: a vector (and, for GigaGAN's G, tokens) from labels or captions


class LabelCondition(nn.Module):
    """One learned embedding per attribute value; tokens [B, 5, dim], their mean as the global code."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.tables = nn.ModuleList(nn.Embedding(len(values), dim) for values in ATTRIBUTE_VALUES.values())
        for table in self.tables:
            nn.init.normal_(table.weight, std=1.0)

    def forward(self, batch: Batch, clip: CLIPTextFeatures | None) -> TextEncoding:
        tokens = torch.stack([table(batch.labels[:, i]) for i, table in enumerate(self.tables)], dim=1)
        mask = torch.ones(tokens.shape[:2], dtype=torch.bool)
        return TextEncoding(local=tokens, mask=mask, global_=tokens.mean(dim=1))


class CaptionCondition(nn.Module):
    """The `quickstart` text path after the frozen tower: learned transformer layers, EOT as global."""

    def __init__(self, width: int, num_layers: int, num_heads: int, ff_mult: int) -> None:
        super().__init__()
        self.layers = TextLayers(width, num_layers, num_heads, ff_mult, equalized=False)  # trained at 0.0002

    def forward(self, batch: Batch, clip: CLIPTextFeatures | None) -> TextEncoding:
        assert clip is not None
        local, global_ = self.layers(clip)
        return TextEncoding(local=local, mask=clip.mask, global_=global_)


def prediction_counts(predictions: str, pair: tuple[int, int]) -> bool:
    """Whether the MS-I/O prediction of (input level, output depth) `pair` is in the loss: every one
    when `predictions` is "", else those whose depth ("d") or pair ("s:d") it lists (0 = finest)."""
    source, depth = pair
    items = [item.split(":") for item in predictions.split(",") if item]
    return not items or any(int(item[-1]) == depth and (len(item) == 1 or int(item[0]) == source) for item in items)


def select_predictions(out: DiscriminatorOutput, predictions: str) -> DiscriminatorOutput:
    """`out` with only the MS-I/O predictions that `prediction_counts` keeps (all for "")."""
    keep = [k for k, pair in enumerate(out.pairs) if prediction_counts(predictions, pair)]
    return replace(
        out,
        multiscale=[out.multiscale[k] for k in keep],
        mismatched=[out.mismatched[k] for k in keep] if out.mismatched else [],
        pairs=[out.pairs[k] for k in keep],
    )


class FrozenText:
    """The `quickstart` preset's frozen toy CLIP tower and tokenizer (shared by G and D)."""

    def __init__(self) -> None:
        text = get_preset("quickstart").generator.text
        self.config = text
        self.tower = CLIPTextTower(text.clip, text.clip_layer, False, text.clip_features)
        self.tokenizer = CLIPTokenizer(text.clip)

    @torch.no_grad()
    def __call__(self, captions: list[str]) -> CLIPTextFeatures:
        (tokens,) = trim_padding(self.tokenizer(captions))
        return self.tower(tokens)


def make_condition(kind: str, dim: int) -> nn.Module:
    if kind == "labels":
        return LabelCondition(dim)
    text = get_preset("quickstart").generator.text
    return CaptionCondition(dim, text.num_layers, text.num_heads, text.ff_mult)


# ---------------------------------------------------------------------------------------------
# Networks: the reference DCGAN pair, and adapters that give GigaGAN's networks the same interface


class DCGANGenerator(nn.Module):
    """[z, condition] -> 4x4x256 -> 8 -> 16 -> 32 px (transposed convolutions, batch-norm, ReLU, tanh)."""

    def __init__(self, condition: nn.Module, z_dim: int = 64, cond_dim: int = 128, width: int = 64) -> None:
        super().__init__()
        self.condition = condition
        self.z_dim = z_dim
        self.project = nn.Sequential(
            nn.ConvTranspose2d(z_dim + cond_dim, width * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(width * 4), nn.ReLU()
        )
        self.body = nn.Sequential(
            nn.ConvTranspose2d(width * 4, width * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(width * 2),
            nn.ReLU(),
            nn.ConvTranspose2d(width * 2, width, 4, 2, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.ConvTranspose2d(width, 3, 4, 2, 1),
            nn.Tanh(),
        )

    def forward(self, z: Tensor, batch: Batch, clip: CLIPTextFeatures | None) -> list[Tensor]:
        code = self.condition(batch, clip).global_
        x = torch.cat([z, code], dim=1)[:, :, None, None]
        return [self.body(self.project(x))]


class DCGANDiscriminator(nn.Module):
    """32 -> 16 -> 8 -> 4 px (strided convolutions, leaky ReLU), then one logit per image:
    linear(features) + <embed(condition), sum-pooled features> (projection discriminator)."""

    def __init__(self, condition: nn.Module, cond_dim: int = 128, width: int = 64) -> None:
        super().__init__()
        self.condition = condition
        self.body = nn.Sequential(
            nn.Conv2d(3, width, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, width * 2, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width * 2, width * 4, 4, 2, 1),
            nn.LeakyReLU(0.2),
        )
        self.to_logit = nn.Conv2d(width * 4, 1, 4, 1, 0)
        self.embed = nn.Linear(cond_dim, width * 4)

    def forward(
        self, pyramid: list[Tensor], batch: Batch, clip: CLIPTextFeatures | None, wrong: Batch | None = None
    ) -> tuple[list[Tensor], list[Tensor]]:
        h = self.body(pyramid[0])
        unconditional = self.to_logit(h).flatten(1)
        pooled = h.sum(dim=(2, 3))
        logits = [unconditional + (pooled * self.embed(self.condition(batch, clip).global_)).sum(1, keepdim=True)]
        mismatched = []
        if wrong is not None:
            code = self.condition(wrong, wrong.clip).global_
            mismatched = [unconditional + (pooled * self.embed(code)).sum(1, keepdim=True)]
        return logits, mismatched


class GigaGANGeneratorAdapter(nn.Module):
    """The `quickstart` generator, its text path fed by the reference's conditioning."""

    def __init__(self, condition: nn.Module, noise_mode: str) -> None:
        super().__init__()
        self.generator = Generator(get_preset("quickstart").generator)
        self.generator.text_encoder.requires_grad_(False)  # replaced by `condition`
        self.condition = condition
        self.z_dim = self.generator.config.z_dim
        self.noise_mode = noise_mode

    def forward(self, z: Tensor, batch: Batch, clip: CLIPTextFeatures | None) -> list[Tensor]:
        text = self.condition(batch, clip)
        return self.generator(z, text=text, noise_mode=self.noise_mode if self.training else "const")


class GigaGANDiscriminatorAdapter(nn.Module):
    """The `quickstart` discriminator (MS-I/O, no vision-aided branch); t_D from the reference's
    conditioning through D's own text MLP."""

    def __init__(
        self,
        condition: nn.Module,
        dense_final_head: bool,
        overrides: list[str] = (),
        own_text: bool = False,
        predictions: str = "",
    ) -> None:
        super().__init__()
        self.predictions = predictions
        config = get_preset("quickstart").discriminator
        config.vision_aided = None
        config.dense_final_head = dense_final_head
        config = with_overrides(config, nested_overrides(list(overrides)))
        self.discriminator = Discriminator(config)
        self.own_text = own_text  # D's own text branch on the frozen tower's features (captions only)
        if not own_text:
            self.discriminator.text_branch.layers.requires_grad_(False)  # replaced by `condition`
        self.condition = condition
        self.num_levels = self.discriminator.num_levels

    def t_d(self, batch: Batch, clip: CLIPTextFeatures | None) -> Tensor:
        if self.own_text:
            assert clip is not None, "own_text needs captions conditioning"
            return self.discriminator.text_branch(clip)
        return self.discriminator.text_branch.mlp(self.condition(batch, clip).global_)

    def forward(
        self, pyramid: list[Tensor], batch: Batch, clip: CLIPTextFeatures | None, wrong: Batch | None = None
    ) -> tuple[list[Tensor], list[Tensor]]:
        if len(pyramid) == 1:
            pyramid = image_pyramid(pyramid[0], self.num_levels)
        wrong_t = self.t_d(wrong, wrong.clip) if wrong is not None else None
        out = self.discriminator(pyramid, self.t_d(batch, clip), use_vision_aided=False, mismatched_text=wrong_t)
        self.last_pairs = out.pairs
        out = select_predictions(out, self.predictions)
        return out.multiscale, out.mismatched


# ---------------------------------------------------------------------------------------------
# Training


@dataclass
class ReferenceSettings:
    conditioning: str = "labels"  # labels | captions
    generator_conditioning: str = ""  # labels | captions for G alone; "" = conditioning
    discriminator_conditioning: str = ""  # the same for D
    generator: str = "dcgan"  # dcgan | gigagan
    discriminator: str = "dcgan"  # dcgan | gigagan
    dense_final_head: bool = False  # GigaGAN D only: DiscriminatorConfig.dense_final_head
    discriminator_set: str = ""  # GigaGAN D only: "field=JSON;field=JSON" DiscriminatorConfig overrides
    # GigaGAN D only: the MS-I/O predictions in the loss, "d,s:d,..." by output depth d or (input
    # level s, depth d), 0 = finest; "" = all
    discriminator_predictions: str = ""
    minutes: float = 2.0
    batch_size: int = 64
    lr_generator: float = 2e-4
    lr_discriminator: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    r1_gamma: float = 0.0
    r1_interval: int = 16
    matching_aware_weight: float = 0.0  # D: real images under wrong captions count as fake
    generator_matching_weight: float = 0.0  # G: as GigaGANLoss, rewarded when rejected under a wrong caption
    noise_mode: str = "random"  # GigaGAN G only
    seed: int = 0
    threads: int = 1
    eval_every_minutes: float = 2.0
    eval_samples: int = 256


def non_saturating(logits: list[Tensor], real: bool) -> Tensor:
    """Mean over predictions of softplus(-l) (real) or softplus(l) (fake), each averaged over positions."""
    return torch.stack([F.softplus(-x if real else x).mean() for x in logits]).mean()


def shifted_batch(batch: Batch) -> Batch:
    """The batch with every caption / label moved to the next sample (a wrong condition, mostly)."""
    order = torch.roll(torch.arange(len(batch.captions)), 1).tolist()
    wrong = Batch(
        batch.images,
        [batch.attributes[i] for i in order],
        [batch.captions[i] for i in order],
        batch.labels[order],
    )
    return wrong


class ReferenceTrainer:
    def __init__(self, settings: ReferenceSettings) -> None:
        self.settings = settings
        torch.manual_seed(settings.seed)
        g_conditioning = settings.generator_conditioning or settings.conditioning
        d_conditioning = settings.discriminator_conditioning or settings.conditioning
        self.text = FrozenText() if "captions" in (g_conditioning, d_conditioning) else None
        dim = self.text.tower.width if self.text else 128
        if settings.generator == "dcgan":
            self.generator = DCGANGenerator(make_condition(g_conditioning, dim), cond_dim=dim)
        else:
            self.generator = GigaGANGeneratorAdapter(make_condition(g_conditioning, dim), settings.noise_mode)
        if settings.discriminator == "dcgan":
            self.discriminator = DCGANDiscriminator(make_condition(d_conditioning, dim), cond_dim=dim)
        else:
            self.discriminator = GigaGANDiscriminatorAdapter(
                make_condition(d_conditioning, dim),
                settings.dense_final_head,
                [item for item in settings.discriminator_set.split(";") if item],
                predictions=settings.discriminator_predictions,
            )
        betas = (settings.beta1, settings.beta2)
        self.opt_g = torch.optim.Adam(
            [p for p in self.generator.parameters() if p.requires_grad], settings.lr_generator, betas
        )
        self.opt_d = torch.optim.Adam(
            [p for p in self.discriminator.parameters() if p.requires_grad], settings.lr_discriminator, betas
        )
        self.data = ShapesStream(settings.seed)
        self.step = 0
        self.log: list[dict[str, float]] = []

    def clip(self, batch: Batch) -> CLIPTextFeatures | None:
        return self.text(batch.captions) if self.text is not None else None

    def train_step(self) -> dict[str, float]:
        s = self.settings
        batch = self.data.batch(s.batch_size)
        clip = self.clip(batch)
        wrong = None
        if s.matching_aware_weight > 0 or s.generator_matching_weight > 0:
            wrong = shifted_batch(batch)
            wrong.clip = self.clip(wrong)

        # D main
        z = torch.randn(s.batch_size, self.generator.z_dim)
        with torch.no_grad():
            fake = [x.detach() for x in self.generator(z, batch, clip)]
        real_logits, mismatched = self.discriminator(
            [batch.images], batch, clip, wrong if s.matching_aware_weight > 0 else None
        )
        fake_logits, _ = self.discriminator(fake, batch, clip)
        d_loss = non_saturating(real_logits, True) + non_saturating(fake_logits, False)
        if mismatched:
            d_loss = d_loss + s.matching_aware_weight * non_saturating(mismatched, False)
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()

        # D regularisation: lazy R1 on reals
        r1 = torch.zeros(())
        if s.r1_gamma > 0 and self.step % s.r1_interval == 0:
            images = batch.images.detach().requires_grad_(True)
            logits, _ = self.discriminator([images], batch, clip)
            score = torch.stack([x.mean(dim=1) for x in logits]).mean(dim=0).sum()
            (gradient,) = torch.autograd.grad(score, images, create_graph=True)
            r1 = gradient.square().flatten(1).sum(1).mean()
            self.opt_d.zero_grad(set_to_none=True)
            (r1 * s.r1_gamma / 2 * s.r1_interval).backward()
            self.opt_d.step()

        # G main
        z = torch.randn(s.batch_size, self.generator.z_dim)
        fake = self.generator(z, batch, clip)
        use_wrong = wrong if s.generator_matching_weight > 0 else None
        logits, mismatched = self.discriminator(fake, batch, clip, use_wrong)
        g_loss = non_saturating(logits, True)
        if mismatched:
            g_loss = g_loss + s.generator_matching_weight * non_saturating(mismatched, False)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()

        self.step += 1
        return {
            "D/loss": float(d_loss.detach()),
            "G/loss": float(g_loss.detach()),
            "D/logits_real": float(torch.stack([x.detach().mean() for x in real_logits]).mean()),
            "D/logits_fake": float(torch.stack([x.detach().mean() for x in fake_logits]).mean()),
            "D/r1": float(r1.detach()),
        }

    @torch.no_grad()
    def sample(self, prompts: list[tuple[str, ShapeAttributes]], seed: int) -> Tensor:
        """The generator's images for (caption, attributes) prompts, z drawn from `seed`."""
        self.generator.eval()
        noise = torch.Generator().manual_seed(seed)
        images = []
        for start in range(0, len(prompts), 64):
            chunk = prompts[start : start + 64]
            attributes = [a for _, a in chunk]
            batch = Batch(torch.empty(0), attributes, [c for c, _ in chunk], attribute_labels(attributes))
            z = torch.randn(len(chunk), self.generator.z_dim, generator=noise)
            images.append(self.generator(z, batch, self.clip(batch))[0].clamp(-1, 1))
        self.generator.train()
        return torch.cat(images)

    def evaluate(self, count: int, seed: int = 0) -> dict[str, float]:
        prompts = heldout_prompts(count, seed=seed)
        return attribute_accuracy(self.sample(prompts, seed), [a for _, a in prompts])

    def run(
        self,
        on_eval: Callable[[dict], None] | None = None,
        evaluate: Callable[[], dict[str, float]] | None = None,
    ) -> dict:
        """Train for the budget; every `eval_every_minutes` of training time score `evaluate()`
        (default: `eval_samples` held-out prompts) into the curve."""
        s = self.settings
        evaluate = evaluate or (lambda: self.evaluate(s.eval_samples))
        started = time.perf_counter()
        curve = []
        train_seconds = 0.0
        while train_seconds < s.minutes * 60:
            tick = time.perf_counter()
            stats = self.train_step()
            train_seconds += time.perf_counter() - tick
            if self.step % 25 == 0:
                self.log.append({"step": self.step, **stats})
            if train_seconds >= (len(curve) + 1) * s.eval_every_minutes * 60 or train_seconds >= s.minutes * 60:
                point = {"minutes": train_seconds / 60, "step": self.step, **evaluate()}
                curve.append(point)
                if on_eval:
                    on_eval(point)
        return {"settings": asdict(s), "curve": curve, "log": self.log, "wall_seconds": time.perf_counter() - started}


def setting_value(default: object, text: str) -> object:
    """A command-line value for a ReferenceSettings field, typed like its default."""
    return text.lower() in ("1", "true", "yes") if isinstance(default, bool) else type(default)(text)


def format_row(point: dict) -> str:
    keys = ("shape", "color", "background", "size", "position", "all")
    return f"{point['minutes']:5.1f} min, step {point['step']:5d}: " + ", ".join(f"{k} {point[k]:.2f}" for k in keys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = ReferenceSettings()
    for name, value in asdict(defaults).items():
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, type=functools.partial(setting_value, value), default=value)
    parser.add_argument("--json", type=Path, default=None, help="default: benchmarks/results/reference_<tag>.json")
    parser.add_argument("--grid", type=Path, default=None, help="also save a PNG of 64 held-out samples")
    args = parser.parse_args()
    settings = ReferenceSettings(**{k: getattr(args, k) for k in asdict(defaults)})
    torch.set_num_threads(settings.threads)
    tag = f"{settings.generator}G_{settings.discriminator}D_{settings.conditioning}"
    if settings.generator_conditioning or settings.discriminator_conditioning:
        tag += f"_G{settings.generator_conditioning or settings.conditioning}"
        tag += f"_D{settings.discriminator_conditioning or settings.conditioning}"
    trainer = ReferenceTrainer(settings)
    print(f"reference GAN {tag}: {settings}")

    def on_eval(point: dict) -> None:
        last = trainer.log[-1] if trainer.log else {}
        print(format_row(point), "|", ", ".join(f"{k} {v:.3f}" for k, v in last.items() if k != "step"), flush=True)

    result = trainer.run(on_eval)
    if args.grid is not None:
        save_grid(trainer.sample(heldout_prompts(64, seed=1), seed=1), args.grid)
    write_result(args.json or Path(f"benchmarks/results/reference_{tag}.json"), result)


def save_grid(images: Tensor, path: Path, columns: int = 8) -> None:
    from PIL import Image

    rows = math.ceil(len(images) / columns)
    size = images.shape[-1]
    canvas = torch.ones(3, rows * (size + 2), columns * (size + 2))
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        canvas[:, r * (size + 2) : r * (size + 2) + size, c * (size + 2) : c * (size + 2) + size] = (image + 1) / 2
    array = (canvas.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).resize((array.shape[1] * 3, array.shape[0] * 3), Image.NEAREST).save(path)


if __name__ == "__main__":
    main()
