"""Feature statistics and their cache: keys, round trips, reuse."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gigagan.errors import GigaGANError
from gigagan.metrics import FeatureStats, cached_feature_stats, default_stats_dir
from gigagan.metrics.stats import stats_file_name


def test_stats_round_trip_through_npz(tmp_path: Path) -> None:
    features = np.random.default_rng(0).standard_normal((10, 4)).astype(np.float32)
    stats = FeatureStats.from_features(features, list("aabbccddee"))
    assert stats.mu.dtype == np.float64 and stats.sigma.shape == (4, 4)
    stats.save(tmp_path / "s.npz")
    loaded = FeatureStats.load(tmp_path / "s.npz")
    assert np.array_equal(loaded.features, features) and np.array_equal(loaded.sigma, stats.sigma)
    assert loaded.labels == list("aabbccddee")
    (tmp_path / "bad.npz").write_bytes(b"junk")
    with pytest.raises(GigaGANError, match="cannot read"):
        FeatureStats.load(tmp_path / "bad.npz")


def test_cache_names_depend_on_source_resolution_and_count() -> None:
    base = {"source": "/data/cifar10/test", "resolution": 32, "count": 100, "network": "abc"}
    name = stats_file_name(base)
    assert name.startswith("test-32-100-") and name.endswith(".npz")
    assert len({name, stats_file_name({**base, "count": 101}), stats_file_name({**base, "resolution": 64})}) == 3


def test_cached_stats_are_computed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def compute() -> tuple[np.ndarray, None]:
        calls.append(1)
        return np.random.default_rng(len(calls)).standard_normal((6, 3)), None

    description = {"source": "x", "count": 6}
    first, path = cached_feature_stats(description, compute, tmp_path)
    second, same_path = cached_feature_stats(description, compute, tmp_path)
    assert len(calls) == 1 and path == same_path and path is not None and path.parent == tmp_path
    assert np.array_equal(first.mu, second.mu)
    _, no_path = cached_feature_stats(description, compute, tmp_path, use_cache=False)
    assert len(calls) == 2 and no_path is None
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary files left behind
    monkeypatch.setenv("GIGAGAN_STATS_DIR", str(tmp_path / "elsewhere"))
    assert default_stats_dir() == tmp_path / "elsewhere"
