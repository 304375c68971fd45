"""Evaluation metrics: FID, KID, precision/recall and intra-class FID on TF Inception-v3 features
(clean-fid protocol), CLIP score, and the shapes verifier's alignment accuracy.

`evaluate_generator` / `evaluate_folders` run a whole evaluation; `METRICS` is the registry the
`gigagan eval` command draws from; the formulas work on plain feature arrays.
"""

from gigagan.metrics.evaluate import EvalResult, EvalSettings, evaluate_folders, evaluate_generator
from gigagan.metrics.images import ImageFiles
from gigagan.metrics.inception import InceptionFeatures, clean_resize, extract_features, quantize_images
from gigagan.metrics.registry import METRICS, MetricInputs, parse_metric_names, register_metric, run_metrics
from gigagan.metrics.scores import (
    feature_fid,
    frechet_distance,
    intra_class_fid,
    kernel_inception_distance,
    precision_recall,
)
from gigagan.metrics.stats import FeatureStats, cached_feature_stats, default_stats_dir

__all__ = [
    "METRICS",
    "EvalResult",
    "EvalSettings",
    "FeatureStats",
    "ImageFiles",
    "InceptionFeatures",
    "MetricInputs",
    "cached_feature_stats",
    "clean_resize",
    "default_stats_dir",
    "evaluate_folders",
    "evaluate_generator",
    "extract_features",
    "feature_fid",
    "frechet_distance",
    "intra_class_fid",
    "kernel_inception_distance",
    "parse_metric_names",
    "precision_recall",
    "quantize_images",
    "register_metric",
    "run_metrics",
]
