"""The served studio through its API (`gradio_client` against `gigagan serve` on a tiny model): every
endpoint, the PNGs' text chunks, agreement with the in-process pipeline, and bad inputs answered with a
message."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio_client import handle_file
from PIL import Image
from studio_helpers import OTHER_PROMPT, PROMPT, gallery_paths, pixels, text_chunks

from gigagan.inference import GigaGANPipeline
from gigagan.web.process import ServerProcess

ENDPOINTS = ("/generate", "/interpolate", "/style_mix", "/prompt_mix", "/upsample", "/model_card")


def generate(client: Any, prompts: str, count: int, seed: int | None, psi: float = 1.0) -> tuple[list[Path], int]:
    images, _, used_seed = client.predict(prompts, count, seed, seed is None, psi, api_name="/generate")
    return gallery_paths(images), int(used_seed)


def test_every_action_is_a_named_endpoint(client: Any) -> None:
    named = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(ENDPOINTS) <= set(named), sorted(named)


def test_generate_matches_the_pipeline_and_keeps_the_text_chunks(
    client: Any, server: ServerProcess, generator_dir: Path
) -> None:
    paths, seed = generate(client, f"{PROMPT}\n{OTHER_PROMPT}", 2, 11, 0.6)
    assert seed == 11 and len(paths) == 4
    reference = GigaGANPipeline.from_pretrained(generator_dir, device="cpu")
    expected = reference([PROMPT, OTHER_PROMPT], 2, seed=11, truncation_psi=0.6, output_type="np").images
    for path, image in zip(paths, expected):
        assert path.suffix == ".png" and abs(pixels(path).astype(int) - image.astype(int)).max() <= 1
    served = sorted((server.root / "outputs").rglob("0001-seed12.png"))[-1]
    assert paths[3].read_bytes() == served.read_bytes()  # the download is the PNG the studio wrote, unchanged
    chunks = text_chunks(paths[3])
    assert chunks["prompt"] == OTHER_PROMPT and chunks["seed"] == "12" and chunks["truncation_psi"] == "0.6"
    assert chunks["checkpoint"] == reference.checkpoint_hash and chunks["software"].startswith("gigagan ")


def test_random_seed_is_returned_and_reproducible(client: Any) -> None:
    first, seed = generate(client, PROMPT, 1, None)
    again, same = generate(client, PROMPT, 1, seed)
    assert same == seed and (pixels(first[0]) == pixels(again[0])).all()


def test_interpolation_and_mixing_endpoints(client: Any) -> None:
    gif, frames = client.predict(PROMPT, 0, OTHER_PROMPT, 4, 5, "z", 1.0, api_name="/interpolate")
    with Image.open(gif) as animation:
        assert animation.format == "GIF" and animation.n_frames == 8
    assert len(gallery_paths(frames)) == 5
    grid, legend = client.predict(PROMPT, "0,1", "2,3", ["4"], 1.0, api_name="/style_mix")
    assert Path(grid).is_file() and "levels [4]px" in legend
    grid, legend = client.predict(PROMPT, OTHER_PROMPT, "0-1", ["16", "32"], 0.9, api_name="/prompt_mix")
    assert Path(grid).is_file() and "[16, 32]px" in legend


def test_upsample_a_generated_image(client: Any) -> None:
    (source,), _ = generate(client, PROMPT, 1, 3)
    output, details = client.predict(handle_file(str(source)), "a red circle", 5, api_name="/upsample")
    with Image.open(output) as picture:
        assert picture.size == (128, 128)
    assert text_chunks(Path(output))["prompt"] == "a red circle" and "128x128" in details


def test_model_card_endpoint(client: Any) -> None:
    card = client.predict(api_name="/model_card")
    assert card["generator"]["preset"] == "tiny" and card["upsampler"]["preset"] == "upsampler-tiny"
    assert card["limits"]["max_queue"] == 4


def test_outputs_stay_in_the_server_folder(server: ServerProcess) -> None:
    from gradio_client import Client

    remote = Client(server.url, verbose=False, download_files=False)  # answers name the server's own files
    images, _, _ = remote.predict(PROMPT, 2, 21, False, 1.0, api_name="/generate")
    served = [Path(item["image"]["path"]) for item in images]
    assert len(served) == 2 and all(server.root in path.parents for path in served), served
    assert list((server.root / "outputs").rglob("0000-seed21.png"))


@pytest.mark.parametrize(
    ("endpoint", "arguments", "message"),
    [
        ("/generate", ("", 1, 0, False, 1.0), "no prompts given"),
        ("/generate", (PROMPT, 10_000, 0, False, 1.0), "maximum value 16"),  # the slider's own check
        ("/generate", (PROMPT, 1, -5, False, 1.0), "seed must be between 0"),
        ("/interpolate", (PROMPT, 0, "", 1, 500, "z", 1.0), "maximum value 48"),
        ("/style_mix", (PROMPT, "0", "x", ["4"], 1.0), "expected seeds like 0,1,2"),
        ("/prompt_mix", (PROMPT, OTHER_PROMPT, "0", [], 1.0), "no crossover levels selected"),
    ],
)
def test_bad_input_gets_a_message(client: Any, endpoint: str, arguments: tuple[Any, ...], message: str) -> None:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as error:
        client.predict(*arguments, api_name=endpoint)
    assert message in str(error.value) and "Traceback" not in str(error.value)


def call_raw(server: ServerProcess, endpoint: str, body: str) -> str:
    """POST a raw JSON body to gradio's HTTP API (`/gradio_api/call/NAME`) and read the answer's event stream."""
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(f"{server.url}gradio_api/call/{endpoint}", body.encode(), headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        event_id = json.loads(response.read())["event_id"]
    with urllib.request.urlopen(f"{server.url}gradio_api/call/{endpoint}/{event_id}", timeout=60) as response:
        return response.read().decode()


@pytest.mark.parametrize(
    ("psi", "message"),
    [
        ("NaN", "truncation psi must be a finite number, got nan"),  # NaN passes the slider's range check
        ("Infinity", "greater than maximum value 1.5"),
        ("-Infinity", "less than minimum value 0.0"),
    ],
)
def test_a_non_finite_psi_gets_a_message(server: ServerProcess, psi: str, message: str) -> None:
    # JSON has no NaN, so gradio_client will not send one; a hand-written request can (Python's parser reads it)
    answer = call_raw(server, "generate", f'{{"data": ["{PROMPT}", 1, 0, false, {psi}]}}')
    assert "event: error" in answer and message in answer and "Traceback" not in answer, answer


def test_bad_uploads_get_a_message(client: Any, server: ServerProcess, tmp_path: Path) -> None:
    from gradio_client.exceptions import AppError

    text = tmp_path / "notes.png"
    text.write_text("this is not a picture")
    with pytest.raises(AppError, match="is not an image"):
        client.predict(handle_file(str(text)), "", 0, api_name="/upsample")
    huge = tmp_path / "huge.png"
    with open(huge, "wb") as file:
        file.truncate(50 * 1024 * 1024)
    with pytest.raises(ValueError, match="exceeds the maximum file size of 10485760 bytes"):
        client.predict(handle_file(str(huge)), "", 0, api_name="/upsample")  # gradio_client checks first
    # sent anyway, straight to the upload route: the server refuses it (413) without storing it
    answer = httpx.post(f"{server.url}gradio_api/upload", files={"files": ("huge.png", huge.read_bytes())}, timeout=60)
    assert answer.status_code == 413 and "maximum allowed size of 10485760 bytes" in answer.text
    assert server.alive() and not list(server.root.rglob("huge.png"))


README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_example_runs(server: ServerProcess, tmp_path: Path) -> None:
    text = README.read_text().split("### Web studio", 1)[1]
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    assert 'Client("http://127.0.0.1:7860/")' in code
    code = code.replace('Client("http://127.0.0.1:7860/")', f'Client("{server.url}", download_files=r"{tmp_path}")')
    scope: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert len(scope["images"]) == 8 and scope["seed"] == 0 and text_chunks(Path(scope["first"]))["seed"] == "0"
    assert len(scope["frames"]) == 24 and Path(scope["gif"]).suffix == ".gif"
    assert "levels [4, 8]px" in scope["legend"] and Path(scope["grid"]).is_file()
    with Image.open(scope["upsampled"]) as picture:
        assert picture.size == (128, 128)
    assert scope["card"]["generator"]["preset"] == "tiny"
