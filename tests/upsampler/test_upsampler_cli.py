"""The upsampler on the command line: info/presets, train-upsampler, upsample (sizes, modes, bad input)
and generate --upsampler."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gigagan import get_preset
from gigagan.cli import main
from gigagan.models import Generator
from gigagan.models.upsampler import Upsampler


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out, captured.err


def assert_one_line_error(code: int, out: str, err: str, match: str) -> None:
    assert code == 2, (out, err)
    assert err.strip().count("\n") == 0 and match in err, err
    assert "Traceback" not in err + out


@pytest.mark.parametrize(
    ("preset", "millions", "low", "high"),
    [("upsampler-64to256", 359.1, 64, 256), ("upsampler-128to1024", 693.0, 128, 1024)],
)
def test_info_json_reports_the_paper_sizes(
    preset: str, millions: float, low: int, high: int, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["info", "--preset", preset, "--json"], capsys)
    assert code == 0
    payload = json.loads(out)
    assert abs(payload["upsampler_params"] / 1e6 - millions) < 0.05 * millions
    assert payload["upsampler_discriminator_params"] > 0 and 123e6 < payload["frozen_clip_params"] < 124.5e6
    assert (payload["input_resolution"], payload["resolution"], payload["scale_factor"]) == (low, high, high // low)
    assert [level["resolution"] for level in payload["decoder_levels"]][-1] == high
    assert sum(level["params"] for level in payload["decoder_levels"]) == payload["upsampler_parts"]["decoder"]


def test_info_table_and_presets_list_the_upsamplers(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["info", "--preset", "upsampler-tiny"], capsys)
    assert code == 0 and "Upsampler decoder" in out and "64x64" in out and "minibatch-std" in out
    code, out, _ = run(["presets"], capsys)
    assert code == 0 and all(name in out for name in ("upsampler-tiny", "upsampler-128to1024", "giga"))


def test_train_upsampler_then_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common = ["train-upsampler", "--out", str(tmp_path / "run"), "--no-progress", "--device", "cpu"]
    options = ["--data", "shapes", "--batch-size", "2", "--sample-every", "0", "--input-noise", "0,0.02"]
    code, out, err = run([*common, *options, "--max-steps", "2", "--unconditional", "--degrade"], capsys)
    assert code == 0, err
    code, out, err = run([*common, "--max-steps", "3", "--resume"], capsys)
    assert code == 0 and "trained 3 steps" in out, err
    code, out, err = run([*common, "--max-steps", "4", "--resume", "--processes", "2"], capsys)  # two CPU ranks
    assert code == 0, err
    assert json.loads((tmp_path / "run" / "latest" / "training_state.json").read_text())["step"] == 4
    saved = json.loads((tmp_path / "run" / "latest" / "config.json").read_text())["training"]
    assert saved["unconditional"] and saved["degrade"] and saved["input_noise"] == [0.0, 0.02]
    Upsampler.from_pretrained(tmp_path / "run" / "latest")
    code, out, err = run([*common, "--preset", "upsampler-huge"], capsys)
    assert_one_line_error(code, out, err, "unknown upsampler preset")


def _write_inputs(folder: Path) -> dict[str, tuple[int, int]]:
    """Pictures in modes that must be converted; name -> (width, height)."""
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (20, 30, 4), dtype=np.uint8), "RGBA").save(folder / "rgba.png")
    Image.fromarray(rng.integers(0, 65535, (12, 18), dtype=np.uint16)).save(folder / "grey16.png")
    Image.new("CMYK", (10, 14), (10, 200, 30, 40)).save(folder / "cmyk.jpg")
    Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8), "L").save(folder / "grey.webp")
    return {"rgba.png": (30, 20), "grey16.png": (18, 12), "cmyk.jpg": (10, 14), "grey.webp": (16, 16)}


def test_upsample_writes_every_image_at_the_scale_factor(
    upsampler_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sizes = _write_inputs(tmp_path)
    paths = [str(tmp_path / name) for name in sizes]
    out = tmp_path / "out"
    argv = ["upsample", *paths, "--checkpoint", str(upsampler_dir), "--out", str(out), "--device", "cpu"]
    code, _, err = run([*argv, "--prompt", "a red circle", "--seed", "3"], capsys)
    assert code == 0, err
    for name, (width, height) in sizes.items():
        with Image.open(out / f"{Path(name).stem}-x4.png") as image:
            assert image.size == (4 * width, 4 * height) and image.mode == "RGB"
            assert image.text["prompt"] == "a red circle" and image.text["source"] == name
    first = (out / "rgba-x4.png").read_bytes()
    tiled = tmp_path / "tiled"
    tiled_argv = ["upsample", *paths, "--checkpoint", str(upsampler_dir), "--out", str(tiled), "--device", "cpu"]
    code, _, err = run(
        [*tiled_argv, "--prompt", "a red circle", "--seed", "3", "--tile-size", "8", "--overlap", "4"], capsys
    )
    assert code == 0, err
    for name, (width, height) in sizes.items():  # tiles smaller than every input: still the scale factor
        with Image.open(tiled / f"{Path(name).stem}-x4.png") as image:
            assert image.size == (4 * width, 4 * height) and image.mode == "RGB"
    code, _, _ = run([*argv, "--prompt", "a red circle", "--seed", "3"], capsys)
    assert (out / "rgba-x4.png").read_bytes() == first  # reproducible


def _smooth_picture(path: Path, width: int, height: int) -> None:
    """A photo stand-in: smooth random colour fields, as an 8-bit RGB PNG."""
    coarse = torch.rand(1, 3, height // 8, width // 8, generator=torch.Generator().manual_seed(0))
    smooth = torch.nn.functional.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=False)
    pixels = smooth.clamp(0, 1)[0].permute(1, 2, 0).mul(255).round().to(torch.uint8).numpy()
    Image.fromarray(pixels).save(path)


def test_tiled_upsample_agrees_with_untiled(
    upsampler_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What tiling promises (inference/tiling.py): the same z, prompt and position-keyed noise in every
    tile, blended seamlessly. A 112x24 input cut into two 64-pixel tiles (starts 0 and 48, so inner tile
    edges at input x = 48 and 64) gives the untiled picture, up to PNG rounding, wherever the model's
    receptive field (20 input pixels) stays inside one tile, and stays close in the blend zone, much
    closer than the same tiles pasted without a blend (--overlap 0, which averages the overlap)."""
    _smooth_picture(tmp_path / "wide.png", 112, 24)
    argv = ["upsample", str(tmp_path / "wide.png"), "--checkpoint", str(upsampler_dir), "--device", "cpu"]
    argv += ["--prompt", "a red circle", "--seed", "3"]
    tilings = {"untiled": ["112", "0"], "tiled": ["64", "16"], "pasted": ["64", "0"]}
    pictures = {}
    for name, (tile_size, overlap) in tilings.items():
        code, _, err = run(
            [*argv, "--out", str(tmp_path / name), "--tile-size", tile_size, "--overlap", overlap], capsys
        )
        assert code == 0, err
        with Image.open(tmp_path / name / "wide-x4.png") as image:
            assert image.size == (4 * 112, 4 * 24)
            pictures[name] = np.asarray(image, dtype=np.float64)
    tiled, pasted = (np.abs(pictures[name] - pictures["untiled"]).max(axis=2) for name in ("tiled", "pasted"))
    centres = (np.arange(4 * 112) + 0.5) / 4  # output columns, in input pixels
    away = np.abs(centres[:, None] - np.array([48.0, 64.0])[None]).min(axis=1) >= 20
    assert away.mean() == 0.5
    assert tiled[:, away].max() <= 1  # the same but for rounding to 8 bits
    assert 0 < tiled.mean() < 0.02 * pictures["untiled"].std()
    assert pasted.mean() > 2 * tiled.mean()


def _zero_width_png(path: Path) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 0, 5, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))


@pytest.mark.parametrize(
    ("case", "match"),
    [
        ("not_an_image", "is not an image"),
        ("empty", "empty file"),
        ("zero_size", "zero-size.png"),
        ("missing", "image not found"),
        ("huge", "above the limit"),
        ("truncated", "damaged or unreadable"),
        ("no_checkpoint", "checkpoint directory not found"),
        ("generator_checkpoint", "no 'upsampler' entry"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    case: str, match: str, upsampler_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "input.png"
    Image.new("RGB", (16, 16), (200, 10, 10)).save(image)
    checkpoint = str(upsampler_dir)
    extra: list[str] = []
    if case == "not_an_image":
        image.write_text("plain text, not a picture")
    elif case == "empty":
        image.write_bytes(b"")
    elif case == "zero_size":
        image = tmp_path / "zero-size.png"
        _zero_width_png(image)
    elif case == "missing":
        image = tmp_path / "nope.png"
    elif case == "huge":
        extra = ["--max-pixels", str(32 * 32)]
    elif case == "truncated":
        image.write_bytes(image.read_bytes()[:60])
    elif case == "no_checkpoint":
        checkpoint = str(tmp_path / "no-such-model")
    elif case == "generator_checkpoint":
        Generator(get_preset("tiny").generator).save_pretrained(tmp_path / "generator")
        checkpoint = str(tmp_path / "generator")
    argv = ["upsample", str(image), "--checkpoint", checkpoint, "--out", str(tmp_path / "out"), "--device", "cpu"]
    code, out, err = run([*argv, *extra], capsys)
    assert_one_line_error(code, out, err, match)


def test_generate_with_upsampler_chains_the_two_models(
    upsampler_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Generator(get_preset("tiny").generator).save_pretrained(tmp_path / "generator")
    out = tmp_path / "out"
    argv = ["generate", "--checkpoint", str(tmp_path / "generator"), "--prompt", "a red circle", "--num-images", "2"]
    code, _, err = run([*argv, "--upsampler", str(upsampler_dir), "--out", str(out), "--device", "cpu"], capsys)
    assert code == 0, err
    for seed in (0, 1):
        with Image.open(out / f"0000-seed{seed}.png") as image:
            assert image.size == (128, 128)  # 32 px generator output, 4x upsampler
            assert len(image.text["upsampler"]) == 16
    code, out_text, err = run([*argv, "--upsampler", str(tmp_path / "none"), "--out", str(out)], capsys)
    assert_one_line_error(code, out_text, err, "checkpoint directory not found")
