"""Latent-space tools: interpolation, style mixing, prompt mixing; PNG, GIF and MP4 writing (imageio[ffmpeg])."""

from __future__ import annotations

import json
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest
import torch
from PIL import Image

from gigagan.errors import GigaGANError
from gigagan.inference import GigaGANPipeline, export
from gigagan.inference.export import MP4_UNAVAILABLE, grid_image, save_gif, save_mp4, save_png, scaled_frames
from gigagan.inference.latent import interpolate, level_groups, parse_levels, prompt_mix, slerp, style_mix, ws_rows


def plain(pipe: GigaGANPipeline, prompt: str, seed: int, psi: float = 1.0) -> torch.Tensor:
    """One image in [-1, 1], as the pipeline makes it."""
    return pipe(prompt, seed=seed, truncation_psi=psi, output_type="pt").images[0] * 2 - 1


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.allclose(a.clamp(-1, 1), b.clamp(-1, 1), atol=1e-4)


def test_level_groups_and_parsing() -> None:
    assert level_groups(4) == {"coarse": [0, 1], "middle": [2], "fine": [3]}
    assert level_groups(5) == {"coarse": [0, 1], "middle": [2, 3], "fine": [4]}
    resolutions = [4, 8, 16, 32]
    assert parse_levels("coarse", resolutions) == [0, 1]
    assert parse_levels("middle,fine", resolutions) == [2, 3]
    assert parse_levels("8+32", resolutions) == [1, 3]
    assert parse_levels([3, 0], resolutions) == [0, 3]
    with pytest.raises(GigaGANError, match="unknown level"):
        parse_levels("64", resolutions)


def test_ws_rows_follow_the_synthesis_slices(pipe: GigaGANPipeline) -> None:
    slices = pipe.generator.synthesis.ws_slices()
    assert ws_rows(pipe, [0]) == list(range(slices[0].start, slices[0].stop))
    assert ws_rows(pipe, range(pipe.num_levels)) == list(range(pipe.generator.num_ws))


def test_slerp_keeps_endpoints_and_norm() -> None:
    a, b = torch.randn(64), torch.randn(64)
    path = slerp(a, b, torch.linspace(0, 1, 5))
    assert torch.equal(path[0], a) and torch.equal(path[-1], b)
    norms = path.norm(dim=1)
    assert norms.min() > 0.6 * min(a.norm(), b.norm())  # no dip toward the origin as with lerp


@pytest.mark.parametrize("space", ["z", "w"])
def test_interpolation_runs_between_the_endpoint_images(
    pipe: GigaGANPipeline, prompts: tuple[str, ...], space: str
) -> None:
    frames = interpolate(pipe, (prompts[0], 1), (prompts[1], 2), num_frames=6, space=space, truncation_psi=0.7)
    assert frames.shape == (6, 3, 32, 32)
    assert close(frames[0], plain(pipe, prompts[0], 1, 0.7))
    assert close(frames[-1], plain(pipe, prompts[1], 2, 0.7))
    assert not close(frames[2], frames[3])


def test_style_mixing_with_one_seed_on_both_sides_is_plain_generation(
    pipe: GigaGANPipeline, prompts: tuple[str, ...]
) -> None:
    result = style_mix(pipe, prompts[0], [3, 4], [3, 5], "coarse")
    assert result.cells.shape == (2, 2, 3, 32, 32)
    assert close(result.cells[0, 0], plain(pipe, prompts[0], 3))
    assert close(result.rows[1], plain(pipe, prompts[0], 4)) and close(result.columns[1], plain(pipe, prompts[0], 5))
    assert not close(result.cells[1, 1], result.rows[1]) and not close(result.cells[1, 1], result.columns[1])


def test_style_mixing_every_level_from_the_column_is_the_column_image(pipe: GigaGANPipeline) -> None:
    mixed = style_mix(pipe, "a red circle", [1], [2], "fine").cells[0, 0]
    everything = style_mix(pipe, "a red circle", [1], [2], [0, 1, 2, 3]).cells[0, 0]
    assert close(everything, plain(pipe, "a red circle", 2))
    assert not close(mixed, plain(pipe, "a red circle", 1))


def test_prompt_mixing_with_one_prompt_on_both_sides_is_plain_generation(
    pipe: GigaGANPipeline, prompts: tuple[str, ...]
) -> None:
    result = prompt_mix(pipe, prompts[0], [prompts[0], prompts[2]], seeds=[0, 7], levels="middle,fine")
    assert result.mixed.shape == (2, 2, 3, 32, 32)
    assert close(result.mixed[0, 1], plain(pipe, prompts[0], 7))
    assert close(result.coarse[1], plain(pipe, prompts[0], 7)) and close(result.fine[1, 0], plain(pipe, prompts[2], 0))


def test_prompt_mixing_keeps_the_coarse_layout(pipe: GigaGANPipeline, prompts: tuple[str, ...]) -> None:
    result = prompt_mix(pipe, prompts[0], prompts[2], seeds=[4], levels="fine", keep_pyramids=True)
    assert result.pyramids is not None
    text = pipe.encode([prompts[0]])
    reference = pipe.synthesize(pipe.map(pipe.z([4]), text, [prompts[0]]), text.local, text.mask)
    # pyramid is finest first: the 4x4 level (and every level below the fine ones) is prompt A's
    assert result.pyramids[-1].shape[-1] == 4
    for level in (-1, -2, -3):
        assert torch.allclose(result.pyramids[level], reference[level], atol=1e-5)
    assert not torch.allclose(result.pyramids[0], reference[0], atol=1e-3)  # the fine level follows prompt B


def test_png_text_chunks_and_grid(tmp_path: Path) -> None:
    images = torch.rand(5, 3, 8, 8) * 2 - 1
    grid = grid_image([None, *images], columns=3, scale=2, row_labels=["", "row"], column_labels=["", "a", "b"])
    path = save_png(grid, tmp_path / "sub" / "grid.png", {"prompt": ["x", "y"], "seed": 3, "truncation_psi": 0.5})
    with Image.open(path) as loaded:
        text = dict(loaded.text)
    assert json.loads(text["prompt"]) == ["x", "y"] and text["seed"] == "3" and text["truncation_psi"] == "0.5"
    assert text["software"].startswith("gigagan")
    single = save_png(images[0], tmp_path / "one.png", {"prompt": "un café ☕", "checkpoint": "abc"})
    with Image.open(single) as loaded:
        assert loaded.text["prompt"] == "un café ☕" and loaded.size == (8, 8)


def test_gif_is_written(tmp_path: Path) -> None:
    frames = scaled_frames(torch.rand(4, 3, 8, 8) * 2 - 1, scale=2)
    path = save_gif(frames, tmp_path / "anim.gif", fps=10, boomerang=True)
    with Image.open(path) as gif:
        assert gif.is_animated and gif.n_frames == 6 and gif.size == (16, 16)


@pytest.mark.parametrize(("height", "width", "scale", "expected"), [(8, 8, 2, (16, 16)), (7, 5, 1, (8, 6))])
def test_mp4_is_written_with_imageio_ffmpeg_and_reads_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, height: int, width: int, scale: int, expected: tuple[int, int]
) -> None:
    """imageio and imageio-ffmpeg are pinned dependencies, so the MP4 must be written, by them (PyAV is not asked),
    as H.264 with every frame at the picture's size (odd sides padded to even ones)."""
    monkeypatch.setattr(export, "_write_mp4_torchvision", lambda *args: pytest.fail("imageio did not write the MP4"))
    # four flat frames, each a different colour, so that read-back frames can be told apart
    colours = torch.tensor([[-1.0, -1.0, -1.0], [1.0, -1.0, -1.0], [-1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    frames = scaled_frames(colours[:, :, None, None].expand(4, 3, height, width).contiguous(), scale=scale)
    written, reason = save_mp4(frames, tmp_path / "out" / "anim.mp4", fps=10)
    assert (written, reason) == (tmp_path / "out" / "anim.mp4", "")
    assert written.is_file() and written.stat().st_size > 0
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["anim.mp4"]  # no scratch files left
    with imageio.get_reader(written, format="FFMPEG") as reader:
        metadata = reader.get_meta_data()
        decoded = np.stack(list(reader.iter_data()))
    assert metadata["codec"] == "h264" and metadata["fps"] == 10
    assert decoded.shape == (4, *expected, 3)  # frames, height, width, RGB
    picture_height, picture_width = scale * height, scale * width
    means = decoded[:, :picture_height, :picture_width].reshape(4, -1, 3).mean(axis=1)
    wanted = (colours.numpy() + 1) * 127.5
    assert np.abs(means - wanted).max() < 8  # lossy, but each frame keeps its colour


def test_mp4_without_an_encoder_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for writer in ("_write_mp4_imageio", "_write_mp4_torchvision"):
        monkeypatch.setattr(export, writer, lambda *args: False)
    frames = scaled_frames(torch.rand(2, 3, 8, 8) * 2 - 1, scale=1)
    assert save_mp4(frames, tmp_path / "anim.mp4") == (None, MP4_UNAVAILABLE)
    assert list(tmp_path.iterdir()) == []


def test_a_failing_mp4_encoder_is_named_in_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args):
        raise RuntimeError("libx264 not found\nmore detail")

    monkeypatch.setattr(export, "_write_mp4_imageio", broken)
    monkeypatch.setattr(export, "_write_mp4_torchvision", lambda *args: False)
    frames = scaled_frames(torch.rand(2, 3, 8, 8) * 2 - 1, scale=1)
    written, reason = save_mp4(frames, tmp_path / "anim.mp4")
    assert written is None
    assert reason == "MP4 skipped: the video encoder failed (imageio-ffmpeg: RuntimeError: libx264 not found)"
    assert list(tmp_path.iterdir()) == []
