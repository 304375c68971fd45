"""The studio's requests in-process (no web): the same files the CLI writes, value checks with one-line
messages, the admission gate, the private folder, the model card."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import threading
import time
from pathlib import Path

import pytest
from PIL import Image
from studio_helpers import OTHER_PROMPT, PROMPT, pixels, text_chunks

from gigagan import get_preset
from gigagan.cli import main
from gigagan.errors import GigaGANError
from gigagan.inference.pipeline import file_hash
from gigagan.models.summary import summarize
from gigagan.web import service
from gigagan.web.card import card_markdown, training_step
from gigagan.web.checks import check_psi
from gigagan.web.service import Admission, ServerBusy, Studio


def run_cli(argv: list[str]) -> tuple[int, str]:
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()), pytest.raises(SystemExit) as e:
        main(argv)
    return int(e.value.code or 0), stderr.getvalue()


def test_generate_writes_the_cli_files_byte_for_byte(studio: Studio, generator_dir: Path, tmp_path: Path) -> None:
    result = studio.generate(f"{PROMPT}\n\n{OTHER_PROMPT}\n", 2, 5, 0.7)
    assert result.prompts == [PROMPT, PROMPT, OTHER_PROMPT, OTHER_PROMPT] and result.seeds == [5, 6, 5, 6]
    assert all(path.is_file() and studio.root in path.parents for path in result.paths)
    argv = ["generate", "--checkpoint", str(generator_dir), "--prompt", PROMPT, "--prompt", OTHER_PROMPT]
    code, err = run_cli([*argv, "--num-images", "2", "--seed", "5", "--truncation-psi", "0.7", "--out", str(tmp_path)])
    assert code == 0, err
    for path in result.paths:
        assert path.read_bytes() == (tmp_path / path.name).read_bytes(), path.name
    chunks = text_chunks(result.paths[2])
    assert chunks["prompt"] == OTHER_PROMPT and chunks["seed"] == "5" and chunks["truncation_psi"] == "0.7"
    assert chunks["checkpoint"] == studio.pipe.checkpoint_hash


def test_a_random_seed_is_reported_and_reproduces_the_images(studio: Studio) -> None:
    drawn = studio.generate(PROMPT, 2, None, 1.0)
    again = studio.generate(PROMPT, 2, drawn.base_seed, 1.0)
    assert drawn.seeds == [drawn.base_seed, drawn.base_seed + 1]
    for first, second in zip(drawn.paths, again.paths):
        assert (pixels(first) == pixels(second)).all()


def test_interpolation_and_mixing_grids(studio: Studio) -> None:
    frames = studio.interpolate(PROMPT, 0, OTHER_PROMPT, 3, 6, "w", 0.8)
    assert len(frames.frames) == 6 and frames.grid.is_file()
    with Image.open(frames.gif) as gif:
        assert gif.n_frames == 10  # forth and back: 6 + 4
    start = pixels(studio.generate(PROMPT, 1, 0, 0.8).paths[0]).astype(int)
    assert abs(pixels(frames.frames[0]).astype(int) - start).max() <= 1  # the first frame is the start image
    style = studio.style_mix(PROMPT, "0-2", "3,4", ["4", "8"], 1.0)
    assert style.levels == [0, 1] and "levels [4, 8]px" in style.legend
    mix = studio.prompt_mix(PROMPT, f"{OTHER_PROMPT}\n{PROMPT}", "0,1", "fine", 1.0)
    with Image.open(style.grid) as grid, Image.open(mix.grid) as mixed:
        assert grid.width > 3 * 96 and mixed.height > 2 * 96  # cells scaled up to >= 96 px
    assert "B2" in mix.legend


def test_upsample_writes_the_cli_text_chunks(studio: Studio, tmp_path: Path) -> None:
    source = studio.generate(PROMPT, 1, 0, 1.0).paths[0]
    picture = shutil.copy(source, tmp_path / "picture.png")
    result = studio.upsample(picture, "a red circle", 3)
    assert (result.width, result.height) == (128, 128) and "tiles" in result.tiles
    chunks = text_chunks(result.path)
    assert chunks["prompt"] == "a red circle" and chunks["seed"] == "3" and chunks["source"] == "picture.png"
    assert chunks["checkpoint"] == studio.upsampler.checkpoint_hash
    assert studio.root in result.path.parents


def write_file(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"upload-{kind}"
    if kind == "text":
        path.write_text("not a picture at all")
    elif kind == "huge":  # 50 MB, sparse: the size is checked before anything is read
        with open(path, "wb") as file:
            file.truncate(50 * 1024 * 1024)
    elif kind == "wide":
        Image.new("RGB", (1100, 1100)).save(path.with_suffix(".png"))  # 4x: 4400 x 4400 > 4096 x 4096
        path = path.with_suffix(".png")
    return path


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s, _: s.generate("  \n ", 1, 0, 1.0), "no prompts given"),
        (lambda s, _: s.generate(PROMPT, 1000, 0, 1.0), "number of images must be between 1 and 16"),
        (lambda s, _: s.generate(f"{PROMPT}\n{OTHER_PROMPT}", 9, 0, 1.0), "at most 16 images per request"),
        (lambda s, _: s.generate("\n".join(["a"] * 9), 1, 0, 1.0), "at most 8 prompts"),
        (lambda s, _: s.generate("x" * 501, 1, 0, 1.0), "at most 500 characters"),
        (lambda s, _: s.generate(PROMPT, 1, float("nan"), 1.0), "seed must be a whole number"),
        (lambda s, _: s.generate(PROMPT, 1, -1, 1.0), "seed must be between 0"),
        (lambda s, _: s.generate(PROMPT, 1, 0, float("nan")), "truncation psi must be a finite number"),
        (lambda s, _: s.generate(PROMPT, 1, 0, float("inf")), "truncation psi must be a finite number"),
        (lambda s, _: s.generate(PROMPT, 1.5, 0, 1.0), "number of images must be a whole number"),
        (lambda s, _: s.interpolate(PROMPT, 0, "", 1, 1000, "z", 1.0), "number of frames must be between 2 and 48"),
        (lambda s, _: s.interpolate(PROMPT, 0, "", 1, 8, "q", 1.0), "space must be z or w"),
        (lambda s, _: s.style_mix(PROMPT, "0-1", "a,b", ["4"], 1.0), "column seeds: expected seeds like 0,1,2"),
        (lambda s, _: s.style_mix(PROMPT, "0-99", "1", ["4"], 1.0), "at most 8 seeds"),
        (lambda s, _: s.style_mix(PROMPT, "0", "1", [], 1.0), "no crossover levels selected"),
        (lambda s, _: s.style_mix(PROMPT, "0", "1", ["128"], 1.0), "unknown level '128'"),
        (lambda s, _: s.prompt_mix(PROMPT, "", "0", ["8"], 1.0), "no prompts given"),
        (lambda s, p: s.upsample(write_file(p, "text"), "", 0), "is not an image"),
        (lambda s, p: s.upsample(write_file(p, "huge"), "", 0), "uploads may be at most 10mb"),
        (lambda s, p: s.upsample(write_file(p, "wide"), "", 0), "16,777,216 pixels (send a smaller picture)"),
        (lambda s, _: s.upsample(None, "", 0), "no picture given"),
    ],
)
def test_bad_values_are_one_line_errors(studio: Studio, tmp_path: Path, call, message: str) -> None:
    with pytest.raises(GigaGANError) as error:
        call(studio, tmp_path)
    assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e999", "half"])
def test_the_cli_and_the_studio_refuse_the_same_psi(generator_dir: Path, tmp_path: Path, value: str) -> None:
    with pytest.raises(GigaGANError, match="must be a finite number"):
        check_psi(value)
    argv = ["generate", "--checkpoint", str(generator_dir), "--prompt", PROMPT, "--out", str(tmp_path / "out")]
    code, err = run_cli([*argv, "--truncation-psi", value])
    assert code == 2 and err.startswith("error: --truncation-psi must be a finite number") and err.count("\n") == 1
    assert not (tmp_path / "out").exists()
    assert check_psi("0.5") == 0.5


def test_admission_runs_one_request_queues_max_queue_and_refuses_the_rest() -> None:
    gate = Admission(max_queue=1)
    inside, release = threading.Event(), threading.Event()
    outcomes: list[str] = []

    def first() -> None:
        with gate.enter():
            inside.set()
            release.wait(10)

    def later() -> None:
        try:
            with gate.enter():
                outcomes.append("ran")
        except ServerBusy as error:
            outcomes.append(str(error))

    holder = threading.Thread(target=first)
    holder.start()
    assert inside.wait(10)
    others = [threading.Thread(target=later) for _ in range(5)]
    for thread in others:
        thread.start()
    for _ in range(200):  # the four refusals come at once; the fifth request waits for the model
        if len(outcomes) == 4:
            break
        time.sleep(0.05)
    assert len(outcomes) == 4 and all(o.startswith("busy, try again") for o in outcomes)
    release.set()
    for thread in [holder, *others]:
        thread.join(10)
    assert outcomes.count("ran") == 1


def test_old_request_folders_are_deleted(studio: Studio, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "KEEP_REQUEST_FOLDERS", 3)
    for seed in range(5):
        studio.generate(PROMPT, 1, seed, 1.0)
    assert len(list(studio.outputs.iterdir())) == 3


def test_model_card(studio: Studio, generator_dir: Path, upsampler_dir: Path, tmp_path: Path) -> None:
    card = studio.model_card()
    generator = card["generator"]
    assert generator["preset"] == "tiny" and generator["training_step"] is None
    assert generator["parameters"]["trainable_total"] == summarize(get_preset("tiny")).generator_params
    assert generator["parameters"]["frozen_clip"] > 0
    assert generator["checkpoint_hash"] == file_hash(generator_dir / "generator.safetensors")
    assert card["upsampler"]["preset"] == "upsampler-tiny" and card["upsampler"]["scale_factor"] == 4
    assert card["upsampler"]["checkpoint_hash"] == file_hash(next(upsampler_dir.glob("*.safetensors")))
    json.dumps(card)  # the API returns it as JSON
    markdown = card_markdown(card)
    assert "| preset | tiny |" in markdown and "| training step | not a training checkpoint |" in markdown
    weights = tmp_path / "generator_ema.safetensors"
    (tmp_path / "training_state.json").write_text(json.dumps({"step": 1234, "optimizers": {}}))
    assert training_step(weights) == 1234


def test_the_mean_w_cache_stays_bounded(studio: Studio, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "MEAN_W_CACHE_LIMIT", 2)
    for index in range(4):  # psi != 1 caches each prompt's mean w
        studio.generate(f"{PROMPT} {index}", 1, 0, 0.5)
        assert len(studio.pipe._mean_w) <= 2
