"""Metric registry (name -> function), in the spirit of StyleGAN2-ADA's `metric_main`.

A metric declares what it needs from the fake images ("inception" features, per-image "clip"
scores, shapes "alignment" results) and computes a flat `{result name: value}` dict from a
`MetricInputs`. Add one with `@register_metric(name, needs=..., description=...)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from gigagan.errors import GigaGANError
from gigagan.metrics.scores import (
    frechet_distance,
    intra_class_fid,
    kernel_inception_distance,
    precision_recall,
)
from gigagan.metrics.stats import FeatureStats

INCEPTION, CLIP, ALIGNMENT = "inception", "clip", "alignment"


@dataclass
class MetricInputs:
    """Everything metrics read: real and fake Inception statistics, per-image CLIP scores, shapes verifier
    accuracies, and the protocol settings."""

    real: FeatureStats | None = None
    fake: FeatureStats | None = None
    clip_scores: np.ndarray | None = None
    alignment: dict[str, float] | None = None
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    pr_k: int = 3
    seed: int = 0


MetricFunction = Callable[[MetricInputs], dict[str, float]]


@dataclass(frozen=True)
class Metric:
    name: str
    needs: frozenset[str]
    compute: MetricFunction
    description: str = ""


METRICS: dict[str, Metric] = {}


def register_metric(name: str, needs: Iterable[str], description: str) -> Callable[[MetricFunction], MetricFunction]:
    """Decorator adding a metric function to `METRICS` under `name`."""

    def decorate(function: MetricFunction) -> MetricFunction:
        METRICS[name] = Metric(name, frozenset(needs), function, description)
        return function

    return decorate


def parse_metric_names(names: str | Iterable[str]) -> list[str]:
    """'fid,kid' or ['fid', 'kid'] -> validated, de-duplicated names in the given order."""
    items = names.split(",") if isinstance(names, str) else list(names)
    parsed = list(dict.fromkeys(item.strip() for item in items if item.strip()))
    if not parsed:
        raise GigaGANError(f"no metrics given (choose from {', '.join(METRICS)})")
    unknown = [name for name in parsed if name not in METRICS]
    if unknown:
        raise GigaGANError(f"unknown metric '{unknown[0]}' (choose from {', '.join(METRICS)})")
    return parsed


def metric_needs(names: Iterable[str]) -> set[str]:
    """The union of what the named metrics need."""
    return set().union(*(METRICS[name].needs for name in names))


def run_metrics(names: Iterable[str], inputs: MetricInputs) -> dict[str, float]:
    """Compute each named metric; results are merged into one flat dict."""
    results: dict[str, float] = {}
    for name in names:
        results.update(METRICS[name].compute(inputs))
    return results


def _require_stats(inputs: MetricInputs, metric: str) -> tuple[FeatureStats, FeatureStats]:
    if inputs.real is None or inputs.fake is None:
        raise GigaGANError(f"{metric} needs real and fake Inception statistics")
    return inputs.real, inputs.fake


@register_metric("fid", needs=[INCEPTION], description="Frechet Inception distance (clean-fid protocol)")
def _fid(inputs: MetricInputs) -> dict[str, float]:
    real, fake = _require_stats(inputs, "fid")
    return {"fid": frechet_distance(real.mu, real.sigma, fake.mu, fake.sigma)}


@register_metric("kid", needs=[INCEPTION], description="kernel Inception distance (unbiased MMD^2, cubic kernel)")
def _kid(inputs: MetricInputs) -> dict[str, float]:
    real, fake = _require_stats(inputs, "kid")
    mean, std = kernel_inception_distance(
        real.features, fake.features, inputs.kid_subsets, inputs.kid_subset_size, inputs.seed
    )
    return {"kid": mean, "kid_std": std}


@register_metric("pr", needs=[INCEPTION], description="precision and recall (k-NN manifolds, k=3)")
def _precision_recall(inputs: MetricInputs) -> dict[str, float]:
    real, fake = _require_stats(inputs, "pr")
    precision, recall = precision_recall(real.features, fake.features, k=inputs.pr_k)
    return {"precision": precision, "recall": recall}


@register_metric("intra_fid", needs=[INCEPTION], description="mean per-class FID (class-folder data)")
def _intra_fid(inputs: MetricInputs) -> dict[str, float]:
    real, fake = _require_stats(inputs, "intra_fid")
    if real.labels is None or fake.labels is None:
        raise GigaGANError("intra_fid needs class labels for real and fake images (class-folder data)")
    mean, per_class = intra_class_fid(real.features, real.labels, fake.features, fake.labels)
    return {"intra_fid": mean, **{f"intra_fid/{label}": value for label, value in per_class.items()}}


@register_metric("clip_score", needs=[CLIP], description="CLIP score, 100 * max(cos, 0) (ViT-B/32)")
def _clip_score(inputs: MetricInputs) -> dict[str, float]:
    if inputs.clip_scores is None:
        raise GigaGANError("clip_score needs CLIP weights (--clip-weights PATH) and captions")
    return {"clip_score": float(np.mean(inputs.clip_scores))}


@register_metric("alignment", needs=[ALIGNMENT], description="shapes verifier accuracy per attribute")
def _alignment(inputs: MetricInputs) -> dict[str, float]:
    if inputs.alignment is None:
        raise GigaGANError("alignment needs shapes captions for the fake images")
    return {f"alignment/{name}": value for name, value in inputs.alignment.items()}


__all__ = [
    "METRICS",
    "Metric",
    "MetricInputs",
    "metric_needs",
    "parse_metric_names",
    "register_metric",
    "run_metrics",
]
