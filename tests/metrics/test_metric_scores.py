"""The metric formulas on synthetic features: FID, KID, precision/recall, intra-class FID, the registry."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from gigagan.errors import GigaGANError
from gigagan.metrics import (
    METRICS,
    FeatureStats,
    MetricInputs,
    feature_fid,
    frechet_distance,
    intra_class_fid,
    kernel_inception_distance,
    parse_metric_names,
    precision_recall,
    run_metrics,
)
from gigagan.metrics.scores import trace_sqrt_product


def correlated_features(rng: np.random.Generator, count: int, dim: int, shift: float = 0.0) -> np.ndarray:
    mixing = np.random.default_rng(123).standard_normal((dim, dim)) / np.sqrt(dim)
    return rng.standard_normal((count, dim)) @ mixing + shift


def scipy_reference_fid(a: np.ndarray, b: np.ndarray) -> float:
    """The textbook formula with scipy's general matrix square root, in float64."""
    mu1, mu2 = a.mean(0), b.mean(0)
    sigma1, sigma2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def test_fid_of_a_feature_set_with_itself_is_zero() -> None:
    features = correlated_features(np.random.default_rng(0), 1500, 256)
    sigma = np.cov(features, rowvar=False)
    scale = np.trace(sigma)
    assert abs(trace_sqrt_product(sigma, sigma) - scale) <= 1e-6 * scale  # before the clamp at 0
    assert feature_fid(features, features) <= 1e-6 * scale


@pytest.mark.parametrize("shift", [0.0, 0.2])
def test_fid_matches_a_float64_scipy_reference(shift: float) -> None:
    rng = np.random.default_rng(1)
    a = correlated_features(rng, 800, 128)
    b = correlated_features(rng, 600, 128, shift) * 1.1
    expected = scipy_reference_fid(a, b)
    assert feature_fid(a, b) == pytest.approx(expected, rel=1e-6)
    assert expected > 0


def test_fid_is_finite_for_singular_covariances() -> None:
    rng = np.random.default_rng(2)
    a, b = correlated_features(rng, 40, 128), correlated_features(rng, 40, 128, 0.5)  # rank 39 < 128
    value = feature_fid(a, b)
    assert np.isfinite(value) and value > 0
    assert value == pytest.approx(scipy_reference_fid(a, b), rel=1e-3)


def test_frechet_distance_rejects_mismatched_statistics() -> None:
    with pytest.raises(ValueError, match="mismatched"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


def test_kid_is_unbiased_near_zero_for_one_distribution_and_positive_for_shifted() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((600, 64)), rng.standard_normal((600, 64))
    same, same_std = kernel_inception_distance(a, b, num_subsets=10, max_subset_size=300)
    shifted, _ = kernel_inception_distance(a, b + 0.5, num_subsets=10, max_subset_size=300)
    assert abs(same) < 0.01 and same_std < 0.01
    assert shifted > 0.5


def test_kid_equals_the_unbiased_mmd_formula_on_one_full_subset() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((7, 5)), rng.standard_normal((7, 5)) + 0.3
    kernel = lambda u, v: (u @ v / 5 + 1) ** 3  # noqa: E731
    m = 7
    within = sum(kernel(x[i], x[j]) + kernel(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    across = sum(kernel(x[i], y[j]) for i in range(m) for j in range(m))
    expected = within / (m * (m - 1)) - 2 * across / m**2
    value, std = kernel_inception_distance(x, y, num_subsets=1, max_subset_size=m)
    assert value == pytest.approx(expected, rel=1e-12) and std == 0


def test_precision_recall_identical_disjoint_and_half_covered() -> None:
    rng = np.random.default_rng(5)
    real = rng.standard_normal((200, 16))
    assert precision_recall(real, real) == (1.0, 1.0)
    assert precision_recall(real, real + 1000.0) == (0.0, 0.0)
    far_cluster = rng.standard_normal((200, 16)) + 1000.0
    two_clusters = np.concatenate([real, far_cluster])
    fresh_near = rng.standard_normal((200, 16))  # new samples of the first cluster only
    precision, recall = precision_recall(two_clusters, fresh_near, chunk=64)
    assert precision > 0.7  # most fresh samples fall inside the real manifold
    assert 0.35 < recall <= 0.5  # the far cluster (half the reals) is not covered at all


def test_precision_recall_needs_more_than_k_points() -> None:
    with pytest.raises(GigaGANError, match="k=3"):
        precision_recall(np.zeros((3, 4)), np.zeros((10, 4)))


def test_intra_class_fid_is_the_mean_of_per_class_fids() -> None:
    rng = np.random.default_rng(6)
    real = correlated_features(rng, 120, 8)
    fake = correlated_features(rng, 90, 8, 0.3)
    real_labels = ["cat", "dog", "emu"] * 40
    fake_labels = ["cat", "dog"] * 45
    mean, per_class = intra_class_fid(real, real_labels, fake, fake_labels)
    assert set(per_class) == {"cat", "dog"}  # emu has no fakes
    cat = feature_fid(real[np.array(real_labels) == "cat"], fake[np.array(fake_labels) == "cat"])
    assert per_class["cat"] == pytest.approx(cat)
    assert mean == pytest.approx((per_class["cat"] + per_class["dog"]) / 2)


def test_registry_parses_names_and_runs_metrics() -> None:
    assert {"fid", "kid", "pr", "intra_fid", "clip_score", "alignment"} <= set(METRICS)
    assert parse_metric_names(" fid, kid ,fid") == ["fid", "kid"]
    with pytest.raises(GigaGANError, match="unknown metric 'fdi'"):
        parse_metric_names("fid,fdi")
    rng = np.random.default_rng(7)
    real = FeatureStats.from_features(rng.standard_normal((50, 8)), ["a", "b"] * 25)
    fake = FeatureStats.from_features(rng.standard_normal((40, 8)) + 0.2, ["a", "b"] * 20)
    inputs = MetricInputs(real=real, fake=fake, kid_subsets=3, kid_subset_size=20)
    values = run_metrics(["fid", "kid", "pr", "intra_fid"], inputs)
    assert {"fid", "kid", "kid_std", "precision", "recall", "intra_fid", "intra_fid/a", "intra_fid/b"} == set(values)
    with pytest.raises(GigaGANError, match="--clip-weights"):
        run_metrics(["clip_score"], inputs)
