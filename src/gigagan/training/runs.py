"""Setting up a training run: its configs (a preset, a JSON file, or a resumed run's config.json), the
checks before anything is built, and the trainer's start (one process, a torchrun rank, or local CPU ranks).

One resume implementation serves `gigagan train`, `gigagan train-upsampler` and `gigagan demo`:
`resume_checkpoint` finds and checks the run's latest checkpoint, `saved_configs` rebuilds the configs
it was trained with. What differs between text-to-image and upsampler runs is a `RunKind`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from gigagan.config import (
    DEFAULT_PRESET,
    DEFAULT_UPSAMPLER_PRESET,
    DiscriminatorConfig,
    GeneratorConfig,
    ModelConfig,
    TrainConfig,
    UpsamplerConfig,
    UpsamplerDiscriminatorConfig,
    UpsamplerModelConfig,
    config_from_dict,
    get_preset,
    get_upsampler_preset,
    preset_training,
)
from gigagan.errors import GigaGANError
from gigagan.io import STATE_NAME, latest_checkpoint, list_checkpoints, read_config_file
from gigagan.training.checkpoint import verify_checkpoint
from gigagan.training.distributed import init_distributed, run_local_ranks, shutdown
from gigagan.training.loop import Trainer
from gigagan.training.upsampler import UpsamplerTrainConfig, UpsamplerTrainer

T = TypeVar("T")


@dataclass(frozen=True)
class RunKind:
    """What differs between a text-to-image run and an upsampler run."""

    name: str
    default_preset: str
    get_preset: Callable[[str], Any]
    model_class: type
    # (field of the model config, its config.json entry, its config class), one per network
    networks: tuple[tuple[str, str, type], ...]
    training_class: type
    # the training config of a preset (None: a --config file's own model), with overrides on top
    preset_training: Callable[[str | None, dict[str, Any]], Any]
    resolution: Callable[[Any], int]  # of the images the run trains on (its model's output)
    trainer_class: type
    marker: str | None = None  # a config.json entry that only this kind's checkpoints have


def _upsampler_training(preset: str | None, overrides: dict[str, Any]) -> UpsamplerTrainConfig:
    return config_from_dict(UpsamplerTrainConfig, overrides, "training")  # no preset has training defaults


TEXT_TO_IMAGE = RunKind(
    name="text-to-image",
    default_preset=DEFAULT_PRESET,
    get_preset=get_preset,
    model_class=ModelConfig,
    networks=(("generator", "generator", GeneratorConfig), ("discriminator", "discriminator", DiscriminatorConfig)),
    training_class=TrainConfig,
    preset_training=preset_training,
    resolution=lambda model: model.generator.resolution,
    trainer_class=Trainer,
)
UPSAMPLER = RunKind(
    name="upsampler",
    default_preset=DEFAULT_UPSAMPLER_PRESET,
    get_preset=get_upsampler_preset,
    model_class=UpsamplerModelConfig,
    networks=(
        ("upsampler", "upsampler", UpsamplerConfig),
        ("discriminator", "upsampler_discriminator", UpsamplerDiscriminatorConfig),
    ),
    training_class=UpsamplerTrainConfig,
    preset_training=_upsampler_training,
    resolution=lambda model: model.upsampler.output_resolution,
    trainer_class=UpsamplerTrainer,
    marker="upsampler",
)


# ---------------------------------------------------------------------------- configs


def load_train_file(path: Path) -> dict[str, Any]:
    """A --config file: a JSON object with keys among preset, model and training (one-line errors)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as error:
        raise GigaGANError(f"config file not found: {path}") from error
    except (OSError, UnicodeDecodeError) as error:
        raise GigaGANError(f"cannot read config file {path}: {error}") from error
    except json.JSONDecodeError as error:
        raise GigaGANError(f"{path} is not valid JSON ({error.msg}, line {error.lineno})") from error
    if not isinstance(data, dict) or set(data) - {"preset", "model", "training"}:
        raise GigaGANError(f"{path} must be a JSON object with keys among: preset, model, training")
    if "preset" in data and not isinstance(data["preset"], str):
        raise GigaGANError(f'{path}: "preset" must be a preset name (a string), got {data["preset"]!r}')
    return data


def from_file(path: Path | None, build: Callable[[], T]) -> T:
    """`build()`, with its one-line errors prefixed by the file the values came from (if any)."""
    if path is None:
        return build()
    try:
        return build()
    except GigaGANError as error:
        raise GigaGANError(f"{path}: {error}") from error
    except KeyError as error:
        raise GigaGANError(f"{path} has no {error.args[0]!r} entry") from error


def resume_checkpoint(out: Path, resume: bool) -> tuple[Path | None, dict[str, Any] | None]:
    """With `resume`: the run's latest checkpoint, its files checked (`verify_checkpoint`), and its
    config.json (a one-line error if none). Either way, every checkpoint already in `out` must have a
    readable config.json: a damaged one is refused, never overwritten."""
    existing = list_checkpoints(out)
    latest = latest_checkpoint(out)
    for folder in dict.fromkeys([*existing, *([latest] if latest is not None else [])]):
        if (folder / "config.json").exists() or resume:
            read_config_file(folder)
    if not resume:
        return None, None
    if latest is None:
        raise GigaGANError(f"--resume: no checkpoint found in {out}")
    verify_checkpoint(latest)
    return latest, read_config_file(latest)


def checkpoint_config_path(checkpoint: Path | None) -> Path:
    return Path(checkpoint or ".") / "config.json"


def saved_configs(kind: RunKind, checkpoint: Path, saved: dict[str, Any]) -> tuple[Any, Any]:
    """The model and training configs a checkpoint's config.json (`saved`) holds; errors name the file."""
    if kind.marker is not None and kind.marker not in saved:
        raise GigaGANError(f"{checkpoint} is not an {kind.name} training checkpoint")
    path = checkpoint_config_path(checkpoint)
    model = from_file(
        path,
        lambda: kind.model_class(**{f: config_from_dict(cls, saved[key], key) for f, key, cls in kind.networks}),
    )
    training = from_file(path, lambda: config_from_dict(kind.training_class, saved.get("training", {}), "training"))
    return model, training


@dataclass
class RunConfigs:
    """A run's configs before the command line's flags go on top."""

    model: Any
    training: Any
    checkpoint: Path | None  # the checkpoint resumed (None: a new run)
    saved: dict[str, Any] | None  # the resumed checkpoint's config.json
    file: dict[str, Any]  # the --config file's object ({} without one)


def run_configs(kind: RunKind, out: Path, resume: bool, config_file: Path | None, preset: str | None) -> RunConfigs:
    """The configs of the run in `out`: with `resume`, the latest checkpoint's; else the --config file's
    model (or the preset: `preset`, else the file's, else the kind's default) and the preset's training
    defaults with the file's "training" object on top."""
    file = load_train_file(config_file) if config_file else {}
    checkpoint, saved = resume_checkpoint(out, resume)
    if checkpoint is not None and saved is not None:  # the run's own configs (flags go on top later)
        model, training = saved_configs(kind, checkpoint, saved)
        return RunConfigs(model, training, checkpoint, saved, file)
    preset_name = None if "model" in file else preset or file.get("preset", kind.default_preset)
    if preset_name is None:
        model = from_file(config_file, lambda: config_from_dict(kind.model_class, file["model"], "model"))
    else:
        name = preset_name
        model = from_file(config_file if preset is None else None, lambda: kind.get_preset(name))
    training = from_file(config_file, lambda: kind.preset_training(preset_name, file.get("training", {})))
    return RunConfigs(model, training, None, None, file)


def check_training(model: Any, training: Any, resolution: int) -> None:
    """The whole model and training configs, checked before anything is built."""
    model.validate()
    training.validate()
    if training.resolution is not None and training.resolution != resolution:
        raise GigaGANError(f"training.resolution {training.resolution} differs from the model's {resolution}")


# ---------------------------------------------------------------------------- training


def run_trainer(
    model: Any,
    training: Any,
    out: Path,
    checkpoint: Path | None,
    device: str,
    progress: bool,
    with_metrics: bool = False,
    processes: int = 1,
    trainer_class: type = Trainer,
    report: bool = True,
) -> None:
    """Build `trainer_class` (single process or one torchrun rank), train, and (with `report`) print the
    result. `with_metrics`: score `training.metrics` on the EMA generator every `training.metrics_every`
    steps; `processes` > 1: train in that many local CPU ranks (`run_local_ranks`)."""
    if processes != 1:  # each rank runs this function again, with processes=1
        args = (model, training, out, checkpoint, device, progress, with_metrics, 1, trainer_class, report)
        run_local_ranks(processes, device, training.batch_size, run_trainer, *args)
        return

    # gigagan's own notes, and only warnings from other libraries (open_clip logs every tokenizer lookup)
    logging.basicConfig(level=logging.WARNING, format="gigagan: %(message)s")
    logging.getLogger("gigagan").setLevel(logging.INFO)
    context = init_distributed(device)
    try:
        trainer = trainer_class(model, training, out, context=context, resume=checkpoint or False, progress=progress)
        if with_metrics and training.metrics and training.metrics_every > 0:
            from gigagan.metrics.during_training import TrainingMetrics

            trainer.on_step = TrainingMetrics(
                trainer, training.metrics, training.metrics_every, training.metrics_num_images
            )
        result = trainer.run()
    finally:
        shutdown(context)
    if context.is_main and report:
        data_skipped = sum(trainer.data_skipped.values())
        _echo(
            f"trained {counted(result.step, 'step')} ({counted(result.images_seen, 'image')}; "
            f"{counted(result.skipped_steps, 'non-finite step')} skipped; "
            f"{counted(data_skipped, 'unreadable data item')} skipped); "
            f"checkpoint: {result.last_checkpoint}; latest: {out / 'latest'}"
        )


def train_demo_run(
    run_dir: Path,
    preset: str,
    max_steps: int,
    max_minutes: float,
    batch_size: int,
    device: str,
    progress: bool,
    processes: int = 1,
    fresh: dict[str, Any] | None = None,
) -> Path:
    """Train the demo run in `run_dir` on the built-in shapes data: reuse it when it has reached
    `max_steps`, else resume it, else start it from `preset` (with the training values `fresh` on top);
    at most `max_minutes` this call. Returns its newest checkpoint."""
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is not None:
        try:
            step = int(json.loads((checkpoint / STATE_NAME).read_text())["step"])
        except (OSError, ValueError, KeyError) as error:
            raise GigaGANError(f"{checkpoint} is damaged; delete {run_dir} to train afresh") from error
        if step >= max_steps:
            _echo(f"demo: reusing the finished run {run_dir} (step {step})")
            return checkpoint
        _echo(f"demo: resuming {run_dir} at step {step} (target {max_steps}, at most {max_minutes:g} min)")
        _, saved = resume_checkpoint(run_dir, True)  # the same checkpoint, its files checked
        model, training = saved_configs(TEXT_TO_IMAGE, checkpoint, saved or {})
    else:
        _echo(
            f"demo: training the {preset} preset on the built-in shapes data into {run_dir} "
            f"({max_steps} steps or {max_minutes:g} min, whichever comes first)"
        )
        model = get_preset(preset)
        training = preset_training(preset, {"data": "shapes", **(fresh or {})})
    training = dataclasses.replace(
        training, max_steps=max_steps, max_minutes=max_minutes, batch_size=batch_size, sample_every=0
    )
    run_trainer(model, training, run_dir, checkpoint, device, progress, processes=processes, report=False)
    found = latest_checkpoint(run_dir)
    if found is None:  # Trainer.run always ends with a checkpoint
        raise GigaGANError(f"training wrote no checkpoint into {run_dir}")
    state = json.loads((found / STATE_NAME).read_text())
    ranks = f" in {processes} processes" if processes > 1 else ""
    _echo(f"demo: trained to step {state['step']} ({state['images_seen']} images{ranks})")
    return found


def counted(count: int, noun: str) -> str:
    """E.g. "1 step", "3 steps"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _echo(message: str) -> None:
    print(message, flush=True)
