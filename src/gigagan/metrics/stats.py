"""Feature statistics (features, mean, covariance, class labels) and their on-disk cache.

Reference statistics depend on the data, the resolution it is read at, how many images and which
ones (seed), the network and the preprocessing protocol; the cache file name is a readable slug
plus a hash of all of these, so a change to any of them computes afresh. Files are `.npz` written
atomically (temporary file + rename), so concurrent or killed runs never leave a damaged entry.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gigagan.errors import GigaGANError
from gigagan.io import atomic_write_bytes

PROTOCOL = "clean-fid/uint8/pil-bicubic-F/tf-inception-pool3/v1"
STATS_DIR_ENV = "GIGAGAN_STATS_DIR"


@dataclass
class FeatureStats:
    """Features [N, D] (float32 as the network gives them), their float64 mean and covariance, and
    optional class labels (one per row) for intra-class FID."""

    features: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    labels: list[str] | None = None

    @classmethod
    def from_features(cls, features: np.ndarray, labels: list[str] | None = None) -> FeatureStats:
        features = np.asarray(features)
        if features.ndim != 2 or len(features) < 2:
            raise GigaGANError(f"need at least 2 feature vectors for statistics, got shape {features.shape}")
        if labels is not None and len(labels) != len(features):
            raise ValueError(f"{len(labels)} labels for {len(features)} feature vectors")
        as64 = features.astype(np.float64)
        return cls(features, as64.mean(axis=0), np.cov(as64, rowvar=False), labels)

    @property
    def count(self) -> int:
        return len(self.features)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        arrays: dict[str, np.ndarray] = {"features": self.features, "mu": self.mu, "sigma": self.sigma}
        if self.labels is not None:
            arrays["labels"] = np.asarray(self.labels, dtype=str)
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    def save(self, path: Path) -> None:
        """Write an `.npz` atomically."""
        atomic_write_bytes(path, self.to_bytes())

    @classmethod
    def load(cls, path: Path) -> FeatureStats:
        try:
            with np.load(path, allow_pickle=False) as data:
                labels = [str(label) for label in data["labels"]] if "labels" in data.files else None
                return cls(data["features"], data["mu"], data["sigma"], labels)
        except Exception as error:
            raise GigaGANError(f"cannot read statistics file {path} ({type(error).__name__})") from error


def default_stats_dir() -> Path:
    """`$GIGAGAN_STATS_DIR`, else `~/.cache/gigagan/stats`."""
    return Path(os.environ.get(STATS_DIR_ENV) or Path.home() / ".cache" / "gigagan" / "stats").expanduser()


def stats_file_name(description: dict[str, Any]) -> str:
    """`<slug>-<hash>.npz` for a JSON-able description of what the statistics were computed from."""
    canonical = json.dumps({"protocol": PROTOCOL, **description}, sort_keys=True, default=str)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:16]
    source = Path(str(description.get("source", "stats"))).name or "stats"
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", source)[:48]
    parts = [slug, str(description.get("resolution", "")), str(description.get("count", ""))]
    return "-".join(part for part in [*parts, digest] if part) + ".npz"


def cached_feature_stats(
    description: dict[str, Any],
    compute: Callable[[], tuple[np.ndarray, list[str] | None]],
    cache_dir: Path | None = None,
    use_cache: bool = True,
) -> tuple[FeatureStats, Path | None]:
    """Statistics for `description`, read from the cache or computed with `compute()` (features, labels)
    and stored. Returns the statistics and the cache file (None when caching is off)."""
    if not use_cache:
        features, labels = compute()
        return FeatureStats.from_features(features, labels), None
    path = (cache_dir or default_stats_dir()) / stats_file_name(description)
    if path.is_file():
        return FeatureStats.load(path), path
    features, labels = compute()
    stats = FeatureStats.from_features(features, labels)
    stats.save(path)
    return stats, path
