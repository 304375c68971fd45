"""Tiled inference: exact blending weights, agreement with untiled inference, no seams, 4K in
bounded memory."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F
from upsampler_configs import tiny_upsampler

from gigagan import GigaGANError
from gigagan.inference.tiling import axis_weights, plan_tiles, tile_starts, tiled_upsample, upsample_images
from gigagan.models.upsampler import Upsampler


def _smooth_image(size: tuple[int, int], seed: int = 0) -> torch.Tensor:
    """A test photo stand-in: smooth random colour fields in [-1, 1]."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, size[0] // 8, size[1] // 8, generator=generator) * 2 - 1
    return F.interpolate(coarse, size=size, mode="bicubic", align_corners=False).clamp(-1, 1)


def _model(attention: bool) -> Upsampler:
    model = Upsampler(tiny_upsampler(4, attention=attention)).eval()
    with torch.no_grad():  # switch the (zero-initialised) noise on, so the test covers it
        for name, parameter in model.named_parameters():
            if name.endswith("noise_strength"):
                parameter.fill_(0.5)
    return model


@pytest.mark.parametrize(("length", "tile", "overlap"), [(96, 48, 16), (100, 32, 8), (64, 64, 8), (250, 72, 30)])
def test_tile_grid_covers_and_weights_sum_to_one(length: int, tile: int, overlap: int) -> None:
    alignment = 2
    length = -(-length // alignment) * alignment
    starts = tile_starts(length, tile, overlap, alignment)
    assert starts[0] == 0 and starts[-1] + min(tile, length) == length
    assert all(s % alignment == 0 for s in starts)
    assert all(b - a <= tile - overlap for a, b in itertools.pairwise(starts))  # overlap at least `overlap`
    size = min(tile, length)
    weights = axis_weights([s * 4 for s in starts], size * 4, length * 4, ramp=overlap * 4)
    total = torch.zeros(length * 4, dtype=torch.float64)
    for start, weight in zip(starts, weights):
        assert weight.min() > 0
        total[start * 4 : start * 4 + size * 4] += weight
    assert torch.allclose(total, torch.ones_like(total), atol=1e-12)


def test_small_inputs_run_untiled_and_match_a_plain_forward() -> None:
    model = _model(attention=True)
    image = _smooth_image((32, 48))
    text = model.encode_text(model.tokenize("a red circle"))
    ws = model.map(torch.randn(1, model.config.z_dim), text)
    assert plan_tiles(32, 48, 64, 16, model.config.alignment).num_tiles == 1
    with torch.no_grad():
        direct = model.synthesize(image, ws, text.local, text.mask, noise_mode="const", noise_seed=3)[0]
        tiled = tiled_upsample(model, image, ws, text, tile_size=64, noise_mode="const", noise_seed=3)
    assert torch.equal(direct, tiled)


def test_tiled_and_untiled_agree_away_from_tile_borders() -> None:
    """A convolutional upsampler (no attention, which is global within a tile) run on 2x2 tiles gives
    the untiled result to float precision wherever the receptive field (about 20 input pixels for
    this model) stays inside the tile: the same z, w, prompt and position-keyed noise everywhere."""
    model = _model(attention=False)
    image = _smooth_image((128, 128))
    untiled = upsample_images(model, image, "a red circle", tile_size=128, seed=1)
    tiled = upsample_images(model, image, "a red circle", tile_size=80, overlap=32, seed=1)
    grid = plan_tiles(128, 128, 80, 32, model.config.alignment)
    assert grid.starts_y == grid.starts_x == [0, 48] and grid.num_tiles == 4
    inner_edges = torch.tensor([48.0, 80.0])  # where tile 1 starts and tile 0 ends (input pixels)
    centres = (torch.arange(128 * 4) + 0.5) / 4
    away = (centres[:, None] - inner_edges[None]).abs().min(dim=1).values >= 20
    mask = away[:, None] & away[None, :]
    difference = (tiled - untiled).abs()[0].amax(dim=0)
    assert mask.float().mean() > 0.15
    assert difference[mask].max() < 1e-4
    # inside the blend zones, where both tiles see their own borders, the blend stays close
    assert difference.mean() < 0.01 * untiled.std()


def _jump_ratios(image: torch.Tensor, k: int = 4) -> torch.Tensor:
    """Per column boundary: the mean |difference| across it over the mean of its 2k neighbours' (a
    seam is a boundary whose jump stands out from its neighbourhood). Both directions concatenated."""
    ratios = []
    for img in (image, image.transpose(-1, -2)):
        jumps = (img[..., 1:] - img[..., :-1]).abs().mean(dim=(0, 1, 2))
        window = F.avg_pool1d(jumps[None, None], 2 * k + 1, stride=1, padding=k, count_include_pad=False)[0, 0]
        neighbours = (window * (2 * k + 1) - jumps) / (2 * k)
        ratios.append((jumps / neighbours)[k:-k])
    return torch.cat(ratios)


def test_no_seam_across_tile_borders() -> None:
    """Seam bound: no pixel boundary of the blended tiled output jumps more than 1.3x its neighbours
    (the untiled output peaks near 1.15-1.2). Pasting the same tiles without overlap breaks the
    bound at the tile borders, which shows the measure detects seams. With attention on."""
    model = _model(attention=True)
    image = _smooth_image((96, 96))
    untiled = upsample_images(model, image, "a red circle", tile_size=96)
    blended = upsample_images(model, image, "a red circle", tile_size=48, overlap=16)
    pasted = upsample_images(model, image, "a red circle", tile_size=48, overlap=0)
    assert _jump_ratios(untiled).max() < 1.3
    assert _jump_ratios(blended).max() < min(1.3, _jump_ratios(untiled).max() + 0.1)
    assert _jump_ratios(pasted).max() > 1.5


def test_upsample_images_sizes_seeds_and_errors() -> None:
    model = _model(attention=True)
    image = _smooth_image((40, 56))[0, :, :37, :50]  # one [3, H, W] image of an unaligned size
    first = upsample_images(model, image, "a cube", tile_size=24, overlap=8, seed=5)
    assert first.shape == (3, 37 * 4, 50 * 4)
    assert torch.equal(first, upsample_images(model, image, "a cube", tile_size=24, overlap=8, seed=5))
    assert not torch.equal(first, upsample_images(model, image, "a cube", tile_size=24, overlap=8, seed=6))
    with pytest.raises(GigaGANError, match="2 prompts for 1 images"):
        upsample_images(model, image, ["a", "b"])
    with pytest.raises(GigaGANError, match="RGB"):
        upsample_images(model, image[:1])
    with pytest.raises(GigaGANError, match="overlap"):
        upsample_images(model, image, tile_size=16, overlap=16)


MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys, time
    import torch
    torch.set_num_threads(1)
    sys.path.insert(0, sys.argv[1])
    from upsampler_configs import tiny_upsampler
    from gigagan.inference.tiling import upsample_images
    from gigagan.models.upsampler import Upsampler

    config = tiny_upsampler(4)
    config.scale_factor = 16  # 256 -> 4096: six decoder levels 8 ... 4096 (as light as possible)
    config.channels, config.blocks = [16, 8, 8, 4, 4, 2], [1] * 6
    config.kernels, config.attention = [2, 2, 1, 1, 1, 1], [True] + [False] * 5
    model = Upsampler(config).eval()
    image = torch.rand(1, 3, 256, 256) * 2 - 1
    upsample_images(model, image[..., :16, :16], "a photo")  # warm up (tokenizer, kernels)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    out = upsample_images(model, image, "a photo", tile_size=72, overlap=8, tiles_per_batch=1, noise_mode="none")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "shape": list(out.shape), "finite": bool(torch.isfinite(out).all()),
        "growth_mib": (peak - base) / 1024, "output_mib": out.numel() * 4 / 2**20,
        "seconds": time.perf_counter() - start,
    }))
    """
)


@pytest.mark.slow
def test_4096_output_on_cpu_in_bounded_memory() -> None:
    """256x256 -> 4096x4096 (16 tiles of 72 input pixels). Stated bound: the process's peak RSS grows
    by at most the output (192 MiB) plus 512 MiB for one tile's working set; the untiled forward
    would hold 16.7M pixels x 8+ channels per activation (over 512 MiB each, several at once)."""
    from pathlib import Path

    result = subprocess.run(
        [sys.executable, "-c", MEMORY_SCRIPT, str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        timeout=300,
        env={"OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PATH": ""},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["shape"] == [1, 3, 4096, 4096] and report["finite"]
    assert report["growth_mib"] < report["output_mib"] + 512, report
