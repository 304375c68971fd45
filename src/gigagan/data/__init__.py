"""Captioned-image sources behind one interface, and the resumable batch stream that feeds training.

Every source yields items `{"image": float32 [3, R, R] in [-1, 1], "caption": str}` and exposes
`skipped` (reason -> count) and `skipped_examples`. `build_dataset(spec, resolution)` picks the
source from a spec string; `BatchStream` turns any of them into endless, rank-sharded batches.
"""

from gigagan.data.build import build_dataset, is_class_folder
from gigagan.data.files import ClassFolderDataset, FileListDataset, ImageFolderWithCaptions, ManifestDataset
from gigagan.data.images import load_image, to_rgb
from gigagan.data.shapes import (
    ShapeAttributes,
    ShapesDataset,
    caption,
    heldout_prompts,
    parse_caption,
    render,
    sample_attributes,
)
from gigagan.data.shapes_verifier import attribute_accuracy, verify
from gigagan.data.shards import WebDatasetSource
from gigagan.data.stream import BatchStream

__all__ = [
    "BatchStream",
    "ClassFolderDataset",
    "FileListDataset",
    "ImageFolderWithCaptions",
    "ManifestDataset",
    "ShapeAttributes",
    "ShapesDataset",
    "WebDatasetSource",
    "attribute_accuracy",
    "build_dataset",
    "caption",
    "heldout_prompts",
    "is_class_folder",
    "load_image",
    "parse_caption",
    "render",
    "sample_attributes",
    "to_rgb",
    "verify",
]
