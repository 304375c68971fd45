"""GigaGANPipeline: per-image seeds, truncation, loading, output types."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gigagan.errors import GigaGANError
from gigagan.inference import GigaGANPipeline, seed_to_z
from gigagan.inference.pipeline import MEAN_W_SEED, to_unit_range
from gigagan.training.checkpoint import STATE_NAME, point_latest


def test_a_seed_gives_the_same_image_whatever_the_batch(pipe: GigaGANPipeline, prompts: tuple[str, ...]) -> None:
    crowd = pipe(list(prompts), num_images_per_prompt=3, seed=10, output_type="pt", batch_size=4)
    assert crowd.seeds == [10, 11, 12] * 3 and crowd.prompts[3:6] == [prompts[1]] * 3
    alone = pipe(prompts[1], seed=11, output_type="pt", batch_size=1)
    assert torch.allclose(crowd.images[4], alone.images[0], atol=1e-5)
    pair = pipe([prompts[2], prompts[1]], num_images_per_prompt=2, seed=11, output_type="pt", batch_size=3)
    assert torch.allclose(crowd.images[4], pair.images[2], atol=1e-5)
    again = pipe(list(prompts), num_images_per_prompt=3, seed=10, output_type="pt", batch_size=4)
    assert torch.equal(crowd.images, again.images)
    assert not torch.allclose(crowd.images[3], crowd.images[4])  # different seeds differ


def test_a_torch_generator_or_no_seed_reports_reproducible_seeds(
    pipe: GigaGANPipeline, prompts: tuple[str, ...]
) -> None:
    first = pipe(prompts[0], 2, generator=torch.Generator().manual_seed(3), output_type="pt")
    second = pipe(prompts[0], 2, generator=torch.Generator().manual_seed(3), output_type="pt")
    assert first.seeds == second.seeds and torch.equal(first.images, second.images)
    unseeded = pipe(prompts[0], output_type="pt")
    replay = pipe(prompts[0], seed=unseeded.seeds[0], output_type="pt")
    assert torch.equal(unseeded.images, replay.images)


def test_psi_one_is_exactly_no_truncation(pipe: GigaGANPipeline, prompts: tuple[str, ...]) -> None:
    prompts = [prompts[0], prompts[0], prompts[1]]
    out = pipe(prompts[:2] + prompts[2:], seed=5, output_type="pt", truncation_psi=1.0)
    generator = pipe.generator
    z = seed_to_z([5, 5, 5], generator.config.z_dim)
    with torch.no_grad():
        plain = generator(z, generator.tokenize(prompts), noise_mode="const")[0]
    assert torch.equal(out.images, to_unit_range(plain))


def test_psi_zero_gives_the_prompts_mean_w_image(pipe: GigaGANPipeline, prompts: tuple[str, ...]) -> None:
    out = pipe(prompts[1], 3, seed=0, output_type="pt", truncation_psi=0.0)
    # equal up to BLAS rounding: a batched matmul need not give bit-identical rows for equal inputs
    assert torch.allclose(out.images[0], out.images[1], atol=1e-5)
    assert torch.allclose(out.images[0], out.images[2], atol=1e-5)
    generator = pipe.generator
    with torch.no_grad():
        text = generator.encode_text(generator.tokenize([prompts[1]]))
        mean = generator.mean_w(text, pipe.mean_w_samples, generator=torch.Generator().manual_seed(MEAN_W_SEED))
        image = generator.synthesis(mean[:, None].expand(-1, generator.num_ws, -1), text.local, text.mask, "const")[0]
    assert torch.allclose(out.images[0], to_unit_range(image)[0], atol=1e-5)
    other = pipe(prompts[2], seed=0, output_type="pt", truncation_psi=0.0)
    assert not torch.allclose(out.images[0], other.images[0])  # the mean is per prompt
    half = pipe(prompts[1], seed=0, output_type="pt", truncation_psi=0.5).images[0]
    full = pipe(prompts[1], seed=0, output_type="pt").images[0]
    assert not torch.allclose(half, full) and not torch.allclose(half, out.images[0])


def test_output_types(pipe: GigaGANPipeline, prompts: tuple[str, ...]) -> None:
    pil = pipe(prompts[0], 2, seed=1).images
    assert len(pil) == 2 and isinstance(pil[0], Image.Image) and pil[0].size == (32, 32)
    array = pipe(prompts[0], 2, seed=1, output_type="np").images
    assert isinstance(array, np.ndarray) and array.dtype == np.uint8 and array.shape == (2, 32, 32, 3)
    assert np.array_equal(array[1], np.asarray(pil[1]))
    tensor = pipe(prompts[0], 2, seed=1, output_type="pt").images
    assert tensor.shape == (2, 3, 32, 32) and tensor.min() >= 0 and tensor.max() <= 1
    with pytest.raises(GigaGANError, match="output_type"):
        pipe(prompts[0], output_type="jpg")  # type: ignore[arg-type]


def test_long_prompts_are_truncated_with_a_warning(pipe: GigaGANPipeline) -> None:
    long_prompt = "a red circle " * 40
    with pytest.warns(UserWarning, match="truncated to 77"):
        out = pipe(long_prompt, seed=0, output_type="pt")
    assert out.images.shape[0] == 1


def test_bad_requests_are_user_errors(pipe: GigaGANPipeline, prompts: tuple[str, ...]) -> None:
    with pytest.raises(GigaGANError, match="no prompts"):
        pipe([])
    with pytest.raises(GigaGANError, match="at least 1"):
        pipe(prompts[0], num_images_per_prompt=0)
    with pytest.raises(GigaGANError, match="seed"):
        pipe(prompts[0], seed=-1)
    with pytest.raises(GigaGANError, match="unknown device"):
        GigaGANPipeline(pipe.generator, device="tpu")
    with pytest.raises(GigaGANError, match="dtype"):
        GigaGANPipeline(pipe.generator, device="cpu", dtype="float16")


def test_bfloat16_on_cpu_is_close_to_float32(checkpoint: Path, pipe: GigaGANPipeline, prompts: tuple[str, ...]) -> None:
    bf16 = GigaGANPipeline.from_pretrained(checkpoint, device="cpu", dtype="bfloat16")
    low = bf16(prompts[0], seed=2, output_type="pt").images
    full = pipe(prompts[0], seed=2, output_type="pt").images
    assert torch.isfinite(low).all() and (low - full).abs().mean() < 0.05


def test_loads_a_run_directory_and_its_latest(checkpoint: Path, tmp_path: Path) -> None:
    step = tmp_path / "run" / "checkpoints" / "step-00000007"
    shutil.copytree(checkpoint, step)
    (step / STATE_NAME).write_text(json.dumps({"step": 7}))
    point_latest(tmp_path / "run", step)
    weights = step / "generator.safetensors"
    expected = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    for path in (tmp_path / "run", tmp_path / "run" / "latest", step):
        loaded = GigaGANPipeline.from_pretrained(path, device="cpu")
        assert loaded.checkpoint_hash == expected


def test_missing_and_corrupt_checkpoints_are_user_errors(checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(GigaGANError, match="not found"):
        GigaGANPipeline.from_pretrained(tmp_path / "nowhere", device="cpu")
    with pytest.raises(GigaGANError, match="no checkpoint"):
        GigaGANPipeline.from_pretrained(tmp_path, device="cpu")
    broken = tmp_path / "broken"
    shutil.copytree(checkpoint, broken)
    weights = broken / "generator.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(GigaGANError, match="corrupt"):
        GigaGANPipeline.from_pretrained(broken, device="cpu")
