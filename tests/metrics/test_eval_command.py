"""`eval_command` end to end on tiny inputs (a stand-in Inception keeps it fast), and its refusals."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import pytest
import typer
from metric_files import write_pictures
from typer.testing import CliRunner

from gigagan.cli_eval import eval_command
from gigagan.errors import GigaGANError
from gigagan.metrics.evaluate import seeded_latents
from gigagan.models import Generator

app = typer.Typer()
app.command("eval")(eval_command)


def invoke(*args: str | Path) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(app, [str(arg) for arg in args])
    return result.exit_code, result.output, result.exception


def test_two_folders_print_a_table_and_write_json(
    picture_folders: tuple[Path, Path], stand_in_inception: Path, tmp_path: Path
) -> None:
    real, fake = picture_folders
    out = tmp_path / "out" / "metrics.json"
    common = ("--inception", stand_in_inception, "--stats-dir", tmp_path / "stats")
    code, output, error = invoke("--real", real, "--fake", fake, "--metrics", "fid,kid,pr", "--json", out, *common)
    assert code == 0, error
    assert "fid" in output and "precision" in output
    payload = json.loads(out.read_text())
    assert set(payload["metrics"]) == {"fid", "kid", "kid_std", "precision", "recall"}
    assert payload["metrics"]["fid"] > 0 and payload["num_real"] == payload["num_fake"] == 12
    assert len(list((tmp_path / "stats").glob("*.npz"))) == 1  # the real side is cached

    same = tmp_path / "same.json"
    code, _, error = invoke("--real", real, "--fake", real, "--metrics", "fid,pr", "--json", same, *common)
    assert code == 0, error
    metrics = json.loads(same.read_text())["metrics"]
    assert metrics["fid"] == pytest.approx(0, abs=1e-6) and metrics["precision"] == metrics["recall"] == 1.0


def test_archives_and_class_folders(stand_in_inception: Path, tmp_path: Path) -> None:
    for side, seed in (("real", 1), ("fake", 2)):
        for label in ("cat", "dog"):
            write_pictures(tmp_path / side / label, 6, seed=seed + len(label) * 10 + ord(label[0]))
    archive = tmp_path / "fake.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "fake", arcname=".")
    results = {}
    for name, fake in (("folder", tmp_path / "fake"), ("archive", archive)):
        out = tmp_path / f"{name}.json"
        code, _, error = invoke(
            "--real", tmp_path / "real", "--fake", fake, "--metrics", "fid,intra_fid", "--no-cache",
            "--inception", stand_in_inception, "--json", out,
        )  # fmt: skip
        assert code == 0, error
        results[name] = json.loads(out.read_text())["metrics"]
    assert results["folder"] == pytest.approx(results["archive"])
    assert {"intra_fid/cat", "intra_fid/dog"} <= set(results["folder"])


def test_checkpoint_generates_for_dataset_captions(stand_in_inception: Path, tmp_path: Path, tiny) -> None:
    Generator(tiny.generator).save_pretrained(tmp_path / "run" / "latest")
    out = tmp_path / "eval.json"
    code, _, error = invoke(
        "--checkpoint", tmp_path / "run", "--data", "shapes", "--metrics", "fid,alignment", "--num-images", 6,
        "--batch-size", 4, "--inception", stand_in_inception, "--stats-dir", tmp_path / "stats", "--json", out,
    )  # fmt: skip
    assert code == 0, error
    payload = json.loads(out.read_text())
    assert payload["num_fake"] == payload["num_real"] == 6 and payload["resolution"] == 32
    assert {"fid", "alignment/shape", "alignment/all"} <= set(payload["metrics"])
    assert 0.0 <= payload["metrics"]["alignment/color"] <= 1.0


def test_checkpoint_on_class_folders_gives_intra_class_fid(stand_in_inception: Path, tmp_path: Path, tiny) -> None:
    Generator(tiny.generator).save_pretrained(tmp_path / "model")
    for label in ("red_fox", "owl"):
        write_pictures(tmp_path / "classes" / label, 4, seed=len(label), size=32)
    out = tmp_path / "eval.json"
    code, _, error = invoke(
        "--checkpoint", tmp_path / "model", "--data", tmp_path / "classes", "--metrics", "fid,intra_fid",
        "--num-images", 8, "--inception", stand_in_inception, "--no-cache", "--json", out,
    )  # fmt: skip
    assert code == 0, error
    metrics = json.loads(out.read_text())["metrics"]
    assert {"fid", "intra_fid", "intra_fid/red fox", "intra_fid/owl"} == set(metrics)


def test_each_image_keeps_its_latent_whatever_the_batching() -> None:
    assert seeded_latents(3, 0, 8, seed=5)[2].tolist() == seeded_latents(1, 2, 8, seed=5)[0].tolist()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--metrics", "fid"), "--checkpoint PATH --data SPEC"),
        (("--fake", "{fake}", "--metrics", "fidd"), "unknown metric 'fidd'"),
        (("--fake", "{fake}", "--metrics", "fid"), "either --real DIR or --data SPEC"),
        (("--fake", "{fake}", "--metrics", "clip_score"), "--clip-weights"),
        (("--fake", "{fake}", "--data", "{real}", "--metrics", "alignment"), "needs --data shapes"),
        (("--fake", "{fake}/nowhere", "--real", "{real}"), "image folder not found"),
        (("--checkpoint", "{real}", "--data", "shapes"), "neither config.json"),
    ],
)
def test_bad_input_raises_one_line_errors(
    picture_folders: tuple[Path, Path], args: tuple[str, ...], message: str
) -> None:
    real, fake = picture_folders
    filled = [arg.format(real=real, fake=fake) for arg in args]
    code, _, error = invoke(*filled)
    assert code != 0 and isinstance(error, GigaGANError), error
    assert message in str(error) and "\n" not in str(error)


def test_empty_folder_is_refused(tmp_path: Path, picture_folders: tuple[Path, Path]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    shutil.copy(picture_folders[0] / "000.png", tmp_path / "one.png")
    _, _, error = invoke("--real", picture_folders[0], "--fake", empty)
    assert isinstance(error, GigaGANError) and "no image files" in str(error)
