"""The evaluation pipeline: image sources -> Inception statistics (cached) and per-image scores -> metrics.

Two ways in:
- `evaluate_folders(real, fake, metrics)`: two folders or archives of pictures;
- `evaluate_generator(generator, data_spec, metrics)`: real images and their captions from a data
  spec (`gigagan.data.build_dataset`), fake images generated for the same captions with seeded z.

Both stream the fake images once, feeding only what the chosen metrics need (Inception features,
CLIP scores, shapes verifier results), then call the metrics from the registry.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gigagan.errors import GigaGANError
from gigagan.metrics.images import ImageFiles
from gigagan.metrics.inception import (
    BUNDLED_SHA1,
    InceptionFeatures,
    extract_features,
    file_batches,
    file_sha1,
    quantize_images,
)
from gigagan.metrics.registry import MetricInputs, metric_needs, parse_metric_names, run_metrics
from gigagan.metrics.stats import FeatureStats, cached_feature_stats

Progress = Callable[[str, int, int], None]  # (stage, done so far, total)


@dataclass
class EvalSettings:
    """What every evaluation shares: the networks, the statistics cache, batch size and seed."""

    inception: str | os.PathLike[str] | None = None  # TorchScript file; None: the bundled one
    clip_weights: str | os.PathLike[str] | None = None
    cache_dir: Path | None = None
    use_cache: bool = True
    batch_size: int = 50
    seed: int = 0
    device: str = "cpu"
    progress: Progress | None = None
    _inception_model: InceptionFeatures | None = field(default=None, repr=False)

    def inception_model(self) -> InceptionFeatures:
        if self._inception_model is None:
            self._inception_model = InceptionFeatures(self.inception).to(self.device)
        return self._inception_model

    def network_id(self) -> str:
        return BUNDLED_SHA1 if self.inception is None else file_sha1(Path(self.inception).expanduser())

    def report(self, stage: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)


def _counting(settings: EvalSettings, stage: str, total: int) -> Callable[[int], None]:
    done = 0

    def step(count: int) -> None:
        nonlocal done
        done += count
        settings.report(stage, done, total)

    return step


def files_stats(files: ImageFiles, settings: EvalSettings, stage: str = "real") -> FeatureStats:
    """Inception statistics of a folder/archive source (cached by path, count, seed and network)."""
    description = {
        "source": str(files.source.resolve()),
        "kind": "files",
        "total": files.total,
        "count": len(files),
        "seed": settings.seed,
        "resolution": "native",
        "network": settings.network_id(),
    }

    def compute() -> tuple[np.ndarray, list[str] | None]:
        batches = file_batches(files, settings.batch_size)
        features = extract_features(settings.inception_model(), batches, _counting(settings, stage, len(files)))
        return features, files.labels

    stats, _ = cached_feature_stats(description, compute, settings.cache_dir, settings.use_cache)
    return stats


@dataclass
class RealSample:
    """The real side of a generator evaluation: which images (by description, for the cache), their
    captions (the fakes are generated for the same captions), class labels, and the images in batches."""

    description: dict[str, Any]
    captions: list[str]
    batches: Callable[[int], Iterator[Tensor]]
    label_of_caption: dict[str, str] | None = None  # class folders: caption -> class label

    def labels_for(self, captions: Sequence[str]) -> list[str] | None:
        """Class labels for images made from `captions` (None unless the data is a class folder)."""
        if self.label_of_caption is None:
            return None
        return [self.label_of_caption.get(caption, caption) for caption in captions]

    @property
    def labels(self) -> list[str] | None:
        return self.labels_for(self.captions)


def _spec_source(spec: str) -> str:
    path = Path(spec).expanduser()
    return str(path.resolve()) if path.exists() else spec


def real_sample(
    spec: str,
    resolution: int,
    count: int,
    seed: int = 0,
    caption_template: str | None = None,
) -> RealSample:
    """`count` items of the data spec at `resolution` (a seeded random subset of a map-style dataset,
    the first `count` of a stream). `shapes:heldout` uses `heldout_prompts(count, seed)`, the shapes
    alignment protocol. Class folders label each image by its class (for intra-class FID)."""
    from gigagan.data import ClassFolderDataset, ShapesDataset, build_dataset, heldout_prompts, render
    from gigagan.data.shapes import caption as shape_caption
    from gigagan.data.shapes import to_tensor as shape_tensor

    if count < 1:
        raise GigaGANError(f"the image count must be positive, got {count}")
    description: dict[str, Any] = {
        "source": _spec_source(spec),
        "kind": "dataset",
        "resolution": resolution,
        "count": count,
        "seed": seed,
        "caption_template": caption_template,
    }
    if spec.strip() == "shapes:heldout":
        prompts = heldout_prompts(count, seed)
        captions = [text for text, _ in prompts]

        def heldout_batches(batch_size: int) -> Iterator[Tensor]:
            for start in range(0, count, batch_size):
                chunk = prompts[start : start + batch_size]
                yield torch.stack([shape_tensor(render(attributes, resolution)) for _, attributes in chunk])

        description["kind"] = "shapes-heldout-prompts"
        return RealSample(description, captions, heldout_batches)

    dataset = build_dataset(spec, resolution, seed=seed, caption_template=caption_template)
    if not hasattr(dataset, "__len__"):  # a stream (WebDataset shards): its first `count` items
        images, captions = [], []
        for item in dataset:
            images.append(quantize_images(item["image"][None])[0])
            captions.append(item["caption"])
            if len(captions) == count:
                break
        description["count"] = len(captions)
        stacked = torch.stack(images)
        return RealSample(description, captions, lambda size: iter(stacked.split(size)))

    length = len(dataset)  # type: ignore[arg-type]
    indices = np.random.default_rng(seed).permutation(length)[: min(count, length)].tolist()
    description["count"] = len(indices)
    if isinstance(dataset, ShapesDataset):
        captions = [shape_caption(dataset.attributes(index)) for index in indices]
    elif hasattr(dataset, "captions"):
        all_captions = dataset.captions
        captions = [all_captions[index] for index in indices]
    else:
        captions = [dataset[index]["caption"] for index in indices]

    def dataset_batches(batch_size: int) -> Iterator[Tensor]:
        for start in range(0, len(indices), batch_size):
            yield torch.stack([dataset[index]["image"] for index in indices[start : start + batch_size]])

    label_of_caption = None
    if isinstance(dataset, ClassFolderDataset):
        template = caption_template or "a photo of a {label}"
        label_of_caption = {template.replace("{label}", label): label for label in dataset.classes}
    return RealSample(description, captions, dataset_batches, label_of_caption)


def sample_stats(sample: RealSample, settings: EvalSettings) -> FeatureStats:
    """Inception statistics of a real sample (cached by spec, resolution, count, seed and network)."""
    description = {**sample.description, "network": settings.network_id()}

    def compute() -> tuple[np.ndarray, list[str] | None]:
        progress = _counting(settings, "real", len(sample.captions))
        return extract_features(settings.inception_model(), sample.batches(settings.batch_size), progress), (
            sample.labels
        )

    stats, _ = cached_feature_stats(description, compute, settings.cache_dir, settings.use_cache)
    return stats


def seeded_latents(count: int, start: int, z_dim: int, seed: int) -> Tensor:
    """z for images start..start+count-1: image i always gets the same z (from seed and i), whatever the batching."""
    rows = [np.random.default_rng([seed, start + offset]).standard_normal(z_dim) for offset in range(count)]
    return torch.from_numpy(np.stack(rows)).float()


def generated_batches(
    generator: torch.nn.Module, captions: Sequence[str], count: int, batch_size: int, seed: int = 0
) -> Iterator[tuple[Tensor, list[str]]]:
    """(uint8 images [B, 3, R, R], captions) for `count` fakes; fake i uses caption i (cycled) and its
    own seeded z, with constant noise, so every image is reproducible."""
    if not captions:
        raise GigaGANError("no captions to generate images for")
    device = next(generator.parameters()).device
    z_dim = generator.config.z_dim  # type: ignore[union-attr]
    for start in range(0, count, batch_size):
        size = min(batch_size, count - start)
        prompts = [captions[(start + offset) % len(captions)] for offset in range(size)]
        z = seeded_latents(size, start, z_dim, seed).to(device)
        with torch.no_grad():
            images = generator(z, generator.tokenize(prompts), noise_mode="const")[0]  # type: ignore[operator]
        yield quantize_images(images.float().clamp(-1, 1)).cpu(), prompts


@dataclass
class FakeAccumulator:
    """Collects, batch by batch, only what the chosen metrics need from the fake images."""

    needs: set[str]
    settings: EvalSettings
    features: list[np.ndarray] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    clip_scores: list[np.ndarray] = field(default_factory=list)
    alignment_sums: dict[str, float] = field(default_factory=dict)
    count: int = 0
    _clip: Any = None

    def add(self, images: Tensor | Sequence[np.ndarray], captions: Sequence[str] | None) -> None:
        from gigagan.metrics.registry import ALIGNMENT, CLIP, INCEPTION

        size = len(images)
        if INCEPTION in self.needs:
            self.features.append(self.settings.inception_model()(images).numpy())
        if CLIP in self.needs:
            if captions is None:
                raise GigaGANError("clip_score needs a caption for every fake image (a .txt beside each file)")
            if self._clip is None:
                from gigagan.metrics.clip_score import CLIPScorer

                self._clip = CLIPScorer(self.settings.clip_weights).to(self.settings.device)
            self.clip_scores.append(self._clip(images, captions))
        if ALIGNMENT in self.needs:
            self._add_alignment(images, captions)
        if captions is not None:
            self.captions.extend(captions)
        self.count += size

    def _add_alignment(self, images: Tensor | Sequence[np.ndarray], captions: Sequence[str] | None) -> None:
        from gigagan.data import attribute_accuracy, parse_caption

        if captions is None:
            raise GigaGANError("alignment needs shapes captions for the fake images")
        try:
            attributes = [parse_caption(text) for text in captions]
        except Exception as error:
            raise GigaGANError(f"alignment works on shapes captions only; cannot read {captions[0]!r}") from error
        arrays = list(quantize_images(images).permute(0, 2, 3, 1).numpy()) if isinstance(images, Tensor) else images
        for name, value in attribute_accuracy(arrays, attributes).items():
            self.alignment_sums[name] = self.alignment_sums.get(name, 0.0) + value * len(arrays)

    def inputs(self, real: FeatureStats | None, labels: list[str] | None) -> MetricInputs:
        fake = FeatureStats.from_features(np.concatenate(self.features), labels) if self.features else None
        return MetricInputs(
            real=real,
            fake=fake,
            clip_scores=np.concatenate(self.clip_scores) if self.clip_scores else None,
            alignment={k: v / self.count for k, v in self.alignment_sums.items()} if self.alignment_sums else None,
            seed=self.settings.seed,
        )


@dataclass
class EvalResult:
    """Metric values plus what they were computed from (counts, sources)."""

    metrics: dict[str, float]
    info: dict[str, Any]


def _check_alignment_source(names: Iterable[str], spec: str | None) -> None:
    if "alignment" in names and spec is not None and not spec.strip().startswith("shapes"):
        raise GigaGANError(f"alignment is the shapes verifier's score; it needs --data shapes, not '{spec}'")


def evaluate_generator(
    generator: torch.nn.Module,
    data_spec: str,
    metrics: str | Sequence[str],
    num_images: int,
    settings: EvalSettings | None = None,
    caption_template: str | None = None,
) -> EvalResult:
    """Generate `num_images` fakes for the captions of `num_images` real items of `data_spec` and score them."""
    settings = settings or EvalSettings()
    names = parse_metric_names(metrics)
    _check_alignment_source(names, data_spec)
    needs = metric_needs(names)
    resolution = int(generator.config.resolution)  # type: ignore[union-attr]
    sample = real_sample(data_spec, resolution, num_images, settings.seed, caption_template)
    from gigagan.metrics.registry import INCEPTION

    real = sample_stats(sample, settings) if INCEPTION in needs else None
    accumulator = FakeAccumulator(needs, settings)
    step = _counting(settings, "fake", num_images)
    for images, prompts in generated_batches(
        generator, sample.captions, num_images, settings.batch_size, settings.seed
    ):
        accumulator.add(images, prompts)
        step(len(images))
    fake_labels = sample.labels_for(accumulator.captions)
    values = run_metrics(names, accumulator.inputs(real, fake_labels))
    info = {"data": data_spec, "resolution": resolution, "num_real": len(sample.captions), "num_fake": num_images}
    return EvalResult(values, info)


def evaluate_folders(
    real: str | os.PathLike[str] | None,
    fake: str | os.PathLike[str],
    metrics: str | Sequence[str],
    num_images: int | None = None,
    settings: EvalSettings | None = None,
    data_spec: str | None = None,
    caption_template: str | None = None,
) -> EvalResult:
    """Score a folder (or archive) of fake images against a real folder, or against a data spec read at the
    fakes' resolution. `num_images` caps each side (a seeded random subset); None takes every image."""
    settings = settings or EvalSettings()
    names = parse_metric_names(metrics)
    _check_alignment_source(names, data_spec)
    needs = metric_needs(names)
    from gigagan.metrics.registry import INCEPTION

    fake_files = ImageFiles(fake, limit=num_images, seed=settings.seed)
    real_stats: FeatureStats | None = None
    info: dict[str, Any] = {"fake": str(fake), "num_fake": len(fake_files)}
    if INCEPTION in needs:
        if (real is None) == (data_spec is None):
            raise GigaGANError("give the real images as either --real DIR or --data SPEC")
        if real is not None:
            real_files = ImageFiles(real, limit=num_images, seed=settings.seed)
            real_stats = files_stats(real_files, settings)
            info.update(real=str(real), num_real=len(real_files))
        else:
            resolution = fake_files.read(0).shape[0]
            sample = real_sample(data_spec, resolution, num_images or len(fake_files), settings.seed, caption_template)
            real_stats = sample_stats(sample, settings)
            info.update(data=data_spec, resolution=resolution, num_real=len(sample.captions))
    accumulator = FakeAccumulator(needs, settings)
    captions = fake_files.captions
    step = _counting(settings, "fake", len(fake_files))
    for start, batch in zip(
        range(0, len(fake_files), settings.batch_size), file_batches(fake_files, settings.batch_size)
    ):
        accumulator.add(batch, captions[start : start + len(batch)] if captions is not None else None)
        step(len(batch))
    fake_labels = fake_files.labels if real_stats is not None and real_stats.labels is not None else None
    values = run_metrics(names, accumulator.inputs(real_stats, fake_labels))
    return EvalResult(values, info)
