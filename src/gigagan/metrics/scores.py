"""The metric formulas, on feature arrays, in float64.

- `frechet_distance`: FID between two Gaussians. The trace of the matrix square root of
  sigma1 @ sigma2 is taken from the symmetric PSD matrix sqrt(sigma1) @ sigma2 @ sqrt(sigma1), which
  has the same eigenvalues, using two symmetric eigen-decompositions (no complex parts, no failure
  on singular covariances, as `scipy.linalg.sqrtm` can have).
- `kernel_inception_distance`: unbiased MMD^2 with the cubic polynomial kernel
  k(x, y) = (x.y / d + 1)^3, averaged over random subsets (Binkowski et al. 2018).
- `precision_recall`: k-NN manifold estimates (Kynkaanniemi et al. 2019): a sample is inside a
  set's manifold when it lies within the k-th-nearest-neighbour radius of some member of that set.
- `intra_class_fid`: mean of the per-class FIDs.
"""

from __future__ import annotations

import numpy as np
import torch

from gigagan.errors import GigaGANError


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix (negative round-off eigenvalues -> 0)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr(sqrtm(sigma1 @ sigma2)) for symmetric PSD matrices, via eigenvalues of sqrt(s1) s2 sqrt(s1)."""
    root1 = _psd_sqrt(np.asarray(sigma1, dtype=np.float64))
    middle = root1 @ np.asarray(sigma2, dtype=np.float64) @ root1
    values = np.linalg.eigvalsh((middle + middle.T) / 2)
    return float(np.sqrt(np.clip(values, 0.0, None)).sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + tr(sigma1) + tr(sigma2) - 2 tr(sqrt(sigma1 sigma2)), in float64 (never below 0)."""
    mu1, mu2 = np.asarray(mu1, dtype=np.float64), np.asarray(mu2, dtype=np.float64)
    sigma1, sigma2 = np.asarray(sigma1, dtype=np.float64), np.asarray(sigma2, dtype=np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(f"mismatched statistics: mu {mu1.shape} / {mu2.shape}, sigma {sigma1.shape} / {sigma2.shape}")
    difference = mu1 - mu2
    value = difference @ difference + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2)
    return max(float(value), 0.0)


def feature_fid(features1: np.ndarray, features2: np.ndarray) -> float:
    """FID between two feature sets [N, D] (mean and unbiased covariance of each)."""
    a, b = np.asarray(features1, dtype=np.float64), np.asarray(features2, dtype=np.float64)
    if len(a) < 2 or len(b) < 2:
        raise GigaGANError(f"FID needs at least 2 images per set, got {len(a)} and {len(b)}")
    return frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))


def _cubic_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def kernel_inception_distance(
    features1: np.ndarray,
    features2: np.ndarray,
    num_subsets: int = 100,
    max_subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """(mean, standard deviation) over `num_subsets` random subsets of the unbiased MMD^2 estimate with
    the cubic polynomial kernel; each subset draws m = min(N1, N2, max_subset_size) rows from each set
    without replacement."""
    x_all, y_all = np.asarray(features1, dtype=np.float64), np.asarray(features2, dtype=np.float64)
    m = min(len(x_all), len(y_all), max_subset_size)
    if m < 2:
        raise GigaGANError(f"KID needs at least 2 images per set, got {len(x_all)} and {len(y_all)}")
    rng = np.random.default_rng(seed)
    estimates = np.empty(num_subsets)
    for subset in range(num_subsets):
        x = x_all[rng.choice(len(x_all), m, replace=False)]
        y = y_all[rng.choice(len(y_all), m, replace=False)]
        k_xx, k_yy, k_xy = _cubic_kernel(x, x), _cubic_kernel(y, y), _cubic_kernel(x, y)
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
        estimates[subset] = within - 2.0 * k_xy.mean()
    return float(estimates.mean()), float(estimates.std())


def _squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a.square().sum(1)[:, None] + b.square().sum(1)[None, :] - 2.0 * a @ b.T).clamp_min_(0.0)


def _knn_radii(points: torch.Tensor, k: int, chunk: int) -> torch.Tensor:
    """Squared distance of every point to its k-th nearest other point."""
    radii = []
    for start in range(0, len(points), chunk):
        distances = _squared_distances(points[start : start + chunk], points)
        radii.append(distances.kthvalue(k + 1, dim=1).values)  # the smallest is the point itself (0)
    return torch.cat(radii)


def _inside_manifold(queries: torch.Tensor, points: torch.Tensor, radii: torch.Tensor, chunk: int) -> torch.Tensor:
    inside = []
    for start in range(0, len(queries), chunk):
        distances = _squared_distances(queries[start : start + chunk], points)
        inside.append((distances <= radii[None, :]).any(dim=1))
    return torch.cat(inside)


def precision_recall(
    real_features: np.ndarray, fake_features: np.ndarray, k: int = 3, chunk: int = 1024
) -> tuple[float, float]:
    """(precision, recall) with k-NN manifolds: precision is the fraction of fakes inside the real
    manifold, recall the fraction of reals inside the fake manifold."""
    real = torch.from_numpy(np.asarray(real_features, dtype=np.float64))
    fake = torch.from_numpy(np.asarray(fake_features, dtype=np.float64))
    if len(real) <= k or len(fake) <= k:
        raise GigaGANError(f"precision/recall with k={k} needs more than {k} images per set")
    precision = _inside_manifold(fake, real, _knn_radii(real, k, chunk), chunk).double().mean()
    recall = _inside_manifold(real, fake, _knn_radii(fake, k, chunk), chunk).double().mean()
    return float(precision), float(recall)


def intra_class_fid(
    real_features: np.ndarray, real_labels: list[str], fake_features: np.ndarray, fake_labels: list[str]
) -> tuple[float, dict[str, float]]:
    """(mean over classes, per-class FID) for classes present in both sets with at least 2 images each."""
    real_labels_array, fake_labels_array = np.asarray(real_labels), np.asarray(fake_labels)
    per_class = {}
    for label in sorted(set(real_labels) & set(fake_labels)):
        real = real_features[real_labels_array == label]
        fake = fake_features[fake_labels_array == label]
        if len(real) >= 2 and len(fake) >= 2:
            per_class[label] = feature_fid(real, fake)
    if not per_class:
        raise GigaGANError("intra-class FID: no class has at least 2 real and 2 fake images")
    return float(np.mean(list(per_class.values()))), per_class
