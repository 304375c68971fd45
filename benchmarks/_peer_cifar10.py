"""Train the peer, `gigagan-pytorch==0.3.0` (lucidrains' GigaGAN), text-conditioned on CIFAR-10 at
32x32 with its own trainer `gigagan_pytorch.GigaGAN` for a wall-clock budget on CPU, then write
generated images as class folders that `gigagan eval --real <test> --fake DIR/fakes` can score.

Runs in the separate virtual environment `.bench-venv` (see benchmarks/README.md); it must not,
and does not, import our `gigagan` package:

    .bench-venv/bin/python benchmarks/_peer_cifar10.py --minutes 60 --num-images 3000 --out DIR \\
        [--batch-size 32] [--seed 0] [--threads 2] [--dim-capacity 8] [--dim-max 256] \\
        [--dim-latent 256] [--d-dim-capacity 16] [--d-dim-max 256] [--style-dim 64] [--text-dim 64] \\
        [--attn-resolutions 16] [--tarball PATH] [--grid PATH] [--aligned-captions] \\
        [--memory-limit-gb GB] [--params-only]

Output: DIR/fakes/<class>/<index>.png (uint8 32x32 RGB, equal shares per class, prompt
"a photo of a {class}"), optionally a --grid PNG (one row per class, 8 columns), and a JSON report
printed as the last stdout line and written to DIR/peer.json. `--params-only` prints the parameter
counts (trainable G and D, frozen CLIP) as JSON and exits, so a caller can match model sizes (at
32 px G's widths are dim_capacity * (16, 8, 4, 2) capped at dim_max, after a dim_latent-wide 4x4
block, so dim_max only matters from dim_capacity 16 and dim_latent is the largest single knob).
Progress lines go to stderr. Exit code 2, with a one-line message, when gigagan_pytorch is not
installed, the CIFAR-10 tarball is missing or DIR/fakes already holds files; exit code 3 when
training runs out of memory.

What is the peer's default (unchanged):
- GigaGAN trainer: its `get_optimizer` for G and D, lr 2e-4, betas (0.5, 0.9). That is AdamW with
  weight decay 0.01 on weights of two or more dimensions: GigaGAN passes `weight_decay=0.` under a
  name `get_optimizer` ignores (it reads `wd`, default 1e-2), so 0.01 is what the peer really runs.
  Hinge losses, multiscale divergence weight 0.1 (computed every step), discriminator auxiliary
  reconstruction weight 1, matching-aware loss weight 0.1, generator CLIP contrastive loss weight
  0.1, no vision-aided discriminator, no DiffAugment, fp32 (amp=False).
- Its gradient penalty (on real and fake inputs, weight 10) on every 4th step
  (`apply_gradient_penalty_every=4`), decided from the trainer's own `steps` counter exactly as
  `GigaGAN.forward` does.
- EMA generator kept (`create_ema_generator_at_init=True`: ema_pytorch, decay 0.995 with its
  warm-up schedule, updated every 10 steps, a plain copy up to step 100); images are generated with
  `GigaGAN.generate`, i.e. with the EMA generator. Practical on CPU: the EMA deep-copies G with its
  frozen CLIP (+0.6 GB) and its update every 10 steps costs well under a second.
- Generator/Discriminator architecture defaults other than the size flags and the attention
  resolutions (2 adaptive kernels, D multiscale inputs 16 and 8, aux recon at 8, ...). G has no
  output activation: its images are clamped to [0, 1] as its `save_sample` does; early in training
  they sit far outside that range, so samples look like flat saturated colours.
- Images as its `ImageDataset` gives them: float in [0, 1], random horizontal flip (its
  `augment_horizontal_flip` option).

What deviates, and why:
- Attention resolutions: default 16 (G self- and cross-attention, D self-attention) instead of the
  peer's (32, 16). Those defaults suit its 64 px and larger images, where 32x32 is an inner stage;
  at 32 px it is full resolution, 1,024 tokens with dense attention (1 GiB per attention map at
  batch 32). Measured on this 2-core, 24 GB machine, one thread, batch 32: with (32, 16) a step
  without penalty took 173 s and the gradient-penalty step failed to allocate under a 20 GB limit
  (so it cannot run here); with 16 a step took about 95 s, the penalty step about 118 s, peak RSS
  16.3 GB. `--attn-resolutions 32,16` restores the peer's defaults where memory allows.
- CLIP: each `TextEncoder` (G's and D's, as its defaults would build two) gets a ViT-B/32
  `OpenClipAdapter` with `pretrained=None` (random init; the default downloads laion400m weights
  and this machine has no network). HF_HUB_OFFLINE=1 is set at start. The adapter is a subclass of
  the peer's `OpenClipAdapter` that memoises `embed_texts` per caption: the CLIP is frozen, has no
  dropout and CIFAR-10 has only ten captions, so the cached result equals the recomputed one, but
  without it every step would run the CLIP text transformer (about 6 GFLOP per caption) on every
  caption of the batch eight times. The image tower, used by the contrastive loss, still runs every
  step. Passed through the public `clip=` argument; nothing of the peer is monkeypatched.
- Training loop: instead of `GigaGAN.forward(steps=N)` we call its `train_discriminator_step` and
  `train_generator_step` ourselves with the same gradient-penalty / multiscale schedule and
  increment `trainer.steps` as it does. Reasons: the budget is wall clock, not a step count, and
  `forward` runs `save_sample` on step 1 and every 100 steps up to 2,500, each writing a ~2 GB
  checkpoint (G, D and EMA, each with its CLIP) and sample grids, which is not training. Batches
  come from an in-memory iterator over the preloaded training set instead of a DataLoader passed
  to `set_dataloader` (which only wraps it for accelerate on one CPU process): the 50,000 training
  images are decoded once into a uint8 tensor (seconds).
- Memory guard: the process's address space is capped (RLIMIT_AS, default 90% of RAM) so that an
  oversized step fails cleanly (exit 3) instead of invoking the kernel's OOM killer on a shared
  machine.
- Known peer behaviour (0.3.0), kept unless --aligned-captions: `train_discriminator_step` pairs
  the real images of one batch with the captions of the *next* batch (the one `generate_kwargs`
  draws for the fakes), and its matching-aware loss groups the real batch's own captions instead of
  the rotated list it builds, so it pushes D's logits for real images with their *correct* captions
  towards "fake". With CIFAR-10's ten classes, D's main loss sees real images with a wrong class
  caption about 90% of the time. `--aligned-captions` (no change to the peer) makes the iterator
  give the two batches one discriminator step draws the same caption list (fresh images of the
  same classes), so D's main loss sees real images with their own captions; the number of batches
  drawn per step is checked so the pairing cannot drift.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NoReturn

os.environ["HF_HUB_OFFLINE"] = "1"  # before anything imports huggingface_hub: never download

import torch

from cifar10_data import DEFAULT_TARBALL, cifar10_folders

PEER_VERSION = "0.3.0"
INSTALL_HINT = (
    "python3 -m venv .bench-venv && printf 'torch==2.14.1\\ntorchvision==0.29.1\\n' > "
    ".bench-venv/peer-constraints.txt && .bench-venv/bin/pip install -c .bench-venv/peer-constraints.txt "
    f"torch==2.14.1 torchvision==0.29.1 gigagan-pytorch=={PEER_VERSION}"
)
CAPTION = "a photo of a {}"
IMAGE_SIZE = 32
GRID_COLUMNS = 8
LOG_EVERY = 20  # the peer's log_steps_every
DRAWS_PER_STEP = 3  # D step: real batch + caption batch for the fakes; G step: caption batch


def fail(message: str) -> NoReturn:
    """One-line error on stderr, exit code 2."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(2)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def require_peer() -> Any:
    try:
        import gigagan_pytorch
        import gigagan_pytorch.version
    except ImportError as error:
        fail(f"gigagan_pytorch is not importable in {sys.executable} ({error}); install it with: {INSTALL_HINT}")
    return gigagan_pytorch


# ------------------------------------------------------------------------------------------------
# Networks


def caching_clip() -> torch.nn.Module:
    """The peer's OpenClipAdapter (ViT-B/32, random init, no download) with `embed_texts` memoised
    per caption. Exact: the adapter is frozen (TextEncoder freezes it) and has no dropout."""
    from gigagan_pytorch.open_clip import OpenClipAdapter

    class CachingOpenClipAdapter(OpenClipAdapter):
        def __init__(self) -> None:
            super().__init__(name="ViT-B/32", pretrained=None, tokenizer_name="ViT-B-32-quickgelu")
            self.text_cache: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

        def embed_texts(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
            missing = [text for text in dict.fromkeys(texts) if text not in self.text_cache]
            if missing:
                with torch.no_grad():
                    embeds, encodings = super().embed_texts(missing)
                for index, text in enumerate(missing):
                    self.text_cache[text] = (embeds[index].clone(), encodings[index].clone())
            embeds = torch.stack([self.text_cache[text][0] for text in texts])
            encodings = torch.stack([self.text_cache[text][1] for text in texts])
            return embeds, encodings

    return CachingOpenClipAdapter()


def constructor_args(args: argparse.Namespace) -> dict[str, Any]:
    """Peer constructor arguments from the size flags (everything else at the peer's defaults)."""
    return {
        "generator": {
            "image_size": IMAGE_SIZE,
            "dim_capacity": args.dim_capacity,
            "dim_max": args.dim_max,
            "dim_latent": args.dim_latent,
            "style_network": {"dim": args.style_dim, "depth": 4, "dim_text_latent": args.text_dim},
            "self_attn_resolutions": args.attn_resolutions,
            "cross_attn_resolutions": args.attn_resolutions,
            "unconditional": False,
        },
        "discriminator": {
            "image_size": IMAGE_SIZE,
            "dim_capacity": args.d_dim_capacity,
            "dim_max": args.d_dim_max,
            "attn_resolutions": args.attn_resolutions,
            "unconditional": False,
        },
        "text_encoder (G and D each)": {
            "dim": args.text_dim,
            "depth": 1,
            "clip": "OpenClipAdapter ViT-B/32, pretrained=None (random init), embed_texts memoised",
        },
    }


def build_networks(config: dict[str, Any]) -> tuple[torch.nn.Module, torch.nn.Module]:
    from gigagan_pytorch import Discriminator, Generator, TextEncoder

    text_args = {key: value for key, value in config["text_encoder (G and D each)"].items() if key != "clip"}
    generator = Generator(**config["generator"], text_encoder=TextEncoder(**text_args, clip=caching_clip()))
    discriminator = Discriminator(**config["discriminator"], text_encoder=TextEncoder(**text_args, clip=caching_clip()))
    return generator, discriminator


def count(module: torch.nn.Module, trainable: bool) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad == trainable)


# ------------------------------------------------------------------------------------------------
# Data


def load_split(folder: Path) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """All images of a class-folder split as one uint8 tensor (N, 3, 32, 32), labels, class names."""
    import numpy as np
    from PIL import Image

    classes = sorted(entry.name for entry in folder.iterdir() if entry.is_dir())
    arrays, labels = [], []
    for label, name in enumerate(classes):
        for path in sorted((folder / name).iterdir()):
            if path.suffix.lower() not in {".jpg", ".jpeg", ".png"}:
                continue
            with Image.open(path) as image:
                array = np.asarray(image.convert("RGB"), dtype=np.uint8)
            if array.shape != (IMAGE_SIZE, IMAGE_SIZE, 3):
                raise ValueError(f"{path}: expected {IMAGE_SIZE}x{IMAGE_SIZE} RGB, got {array.shape}")
            arrays.append(array)
            labels.append(label)
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    return images, torch.tensor(labels), classes


class Batches:
    """Infinite iterator of (images float [0, 1] (B, 3, 32, 32), captions list[str]), what the peer's
    trainer expects from its dataloader: shuffled epochs without replacement, random horizontal flip.

    aligned=True: of every DRAWS_PER_STEP draws (one training step), the second one repeats the
    first one's class list with other random images of those classes, so the discriminator step
    sees the real images with their own captions (see the module docstring).
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        classes: list[str],
        batch_size: int,
        seed: int,
        aligned: bool,
    ) -> None:
        self.images, self.labels, self.classes = images, labels, classes
        self.batch_size, self.aligned = batch_size, aligned
        self.rng = torch.Generator().manual_seed(seed)
        self.order = torch.empty(0, dtype=torch.long)
        self.position = 0
        self.draws = 0
        self.by_class = [torch.nonzero(labels == label).flatten() for label in range(len(classes))]
        self.last_labels = torch.empty(0, dtype=torch.long)

    def __iter__(self) -> Batches:
        return self

    def next_indices(self) -> torch.Tensor:
        if self.position + self.batch_size > len(self.order):
            self.order = torch.randperm(len(self.labels), generator=self.rng)
            self.position = 0
        indices = self.order[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        return indices

    def same_classes(self, labels: torch.Tensor) -> torch.Tensor:
        picks = [
            self.by_class[label][torch.randint(len(self.by_class[label]), (1,), generator=self.rng)]
            for label in labels.tolist()
        ]
        return torch.cat(picks)

    def __next__(self) -> tuple[torch.Tensor, list[str]]:
        if self.aligned and self.draws % DRAWS_PER_STEP == 1:
            indices = self.same_classes(self.last_labels)
        else:
            indices = self.next_indices()
        self.draws += 1
        labels = self.labels[indices]
        self.last_labels = labels
        images = self.images[indices].float().div_(255.0)
        flip = torch.rand(len(indices), generator=self.rng) < 0.5
        images[flip] = images[flip].flip(-1)
        return images, [CAPTION.format(self.classes[label]) for label in labels.tolist()]


# ------------------------------------------------------------------------------------------------
# Training and generation


def loss_dict(prefix: str, losses: Any) -> dict[str, float | None]:
    """A peer loss namedtuple as {name: float or None}."""
    values: dict[str, float | None] = {}
    for name, value in losses._asdict().items():
        if isinstance(value, torch.Tensor):
            values[f"{prefix}{name}"] = float(value.detach())
        elif isinstance(value, (int, float)):
            values[f"{prefix}{name}"] = float(value)
        else:
            values[f"{prefix}{name}"] = None
    return values


def train(trainer: Any, batches: Batches, batch_size: int, budget_s: float) -> dict[str, Any]:
    """The body of `GigaGAN.forward` (same GP / multiscale schedule, same step counter), one step at
    a time until the first step that ends past `budget_s`; without its save_sample/checkpoints."""
    steps = 0
    finite = True
    first_nonfinite_step = None
    loss_log: list[dict[str, Any]] = []
    start = time.perf_counter()
    while True:
        trainer_step = int(trainer.steps.item())
        apply_gp = trainer.apply_gradient_penalty_every > 0 and trainer_step % trainer.apply_gradient_penalty_every == 0
        multiscale = trainer.calc_multiscale_loss_every > 0 and trainer_step % trainer.calc_multiscale_loss_every == 0
        draws_before = batches.draws
        d_losses = trainer.train_discriminator_step(
            dl_iter=batches, grad_accum_every=1, apply_gradient_penalty=apply_gp, calc_multiscale_loss=multiscale
        )
        trainer.accelerator.wait_for_everyone()
        g_losses = trainer.train_generator_step(
            dl_iter=batches, batch_size=batch_size, grad_accum_every=1, calc_multiscale_loss=multiscale
        )
        trainer.steps += 1
        steps += 1
        if batches.draws - draws_before != DRAWS_PER_STEP:
            raise RuntimeError(
                f"the peer drew {batches.draws - draws_before} batches in one step, expected {DRAWS_PER_STEP}"
            )
        losses = {**loss_dict("d_", d_losses), **loss_dict("g_", g_losses)}
        step_finite = all(math.isfinite(v) for v in losses.values() if v is not None)
        if not step_finite and finite:
            first_nonfinite_step = trainer_step
        finite = finite and step_finite
        elapsed = time.perf_counter() - start
        if steps == 1 or trainer_step % LOG_EVERY == 0:
            loss_log.append({"step": trainer_step, "seconds": round(elapsed, 1), "gp": apply_gp, **losses})
            shown = " ".join(f"{k}={v:.3f}" for k, v in losses.items() if v is not None)
            log(f"step {trainer_step} {elapsed:.0f}s ({steps / elapsed:.3f} steps/s) {shown}")
        if elapsed >= budget_s:
            break
    return {
        "steps": steps,
        "train_seconds": elapsed,
        "losses_finite": finite,
        "first_nonfinite_step": first_nonfinite_step,
        "loss_log": loss_log,
    }


def generate(trainer: Any, captions: list[str], seed: int, style_dim: int) -> torch.Tensor:
    """uint8 (N, 3, 32, 32) images for `captions` with `GigaGAN.generate` (the EMA generator)."""
    torch.manual_seed(seed)  # the generator's per-layer noise uses the global RNG
    noise = torch.randn(len(captions), style_dim, generator=torch.Generator().manual_seed(seed))
    images = trainer.generate(noise=noise, texts=captions, batch_size=len(captions))
    return images.clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8)


def write_fakes(
    trainer: Any, classes: list[str], num_images: int, seed: int, style_dim: int, fakes: Path, chunk: int = 100
) -> dict[str, int]:
    """num_images PNGs in equal shares per class (the first num_images % classes get one more)."""
    from PIL import Image

    counts = {name: num_images // len(classes) + (i < num_images % len(classes)) for i, name in enumerate(classes)}
    for class_index, name in enumerate(classes):
        folder = fakes / name
        folder.mkdir(parents=True, exist_ok=True)
        for offset in range(0, counts[name], chunk):
            n = min(chunk, counts[name] - offset)
            chunk_seed = seed * 1_000_003 + class_index * 10_007 + offset
            images = generate(trainer, [CAPTION.format(name)] * n, chunk_seed, style_dim)
            for i, image in enumerate(images.permute(0, 2, 3, 1).numpy()):
                Image.fromarray(image, "RGB").save(folder / f"{offset + i:05d}.png")
    return counts


def write_grid(trainer: Any, classes: list[str], seed: int, style_dim: int, path: Path) -> None:
    """One row per class, GRID_COLUMNS samples each, 2 px padding."""
    from torchvision.utils import save_image

    captions = [CAPTION.format(name) for name in classes for _ in range(GRID_COLUMNS)]
    images = generate(trainer, captions, seed + 1, style_dim)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(images.float() / 255.0, str(path), nrow=GRID_COLUMNS, padding=2)


# ------------------------------------------------------------------------------------------------


def resolutions(text: str) -> tuple[int, ...]:
    """'32,16' -> (32, 16); '' -> ()."""
    return tuple(int(part) for part in text.replace(" ", "").split(",") if part)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0, help="training wall-clock budget")
    parser.add_argument("--num-images", type=int, default=3000, help="images to generate, equal shares per class")
    parser.add_argument("--out", type=Path, help="output folder (fakes/, peer.json)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--dim-capacity", type=int, default=8, help="Generator dim_capacity")
    parser.add_argument("--dim-max", type=int, default=256, help="Generator dim_max")
    parser.add_argument("--dim-latent", type=int, default=256, help="Generator dim_latent (4x4 block width)")
    parser.add_argument("--d-dim-capacity", type=int, default=16, help="Discriminator dim_capacity")
    parser.add_argument("--d-dim-max", type=int, default=256, help="Discriminator dim_max")
    parser.add_argument("--style-dim", type=int, default=64, help="StyleNetwork dim (noise width)")
    parser.add_argument("--text-dim", type=int, default=64, help="TextEncoder dim = StyleNetwork dim_text_latent")
    parser.add_argument(
        "--attn-resolutions",
        type=resolutions,
        default=(16,),
        help="resolutions with attention: G self- and cross-attention, D self-attention "
        "(default 16; the peer's default is 32,16, see the docstring; '' for none)",
    )
    parser.add_argument(
        "--memory-limit-gb",
        type=float,
        default=None,
        help="address-space limit (RLIMIT_AS) so that running out of memory fails cleanly "
        "instead of waking the OOM killer; default 90%% of RAM, 0 for none",
    )
    parser.add_argument("--tarball", type=Path, default=DEFAULT_TARBALL, help="CIFAR-10 JPEG tarball")
    parser.add_argument("--grid", type=Path, help="also write a class-by-row sample grid PNG here")
    parser.add_argument(
        "--aligned-captions",
        action="store_true",
        help="give the two batches of each discriminator step the same captions (see docstring)",
    )
    parser.add_argument("--params-only", action="store_true", help="print the parameter counts as JSON and exit")
    args = parser.parse_args()
    if not args.params_only and args.out is None:
        parser.error("--out is required (unless --params-only)")
    if args.num_images < 0 or args.batch_size < 2 or args.minutes < 0:
        parser.error("--num-images must be >= 0, --batch-size >= 2, --minutes >= 0")
    return args


def total_ram_gb() -> float:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    return 0.0


def limit_memory(limit_gb: float | None) -> float | None:
    """Cap this process's address space (soft RLIMIT_AS); returns the limit in GiB or None."""
    if limit_gb is None:
        limit_gb = round(0.9 * total_ram_gb(), 1)
    if not limit_gb or limit_gb <= 0:
        return None
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = int(limit_gb * 2**30)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    return round(limit / 2**30, 2)


def is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, MemoryError) or "can't allocate memory" in str(error)


def main() -> None:
    args = parse_args()
    peer = require_peer()
    memory_limit_gb = limit_memory(args.memory_limit_gb)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    config = constructor_args(args)
    peer_version = peer.version.__version__

    started = time.perf_counter()
    if not args.params_only:  # check the inputs before spending time on the networks
        out: Path = args.out
        fakes = out / "fakes"
        if fakes.exists() and any(fakes.iterdir()):
            fail(f"{fakes} already holds files; remove it or choose another --out")
        try:
            train_folder, _test_folder = cifar10_folders(args.tarball)
        except FileNotFoundError as error:
            fail(f"{error} (give --tarball PATH)")
    generator, discriminator = build_networks(config)
    counts = {
        "params_g": count(generator, trainable=True),
        "params_d": count(discriminator, trainable=True),
        "frozen_params": count(generator, trainable=False) + count(discriminator, trainable=False),
    }
    log(f"peer G {counts['params_g']:,} / D {counts['params_d']:,} trainable, {counts['frozen_params']:,} frozen")
    if args.params_only:
        print(json.dumps({**counts, "config": config, "peer_version": peer_version}))
        return

    images, labels, classes = load_split(train_folder)
    log(f"loaded {len(images):,} training images of {len(classes)} classes from {train_folder}")

    from gigagan_pytorch import GigaGAN

    workdir = Path(tempfile.mkdtemp(prefix="peer-cifar10-"))
    try:
        with contextlib.redirect_stdout(sys.stderr):  # its parameter-count printout; stdout is for the JSON
            trainer = GigaGAN(
                generator=generator,
                discriminator=discriminator,
                model_folder=str(workdir / "models"),  # never written: we do not call save_sample
                results_folder=str(workdir / "results"),
                amp=False,
            )
        batches = Batches(images, labels, classes, args.batch_size, args.seed, args.aligned_captions)
        build_seconds = time.perf_counter() - started
        log(f"built and loaded in {build_seconds:.0f}s; training for {args.minutes:g} min")
        try:
            result = train(trainer, batches, args.batch_size, args.minutes * 60.0)
        except (RuntimeError, MemoryError) as error:
            if not is_out_of_memory(error):
                raise
            print(
                f"error: out of memory at trainer step {int(trainer.steps.item())} (batch {args.batch_size}, "
                f"attention at {args.attn_resolutions}, limit {memory_limit_gb} GiB); the step with the "
                "gradient penalty (every 4th) needs the most: try a smaller --batch-size or --attn-resolutions",
                file=sys.stderr,
                flush=True,
            )
            raise SystemExit(3) from None

        gen_start = time.perf_counter()
        per_class = write_fakes(trainer, classes, args.num_images, args.seed, args.style_dim, fakes)
        if args.grid is not None:
            write_grid(trainer, classes, args.seed, args.style_dim, args.grid)
        generate_seconds = time.perf_counter() - gen_start
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    assert "gigagan" not in sys.modules, "our gigagan package must not be imported here"

    steps, train_seconds = result["steps"], result["train_seconds"]
    report = {
        "steps": steps,
        "images_seen": steps * args.batch_size,
        "batches_drawn": batches.draws,
        "train_seconds": round(train_seconds, 2),
        "steps_per_second": steps / train_seconds,
        "images_per_second": steps * args.batch_size / train_seconds,
        "generate_seconds": round(generate_seconds, 2),
        "build_and_load_seconds": round(build_seconds, 2),
        **counts,
        "batch_size": args.batch_size,
        "budget_minutes": args.minutes,
        "num_images": args.num_images,
        "images_per_class": per_class,
        "fakes": str(fakes),
        "grid": str(args.grid) if args.grid else None,
        "seed": args.seed,
        "threads": args.threads,
        "losses_finite": result["losses_finite"],
        "first_nonfinite_step": result["first_nonfinite_step"],
        "final_losses": result["loss_log"][-1] if result["loss_log"] else None,
        "aligned_captions": args.aligned_captions,
        "ema_generator": trainer.has_ema_generator,
        "config": config,
        "trainer": {
            "optimizer": type(getattr(trainer.G_opt, "optimizer", trainer.G_opt)).__name__,
            "learning_rate": trainer.G_opt.param_groups[0]["lr"],
            "betas": list(trainer.G_opt.param_groups[0]["betas"]),
            "weight_decay": trainer.G_opt.param_groups[0].get("weight_decay", 0.0),
            "apply_gradient_penalty_every": trainer.apply_gradient_penalty_every,
            "calc_multiscale_loss_every": trainer.calc_multiscale_loss_every,
            "ema": "create_ema_generator_at_init=True: ema_pytorch, updated every 10 steps, a copy up to step 100, "
            "then decay warming up towards 0.995",
            "other": "all GigaGAN defaults (loss weights, no vision-aided D, no DiffAugment, amp=False)",
        },
        "peer_version": peer_version,
        "torch_version": torch.__version__,
        "memory_limit_gb": memory_limit_gb,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "loss_log": result["loss_log"],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "peer.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
