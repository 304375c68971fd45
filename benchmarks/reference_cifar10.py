"""The known-good reference on CIFAR-10: the plain class-conditional DCGAN of `reference_gan.py`
(four (transposed) convolutions on each side, batch-norm in G, a projection discriminator, the
non-saturating loss, Adam 2e-4 with betas (0.5, 0.999), batch 64, no regularisation, no
augmentation), conditioned on the class label, trained for a wall-clock budget.

`bench_cifar10.py` trains it beside our `cifar10-small` preset and the peer; on its own:

    .venv/bin/python benchmarks/reference_cifar10.py --minutes 5 --num-images 500 --out /tmp/ref-cifar10

writes `--num-images` samples (equal shares per class) as `OUT/fakes/<class>/<index>.png` for
`gigagan eval --real <test folder> --fake OUT/fakes`, a per-class grid, and `OUT/reference.json`.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from _bench_common import write_result
from cifar10_data import DEFAULT_TARBALL, cifar10_folders
from gigagan.models.text import TextEncoding
from reference_gan import DCGANDiscriminator, DCGANGenerator, non_saturating

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
SAMPLE_STATISTICS = ("running", "batch")


@dataclass
class ClassBatch:
    """What the reference networks' condition reads: one class index per image."""

    labels: Tensor  # [B] long


class ClassCondition(nn.Module):
    """One learned embedding per class, as the global code (and a single token)."""

    def __init__(self, num_classes: int, dim: int) -> None:
        super().__init__()
        self.table = nn.Embedding(num_classes, dim)
        nn.init.normal_(self.table.weight, std=1.0)

    def forward(self, batch: ClassBatch, clip: None = None) -> TextEncoding:
        code = self.table(batch.labels)
        return TextEncoding(local=code[:, None], mask=torch.ones(len(code), 1, dtype=torch.bool), global_=code)


def class_names(folder: Path) -> list[str]:
    """The class sub-folders of `folder`, sorted."""
    return sorted(path.name for path in folder.iterdir() if path.is_dir())


def load_class_folders(folder: Path, classes: list[str]) -> tuple[Tensor, Tensor]:
    """Every image of the class folders as uint8 [N, 3, 32, 32] and their class indices [N]."""
    images, labels = [], []
    for index, name in enumerate(classes):
        for path in sorted((folder / name).iterdir()):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                with Image.open(path) as image:
                    images.append(np.asarray(image.convert("RGB").resize((32, 32), Image.BICUBIC)))
                labels.append(index)
    pixels = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    return pixels, torch.tensor(labels)


def to_unit_range(pixels: Tensor) -> Tensor:
    return pixels.float() / 127.5 - 1.0


def to_pixels(images: Tensor) -> np.ndarray:
    """[B, 3, H, W] in [-1, 1] -> uint8 [B, H, W, 3]."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def write_fakes(pixels: np.ndarray, labels: Tensor, classes: list[str], out: Path) -> None:
    """uint8 [B, H, W, 3] images as `out/<class>/<index>.png`, the layout `gigagan eval --fake` reads
    as labelled by class."""
    for index, (image, label) in enumerate(zip(pixels, labels.tolist())):
        folder = out / classes[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{index:06d}.png")


def class_grid(pixels: np.ndarray, labels: Tensor, num_classes: int, columns: int = 8) -> Image.Image:
    """One row per class of uint8 [B, H, W, 3] images: its first `columns` (rows with fewer stay black)."""
    size = pixels.shape[1]
    grid = np.zeros((num_classes * size, columns * size, 3), dtype=np.uint8)
    for label in range(num_classes):
        for column, index in enumerate((labels == label).nonzero().flatten()[:columns].tolist()):
            grid[label * size : (label + 1) * size, column * size : (column + 1) * size] = pixels[index]
    return Image.fromarray(grid)


def balanced_labels(count: int, num_classes: int) -> Tensor:
    """`count` class indices in equal shares (the first classes get one more when it does not divide)."""
    return torch.arange(count) % num_classes


class ReferenceCIFAR10:
    """The reference DCGAN pair, its optimisers, and the training data in memory."""

    def __init__(self, train_folder: Path, seed: int = 0, batch_size: int = 64, dim: int = 128) -> None:
        torch.manual_seed(seed)
        self.classes = class_names(train_folder)
        self.pixels, self.labels = load_class_folders(train_folder, self.classes)
        self.generator = DCGANGenerator(ClassCondition(len(self.classes), dim), cond_dim=dim)
        self.discriminator = DCGANDiscriminator(ClassCondition(len(self.classes), dim), cond_dim=dim)
        betas = (0.5, 0.999)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), 2e-4, betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), 2e-4, betas)
        self.batch_size = batch_size
        self.rng = torch.Generator().manual_seed(seed)
        self.step = 0

    def real_batch(self) -> tuple[Tensor, ClassBatch]:
        """A random batch of training images (each flipped left-right with probability 1/2)."""
        index = torch.randint(0, len(self.labels), (self.batch_size,), generator=self.rng)
        images = to_unit_range(self.pixels[index])
        flip = torch.rand(self.batch_size, generator=self.rng) < 0.5
        images = torch.where(flip[:, None, None, None], images.flip(-1), images)
        return images, ClassBatch(self.labels[index])

    def train_step(self) -> dict[str, float]:
        images, batch = self.real_batch()
        z = torch.randn(self.batch_size, self.generator.z_dim)
        fake = self.generator(z, batch, None)
        real_logits, _ = self.discriminator([images], batch, None)
        fake_logits, _ = self.discriminator([fake[0].detach()], batch, None)
        d_loss = non_saturating(real_logits, True) + non_saturating(fake_logits, False)
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()

        g_logits, _ = self.discriminator(fake, batch, None)
        g_loss = non_saturating(g_logits, True)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        self.step += 1
        return {"G": g_loss.item(), "D": d_loss.item()}

    def train(self, minutes: float, report_every: int = 200) -> float:
        """Train until `minutes` of wall clock have passed; returns the seconds spent."""
        start = time.perf_counter()
        while time.perf_counter() - start < minutes * 60:
            losses = self.train_step()
            if self.step % report_every == 0:
                print(f"reference step {self.step}: G {losses['G']:.3f} D {losses['D']:.3f}", flush=True)
        return time.perf_counter() - start

    @torch.no_grad()
    def sample(self, labels: Tensor, seed: int = 0, statistics: str = "running") -> Tensor:
        """Images for the given class indices. `statistics`: what G's batch-norm normalises with,
        "running" (eval mode, the running averages) or "batch" (train mode, as in training: the
        labels are drawn in a shuffled order in batches of the training size, so each batch mixes
        classes as a training batch does; the images come back in the order of `labels`)."""
        if statistics not in SAMPLE_STATISTICS:
            raise ValueError(f"statistics must be one of {SAMPLE_STATISTICS}, got {statistics!r}")
        self.generator.train(statistics == "batch")
        noise = torch.Generator().manual_seed(seed)
        z = torch.randn(len(labels), self.generator.z_dim, generator=noise)
        order = torch.randperm(len(labels), generator=noise) if statistics == "batch" else torch.arange(len(labels))
        images = torch.empty(len(labels), 3, 32, 32)
        for start in range(0, len(labels), self.batch_size):
            rows = order[start : start + self.batch_size]
            images[rows] = self.generator(z[rows], ClassBatch(labels[rows]), None)[0]
        self.generator.train()
        return images


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def run(
    train_folder: Path,
    minutes: float,
    num_images: int,
    out: Path,
    seed: int = 0,
    statistics: str = "running",
    other_statistics: bool = False,
) -> dict:
    """Train the reference for `minutes`, write `num_images` fakes and a grid under `out` (batch-norm
    `statistics` as in `ReferenceCIFAR10.sample`); its summary. With `other_statistics` the samples of
    the other batch-norm mode go to `out/fakes-<mode>` and `out/grid-<mode>.png` too."""
    started = time.perf_counter()
    reference = ReferenceCIFAR10(train_folder, seed)
    load_seconds = time.perf_counter() - started
    train_seconds = reference.train(minutes)
    started = time.perf_counter()
    labels = balanced_labels(num_images, len(reference.classes))
    pixels = to_pixels(reference.sample(labels, seed, statistics))
    write_fakes(pixels, labels, reference.classes, out / "fakes")
    class_grid(pixels, labels, len(reference.classes)).save(out / "grid.png")
    if other_statistics:
        (other,) = set(SAMPLE_STATISTICS) - {statistics}
        other_pixels = to_pixels(reference.sample(labels, seed, other))
        write_fakes(other_pixels, labels, reference.classes, out / f"fakes-{other}")
        class_grid(other_pixels, labels, len(reference.classes)).save(out / f"grid-{other}.png")
    summary = {
        "model": "reference DCGAN (class labels)",
        "steps": reference.step,
        "images_seen": reference.step * reference.batch_size,
        "batch_size": reference.batch_size,
        "load_seconds": load_seconds,
        "train_seconds": train_seconds,
        "generate_seconds": time.perf_counter() - started,
        "params_g": count_parameters(reference.generator),
        "params_d": count_parameters(reference.discriminator),
        "threads": torch.get_num_threads(),
        "batch_norm_statistics": statistics,
        "fakes": str(out / "fakes"),
        "grid": str(out / "grid.png"),
    }
    write_result(out / "reference.json", summary)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0, help="training wall-clock budget")
    parser.add_argument("--num-images", type=int, default=500, help="samples written, equal shares per class")
    parser.add_argument("--out", type=Path, default=Path("runs/reference-cifar10"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tarball", type=Path, default=DEFAULT_TARBALL)
    parser.add_argument(
        "--statistics", choices=SAMPLE_STATISTICS, default="running", help="G's batch-norm statistics when sampling"
    )
    parser.add_argument(
        "--other-statistics", action="store_true", help="also write the other mode's samples (OUT/fakes-<mode>)"
    )
    args = parser.parse_args()
    train_folder, _ = cifar10_folders(args.tarball)
    args.out.mkdir(parents=True, exist_ok=True)
    summary = run(
        train_folder, args.minutes, args.num_images, args.out, args.seed, args.statistics, args.other_statistics
    )
    print(f"reference: {summary['steps']} steps ({summary['images_seen']} images) in {args.minutes:g} min")


if __name__ == "__main__":
    main()
