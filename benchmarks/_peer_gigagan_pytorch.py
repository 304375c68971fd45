"""Benchmark worker for the peer, `gigagan-pytorch==0.3.0`, run by bench_networks.py inside the
separate virtual environment `.bench-venv` (it must not import our `gigagan` package).

Usage (one measurement per process, so ru_maxrss is that measurement's peak):
    .bench-venv/bin/python benchmarks/_peer_gigagan_pytorch.py --measure train --batch 4 --iters 2

No network: the peer's `OpenClipAdapter` defaults to `pretrained='laion400m_e32'`, which makes
open_clip download weights. We build every adapter ourselves with `pretrained=None` (random
initialisation, same ViT-B/32 architecture) and pass it to the peer's `TextEncoder`s, and the
parent sets HF_HUB_OFFLINE=1 so any download that slipped through would fail at once.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from _bench_common import all_finite, emit, peak_rss_mb, prompts_for, time_phases

# Constructor arguments of the peer's small text-conditioned 64px model. The `dim_capacity=8,
# style_network=dict(dim=64, depth=4), dim_max=512, num_skip_layers_excite=4` part is the peer
# README's example; a text-conditioned model also needs a text encoder and
# `style_network.dim_text_latent` equal to its width (64, one layer). With the README's defaults
# (dim_latent=512; discriminator dim_max=512) G has 10.35M and D 34.5M trainable parameters;
# dim_latent=256 and a discriminator dim_max=256 give the 5.59M G / 15.92M D that the project's
# peer facts quote ("5.57M text G ... and 15.9M D at 64px").
TEXT_DIM = 64
GENERATOR_ARGS: dict[str, Any] = {
    "image_size": 64,
    "dim_capacity": 8,
    "dim_max": 512,
    "dim_latent": 256,
    "style_network": {"dim": 64, "depth": 4, "dim_text_latent": TEXT_DIM},
    "num_skip_layers_excite": 4,
    "unconditional": False,
}
DISCRIMINATOR_ARGS: dict[str, Any] = {
    "image_size": 64,
    "dim_capacity": 16,
    "dim_max": 256,
    "num_skip_layers_excite": 4,
    "unconditional": False,
}
TEXT_ENCODER_ARGS: dict[str, Any] = {"dim": TEXT_DIM, "depth": 1}
# Everything else of the peer's GigaGAN trainer stays at its defaults (hinge losses, multiscale
# weight 0.1, matching-aware weight 0.1, auxiliary reconstruction, CLIP contrastive loss weight 0.1,
# AdamW lr 2e-4 betas (0.5, 0.9)), except the options listed in `build_trainer`.


def offline_clip() -> nn.Module:
    """The peer's CLIP adapter (ViT-B/32, text and image towers) with random weights: no download."""
    from gigagan_pytorch.open_clip import OpenClipAdapter

    return OpenClipAdapter(name="ViT-B/32", pretrained=None, tokenizer_name="ViT-B-32-quickgelu")


def build_networks() -> tuple[nn.Module, nn.Module]:
    """The peer's Generator and Discriminator, each with its own frozen CLIP as its defaults would
    build (a `TextEncoder` without `clip=` creates a fresh adapter)."""
    from gigagan_pytorch import Discriminator, Generator, TextEncoder

    generator = Generator(**GENERATOR_ARGS, text_encoder=TextEncoder(**TEXT_ENCODER_ARGS, clip=offline_clip()))
    discriminator = Discriminator(
        **DISCRIMINATOR_ARGS, text_encoder=TextEncoder(**TEXT_ENCODER_ARGS, clip=offline_clip())
    )
    return generator, discriminator


def count_trainable(module: nn.Module) -> int:
    """Parameters with requires_grad (the peer freezes its CLIP towers), as our count_parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def count_frozen(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if not p.requires_grad)


def describe(generator: nn.Module, discriminator: nn.Module) -> dict[str, Any]:
    """Parameter counts and the constructor arguments, for the JSON report."""
    import gigagan_pytorch

    return {
        "params_g": count_trainable(generator),
        "params_d": count_trainable(discriminator),
        "frozen_params": count_frozen(generator) + count_frozen(discriminator),
        "resolution": GENERATOR_ARGS["image_size"],
        "config": {
            "package": f"gigagan-pytorch=={getattr(gigagan_pytorch, '__version__', '0.3.0')}",
            "generator": GENERATOR_ARGS,
            "discriminator": DISCRIMINATOR_ARGS,
            "text_encoder (G and D each)": {**TEXT_ENCODER_ARGS, "clip": "OpenClipAdapter ViT-B/32, random init"},
        },
    }


def measure_forward(batch: int, warmup: int, iters: int) -> dict[str, Any]:
    """Generator forward at `batch`, text pre-encoded by the peer's text encoder (CLIP + its layer)."""
    generator, discriminator = build_networks()
    generator.eval()
    prompts = prompts_for(batch)
    with torch.no_grad():
        global_tokens, fine_tokens, mask = generator.text_encoder(texts=prompts)

    def step() -> dict[str, float]:
        noise = torch.randn(batch, generator.style_network_dim)
        with torch.no_grad():
            generator(
                noise=noise,
                global_text_tokens=global_tokens,
                fine_text_tokens=fine_tokens,
                text_mask=mask,
                return_all_rgbs=True,
            )
        return {}

    timing = time_phases(step, warmup, iters)
    return {**describe(generator, discriminator), "batch": batch, **timing}


def infinite_batches(batch: int, size: int) -> Iterator[tuple[torch.Tensor, list[str]]]:
    """What the peer's trainer expects from its dataloader: (images in [0, 1], captions)."""
    prompts = prompts_for(batch)
    while True:
        yield torch.rand(batch, 3, size, size), list(prompts)


def build_trainer(generator: nn.Module, discriminator: nn.Module, workdir: str) -> Any:
    """The peer's own GigaGAN trainer around our two networks.

    Deviations from its defaults: no EMA generator (ours has none in the timed step; the peer's
    would also deep-copy G's CLIP), and folders in a temporary directory.
    """
    from gigagan_pytorch import GigaGAN

    return GigaGAN(
        generator=generator,
        discriminator=discriminator,
        create_ema_generator_at_init=False,
        model_folder=os.path.join(workdir, "models"),
        results_folder=os.path.join(workdir, "results"),
        amp=False,
    )


def loss_values(losses: Any) -> list[float]:
    """The numeric fields of a peer loss namedtuple (None for skipped terms is ignored)."""
    values = []
    for value in losses:
        if isinstance(value, torch.Tensor):
            values.append(float(value.detach()))
        elif isinstance(value, (int, float)):
            values.append(float(value))
    return values


def measure_train(batch: int, warmup: int, iters: int) -> dict[str, Any]:
    """One training step of the peer's own trainer: `train_discriminator_step` then
    `train_generator_step`, exactly as its `GigaGAN.forward` loop calls them, with
    `apply_gradient_penalty=False` (its loop adds the gradient penalty on every 4th step; our timed
    step has no R1 either) and `calc_multiscale_loss=True` (its default, every step)."""
    generator, discriminator = build_networks()
    info = describe(generator, discriminator)
    finite: list[bool] = []
    with tempfile.TemporaryDirectory(prefix="peer-bench-") as workdir:
        trainer = build_trainer(generator, discriminator, workdir)
        data = infinite_batches(batch, GENERATOR_ARGS["image_size"])

        def step() -> dict[str, float]:
            start = time.perf_counter()
            d_losses = trainer.train_discriminator_step(
                dl_iter=data, apply_gradient_penalty=False, calc_multiscale_loss=True
            )
            middle = time.perf_counter()
            g_losses = trainer.train_generator_step(batch_size=batch, dl_iter=data, calc_multiscale_loss=True)
            end = time.perf_counter()
            finite.append(all_finite(loss_values(d_losses) + loss_values(g_losses)))
            return {"d_phase": middle - start, "g_phase": end - middle}

        timing = time_phases(step, warmup, iters)
    return {**info, "batch": batch, **timing, "losses_finite": all(finite)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--measure", choices=["forward", "train", "params"], required=True)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--iters", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.measure == "forward":
        result = measure_forward(args.batch, args.warmup, args.iters)
    elif args.measure == "train":
        result = measure_train(args.batch, args.warmup, args.iters)
    else:
        result = describe(*build_networks())
    result["torch_version"] = torch.__version__
    result["peak_rss_mb"] = peak_rss_mb()
    emit(result)


if __name__ == "__main__":
    main()
