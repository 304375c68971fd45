"""Option declarations shared by the commands, and the parsers that check option values.

Every parser turns an option's text into its value or raises a one-line GigaGANError that names the
flag, the bad value and what is allowed (exit code 2 in `gigagan.cli.main`). An option that sets a
TrainConfig / LossConfig field is checked by that field's rule (`gigagan.config.FIELD_RULES`), the same
check a --config file or a resumed run's config.json gets: one validation layer.

Training options default to None, "not given": the value then comes from the resumed run's config.json
(--resume), else the --config file's "training" object, else the preset's training defaults
(`PRESET_TRAINING`), else TrainConfig's defaults. Their help shows those defaults.

Also the checks of the sampling commands' values (counts, seed lists, prompts). This module must stay
cheap to import (no torch): `gigagan --help` builds every command's options.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from gigagan.config import TrainConfig, check_value, describe_allowed, field_hints, field_rule
from gigagan.config.validation import finite_number, shown
from gigagan.errors import GigaGANError

# gigagan.metrics.METRICS, named here so that help needs no metrics import (a test keeps them equal)
METRIC_NAMES = ("fid", "kid", "pr", "intra_fid", "clip_score", "alignment")
DTYPES = ("float32", "bfloat16")
DTYPE_ALIASES = {"float32": "float32", "fp32": "float32", "bfloat16": "bfloat16", "bf16": "bfloat16"}
LEVEL_GROUPS = ("coarse", "middle", "fine")  # gigagan.inference.latent.LEVEL_GROUPS


# ---------------------------------------------------------------------------- parsers


def finite_float(flag: str, minimum: float | None = None, exclusive: bool = False) -> Callable[[Any], float]:
    """A parser for a float option: finite (no nan or inf), and above `minimum` when one is given."""
    return functools.partial(finite_number, name=flag, minimum=minimum, exclusive=exclusive)


def field_parser(owner: type | Callable[[], type], field: str, flag: str) -> Callable[[Any], Any]:
    """A parser for an option that sets `field` of a training config ("loss.x": of its LossConfig), checked by
    the field's type and FieldRule. `owner` may be a function returning the class (imported when parsing)."""

    def parse(text: Any) -> Any:
        cls = owner if isinstance(owner, type) else owner()
        name = field
        if "." in field:
            _, name = field.split(".", 1)
            cls = field_hints(cls)["loss"]
        hint = field_hints(cls)[name]
        value: Any = text
        if isinstance(text, str):
            kind = int if _has(hint, int) else float if _has(hint, float) else None
            if kind is not None:
                try:
                    value = kind(text)
                except ValueError:
                    value = text
        check_value(cls, name, value, flag)
        return value

    return parse


def _has(hint: Any, kind: type) -> bool:
    return hint is kind or kind in getattr(hint, "__args__", ())


def parse_device(flag: str = "--device") -> Callable[[Any], str]:
    """A parser for a device option: auto, cpu, cuda or cuda:N (whether it exists is checked later)."""

    def parse(text: Any) -> str:
        value = str(text).strip()
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", value):
            raise GigaGANError(f"unknown device {value!r} for {flag}; use auto, cpu, cuda or cuda:N")
        return value

    return parse


def parse_dtype(text: Any) -> str:
    value = DTYPE_ALIASES.get(str(text).strip().lower())
    if value is None:
        raise GigaGANError(f"unsupported dtype {str(text)!r} for --dtype; use float32 or bfloat16")
    return value


def parse_space(text: Any) -> str:
    if text not in ("z", "w"):
        raise GigaGANError(f"--space must be z or w, got {shown(text)}")
    return str(text)


def parse_levels(text: Any) -> str:
    """coarse, middle, fine or resolutions, comma-separated (whether a resolution exists is checked later)."""
    parts = [part.strip() for part in str(text).split(",") if part.strip()]
    for part in parts:
        if part not in LEVEL_GROUPS and not (part.isdigit() and int(part) >= 4 and not int(part) & (int(part) - 1)):
            raise GigaGANError(
                f"unknown level {part!r} in --levels: use coarse, middle, fine or resolutions such as 16,32"
            )
    if not parts:
        raise GigaGANError("--levels is empty: use coarse, middle, fine or resolutions such as 16,32")
    return str(text)


def choice_parser(kind: str, choices: tuple[str, ...]) -> Callable[[Any], str]:
    """A parser for a named choice (e.g. a preset): the one-line error lists the choices."""

    def parse(text: Any) -> str:
        if text not in choices:
            raise GigaGANError(f"unknown {kind} {str(text)!r}; choose one of: {', '.join(choices)}")
        return str(text)

    return parse


def preset_names() -> tuple[str, ...]:
    from gigagan.config import list_presets

    return tuple(list_presets())


def upsampler_preset_names() -> tuple[str, ...]:
    from gigagan.config import list_upsampler_presets

    return tuple(list_upsampler_presets())


def choices_type(choices: tuple[str, ...]) -> Any:
    """A Literal of the choices: typer lists them in the help (the parser gives the error message)."""
    return Literal[choices]  # type: ignore[valid-type]


# ---------------------------------------------------------------------------- help defaults


def _lookup(data: dict[str, Any], field: str) -> Any:
    for key in field.split("."):
        if not isinstance(data, dict) or key not in data:
            return _MISSING
        data = data[key]
    return data


_MISSING = object()


def _value_text(value: Any, flag: str) -> str:
    if isinstance(value, bool):
        name = flag.split("/")[0].removeprefix("--")
        return name if value else f"no-{name}"
    if value is None:
        return "none"
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value) or "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def default_text(field: str, flag: str, presets: dict[str, dict[str, Any]] | None = None, base: Any = _MISSING) -> str:
    """The help's default of a training option: TrainConfig's default (or `base`), and every preset whose
    training defaults (`presets`, e.g. PRESET_TRAINING) differ: "8 with preset quickstart, 16 with the others"."""
    if base is _MISSING:
        base = _lookup(_train_defaults(), field)
    text = _value_text(base, flag)
    differing = {
        name: _lookup(values, field)
        for name, values in (presets or {}).items()
        if _lookup(values, field) is not _MISSING and _lookup(values, field) != base
    }
    if not differing:
        return text
    parts = [f"{_value_text(value, flag)} with preset {name}" for name, value in differing.items()]
    return f"{', '.join(parts)}, {text} with the others"


def _train_defaults() -> dict[str, Any]:
    from gigagan.config import config_to_dict

    return config_to_dict(TrainConfig())


# ---------------------------------------------------------------------------- training options

# field of TrainConfig ("loss.x": of its LossConfig) -> (flag, help); the options every training command has
TRAINING_FLAGS: dict[str, tuple[str, str]] = {
    "max_steps": ("--max-steps", "Total training steps."),
    "max_minutes": ("--max-minutes", "Stop after this many minutes (checkpointed); none: no time cap."),
    "batch_size": ("--batch-size", "Global batch size (split over ranks)."),
    "seed": ("--seed", "Random seed."),
    "lr_generator": ("--lr-g", "Generator learning rate."),
    "lr_discriminator": ("--lr-d", "Discriminator learning rate."),
    "loss.r1_gamma": ("--r1-gamma", "R1 weight gamma (0: no R1)."),
    "loss.r1_interval": ("--r1-interval", "Lazy R1 interval in steps (0: no R1)."),
    "loss.matching_aware_weight": ("--matching-weight", "Matching-aware loss weight."),
    "loss.augment": ("--augment/--no-augment", "Differentiable augmentation (translation, colour, cutout)."),
    "bf16": ("--bf16/--no-bf16", "bfloat16 autocast."),
    "grad_checkpointing": (
        "--grad-checkpointing/--no-grad-checkpointing",
        "Recompute the generator's synthesis activations in the backward pass: less memory, more time.",
    ),
    "checkpoint_every": ("--checkpoint-every", "Steps between checkpoints (0: only at the end)."),
    "sample_every": ("--sample-every", "Steps between sample grids (0: none)."),
    "log_every": ("--log-every", "Steps between log lines."),
    "keep_checkpoints": ("--keep", "Checkpoints to keep (0 keeps all)."),
    "num_workers": ("--num-workers", "DataLoader workers."),
    "caption_template": ("--caption-template", "Caption for class folders, with {label}."),
    "deterministic": (
        "--deterministic/--no-deterministic",
        "Only deterministic algorithms (torch's): reproducible runs, slower steps.",
    ),
}
# the text-to-image trainer's own options
TEXT_TRAINING_FLAGS: dict[str, tuple[str, str]] = {
    "loss.clip_weight": ("--clip-weight", "CLIP contrastive loss weight (needs --clip-weights)."),
    "loss.vision_aided_weight": ("--vision-weight", "Vision-aided D loss weight (needs --clip-weights)."),
    "clip_weights": (
        "--clip-weights",
        "CLIP checkpoint (file or open_clip tag) for the vision-aided D and CLIP loss; none: both off.",
    ),
    "metrics_every": ("--metrics-every", "Steps between evaluations of --metrics (0: never)."),
    "metrics_num_images": ("--metrics-num-images", "Generated (and real) images per evaluation."),
}


def training_option(
    field: str,
    owner: type | Callable[[], type] = TrainConfig,
    presets: dict[str, dict[str, Any]] | None = None,
    help: str | None = None,
    allowed: str | None = None,
    default: str | None = None,
) -> Any:
    """The typer option of a training field: its flag and help (TRAINING_FLAGS / TEXT_TRAINING_FLAGS, or
    `help`), what it allows (from the field's rule, or `allowed`), its default (`default_text`, or
    `default`) and a parser that checks the value like a config file's."""
    flag, text = {**TRAINING_FLAGS, **TEXT_TRAINING_FLAGS}.get(field, (None, None))
    if flag is None:
        raise KeyError(field)
    text = help or text
    shown_default = default if default is not None else default_text(field, flag, presets)
    if "/" in flag:  # an on/off flag
        return typer.Option(flag, help=text, show_default=shown_default)
    if allowed is None and isinstance(owner, type):
        cls, name = (field_hints(owner)["loss"], field.split(".", 1)[1]) if "." in field else (owner, field)
        allowed = describe_allowed(field_hints(cls)[name], field_rule(cls, name))
    suffix = f" Allowed: {allowed.removesuffix(' or null')}." if allowed else ""
    parser = field_parser(owner, field, flag)
    return typer.Option(flag, help=f"{text}{suffix}", show_default=shown_default, parser=parser)


RunDirOption = Annotated[Path, typer.Option("--out", help="Run directory: checkpoints, samples, logs.")]
ConfigFileOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help='JSON file: {"preset": NAME} or {"model": {...}}, and {"training": {...}} (TrainConfig fields); '
        "flags go on top. Ignored with --resume.",
    ),
]
ResumeOption = Annotated[
    bool, typer.Option("--resume", help="Continue from OUT/latest with the run's saved configs (flags go on top).")
]
TrainDeviceOption = Annotated[
    str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.", parser=parse_device("--device"))
]
ProcessesOption = Annotated[
    int,
    typer.Option(
        "--processes",
        help="CPU training processes on this machine, data parallel over gloo (the batch is split over "
        "them, the cores shared); small models train faster so on few-core CPUs. GPUs: use torchrun.",
    ),
]
ProgressOption = Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")]
MetricsOption = Annotated[
    str | None,
    typer.Option(
        "--metrics",
        help=f"Metrics scored on the EMA G while training, comma-separated, from: {', '.join(METRIC_NAMES)} "
        "(needs --metrics-every).",
        show_default="none",
    ),
]

# ---------------------------------------------------------------------------- sampling options

DeviceOption = Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.", parser=parse_device("--device"))]
DtypeOption = Annotated[
    choices_type(DTYPES),
    typer.Option(help="float32 or bfloat16 (autocast); fp32 and bf16 also work.", parser=parse_dtype),
]
PsiOption = Annotated[
    float,
    typer.Option(
        help="Truncation toward the prompt's mean w: 1 = none, 0 = mean (any finite number).",
        parser=finite_float("--truncation-psi"),
    ),
]
CheckpointOption = Annotated[
    str, typer.Option(help="Model folder (save_pretrained), training checkpoint, run folder or Hub id.")
]
OutOption = Annotated[Path, typer.Option(help="Output folder (created if needed).")]
BatchOption = Annotated[int, typer.Option(help="Images per forward pass.")]
ScaleOption = Annotated[int | None, typer.Option(help="Scale grid cells up by this factor (default: to >= 96px).")]


def levels_option(source: str, example: str) -> Any:
    """The --levels option of a mixing command: the levels whose w rows come from `source`."""
    help = f"Levels taken from {source}: coarse, middle, fine or resolutions ({example}), comma-separated."
    return typer.Option(help=help, parser=parse_levels)


# ---------------------------------------------------------------------------- sampling values


def check_count(value: int, option: str, minimum: int = 1) -> int:
    if value < minimum:
        raise GigaGANError(f"{option} must be at least {minimum}, got {value}")
    return value


def parse_seeds(text: str, option: str) -> list[int]:
    """'0,1,5' or '0-3' (inclusive) or a mix -> seeds (non-negative)."""
    seeds: list[int] = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        try:
            if "-" in part[1:]:
                first, last = part.split("-", 1)
                low, high = int(first), int(last)
                if high < low:
                    raise ValueError
                seeds.extend(range(low, high + 1))
            else:
                seeds.append(int(part))
        except ValueError as error:
            raise GigaGANError(f"{option}: expected seeds like 0,1,2 or 0-3, got {text!r}") from error
    if not seeds:
        raise GigaGANError(f"{option}: no seeds given")
    negative = [s for s in seeds if s < 0]
    if negative:
        raise GigaGANError(f"{option}: seeds must be non-negative, got {negative[0]}")
    return seeds


def read_prompts(prompts: Sequence[str] | None, prompt_file: Path | None) -> list[str]:
    """The non-empty --prompt values, then the --prompt-file's non-empty lines; an error if there are none."""
    collected = [p for p in prompts or [] if p.strip()]
    if prompt_file is not None:
        try:
            lines = prompt_file.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError as error:
            raise GigaGANError(f"prompt file not found: {prompt_file}") from error
        except (OSError, UnicodeDecodeError) as error:
            raise GigaGANError(f"cannot read prompt file {prompt_file}: {error}") from error
        collected.extend(line.strip() for line in lines if line.strip())
    if not collected:
        raise GigaGANError("no prompts given: use --prompt TEXT or --prompt-file FILE (one prompt per line)")
    return collected
