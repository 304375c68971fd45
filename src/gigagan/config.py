"""Typed configurations for every network, named presets, and their JSON form.

A config fully describes a model: `from_pretrained(dir)` rebuilds the network from the
`config.json` beside its weights and needs nothing else.

Per-level lists (`channels`, `blocks`, `kernels`, `attention`) run from the coarsest level (4x4)
to the finest (the output resolution), one entry per power-of-two resolution.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from gigagan.errors import GigaGANError

T = TypeVar("T")
PresetT = TypeVar("PresetT")


@dataclass
class CLIPConfig:
    """Which open_clip tower to build and where its weights come from.

    `pretrained` is a local checkpoint file, an open_clip pretrained tag (e.g. "openai", which
    needs internet the first time), or None for random initialisation. `text_overrides` and
    `vision_overrides` are merged into the architecture's open_clip `text_cfg` / `vision_cfg`,
    which is how toy towers for tests and CPU presets are made.
    """

    model_name: str = "ViT-L-14"
    pretrained: str | None = None
    embed_dim: int | None = None
    text_overrides: dict[str, Any] = field(default_factory=dict)
    vision_overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class TextEncoderConfig:
    """CLIP text tower plus the learned transformer layers `T` on top of it."""

    clip: CLIPConfig = field(default_factory=CLIPConfig)
    clip_layer: int = -2  # which CLIP block's output feeds T; -2 is the penultimate (the paper's)
    # "layer": T reads the output of block `clip_layer` (right for pretrained CLIP). "token_embeddings":
    # T reads the tower's input embeddings (token + position), layer-normalised, and the tower's blocks
    # are not run: for randomly initialised toy towers, whose blocks mix the words into an entangled
    # code that the generator learns from far more slowly (see docs/RESULTS.md).
    clip_features: str = "layer"
    train_clip: bool = False
    num_layers: int = 4
    num_heads: int = 8
    ff_mult: int = 4


@dataclass
class GeneratorConfig:
    """Text-conditioned StyleGAN-like generator with adaptive kernels and attention."""

    resolution: int = 64
    z_dim: int = 128
    w_dim: int = 1024
    mapping_layers: int = 4
    mapping_lr_multiplier: float = 0.01
    text: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    channels: list[int] = field(default_factory=lambda: [1024, 1024, 1024, 512, 256])
    blocks: list[int] = field(default_factory=lambda: [2, 2, 2, 2, 2])  # two modulated convs each
    kernels: list[int] = field(default_factory=lambda: [8, 8, 8, 8, 8])  # adaptive kernel bank size
    attention: list[bool] = field(default_factory=lambda: [True, True, True, True, False])
    attention_head_dim: int = 64
    ff_mult: int = 4
    kernel_size: int = 3

    @property
    def num_levels(self) -> int:
        return int(math.log2(self.resolution)) - 1

    @property
    def resolutions(self) -> list[int]:
        """Pyramid resolutions from coarsest (4) to finest (`resolution`)."""
        return [4 * 2**i for i in range(self.num_levels)]

    def validate(self) -> None:
        check_fields(self, "generator")
        _check_resolution(self.resolution)
        _check_per_level(self, ("channels", "blocks", "kernels", "attention"), self.num_levels)
        if any(b < 1 for b in self.blocks) or any(k < 1 for k in self.kernels):
            raise GigaGANError("generator blocks and kernels must be at least 1 at every level")
        if self.z_dim < 1 or self.w_dim < 1 or self.mapping_layers < 1:
            raise GigaGANError("z_dim, w_dim and mapping_layers must be positive")


@dataclass
class VisionAidedConfig:
    """Frozen CLIP image tower with trainable, text-conditioned heads (vision-aided D)."""

    clip: CLIPConfig = field(default_factory=lambda: CLIPConfig(model_name="ViT-B-32"))
    tap_layers: list[int] = field(default_factory=lambda: [-1])  # CLIP blocks whose tokens feed heads
    head_channels: int = 512
    head_layers: int = 2


@dataclass
class DiscriminatorConfig:
    """Multi-scale input, multi-scale output discriminator with a text branch."""

    resolution: int = 64
    channels: list[int] = field(default_factory=lambda: [1024, 1024, 1024, 512, 256])
    blocks: list[int] = field(default_factory=lambda: [1, 1, 1, 1, 1])  # residual blocks per level
    attention: list[bool] = field(default_factory=lambda: [False, False, False, False, False])
    text_width: int = 768  # width of the CLIP text features the text branch reads
    text_layers: int = 2
    text_heads: int = 8
    t_dim: int = 512  # size of the global text code t_D
    # 0: t_D from the EOT token (the paper); k > 0: from the tokens attention-pooled by k learned
    # queries, each free to read one word (see discriminator.AttentionPool)
    text_pool_queries: int = 0
    # every MS-I/O head's logit is the projection term <h, embed(t_D)> alone, with no unconditional
    # logit (StyleGAN2-ADA's and StyleGAN-T's conditional heads; see discriminator.PredictionHead);
    # the vision-aided heads keep theirs
    projection_only: bool = False
    head_channels: int = 256
    attention_head_dim: int = 64
    vision_aided: VisionAidedConfig | None = None
    # the coarsest (4x4) depth predicts one logit per image from all its positions (see DenseHead)
    dense_final_head: bool = False
    # the dense head's image embedding also reads the spatial mean of the coarsest features, so what
    # an object looks like is learned once for every place it can be (see DenseHead)
    dense_head_pooled: bool = False
    # learned position embeddings on the features every head reads (see MultiScaleDiscriminator)
    head_positions: bool = False
    # one prediction head per (input level, output depth) pair instead of one per depth shared by
    # every input level (see MultiScaleDiscriminator)
    separate_heads: bool = False
    # the coarsest depth's heads also read the 4x4 image itself (3 channels concatenated to every
    # path's features there): a path fed detail bands sees an object only as contrast to a background
    # it never sees, so without this no path can tell the object's absolute colour
    head_reads_coarsest_image: bool = False
    # what each pyramid level but the coarsest feeds D: "image" (the level itself, the paper's MS-I),
    # "bands" (its detail band: level minus the upsampled next coarser level), "detail" (level minus
    # the upsampled coarsest level: zero on a flat field, an object's whole area and colour contrast
    # on a real picture), "centred" (level minus its own mean colour: the whole picture up to a
    # constant, so fill and outline are judged together), "bands+image" (band and image stacked
    # as 6 channels) or "bands+detail" (band and detail stacked: both zero on a flat field, and the
    # detail shows the finer levels composed, which no band alone does), "bands+finest_detail" (bands,
    # but the finest level enters as its detail: one path that sees the picture composed),
    # "bands+finest_image" (bands, but the finest level enters as the image itself: one path that
    # sees absolute colours, which bands show only as contrast to the background); the coarsest level always
    # enters as the image
    input_mode: str = "image"
    # how the trunk halves the resolution between depths (see discriminator.DownsampleBlock): "blur"
    # (low-pass, subsample, then a 3x3 convolution), "strided" (a 4x4 stride-2 convolution on the
    # full-resolution map) or "conv_first" (3x3 convolution, then low-pass and subsample)
    downsample: str = "blur"

    @property
    def num_levels(self) -> int:
        return int(math.log2(self.resolution)) - 1

    @property
    def resolutions(self) -> list[int]:
        return [4 * 2**i for i in range(self.num_levels)]

    def validate(self) -> None:
        check_fields(self, "discriminator")
        _check_resolution(self.resolution)
        _check_per_level(self, ("channels", "blocks", "attention"), self.num_levels)
        if self.input_mode not in DISCRIMINATOR_INPUT_MODES:
            modes = ", ".join(DISCRIMINATOR_INPUT_MODES)
            raise GigaGANError(f"discriminator input_mode must be one of {modes}, got {self.input_mode!r}")
        if self.downsample not in DISCRIMINATOR_DOWNSAMPLE_MODES:
            modes = ", ".join(DISCRIMINATOR_DOWNSAMPLE_MODES)
            raise GigaGANError(f"discriminator downsample must be one of {modes}, got {self.downsample!r}")
        if self.dense_head_pooled and not self.dense_final_head:
            raise GigaGANError("discriminator dense_head_pooled needs dense_final_head")


DISCRIMINATOR_DOWNSAMPLE_MODES = ("blur", "strided", "conv_first")
DISCRIMINATOR_INPUT_MODES = (
    "image",
    "bands",
    "detail",
    "centred",
    "bands+image",
    "bands+detail",
    "bands+finest_detail",
    "bands+finest_image",
)


@dataclass
class ModelConfig:
    """A named pair of generator and discriminator configs (what a preset is)."""

    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)

    def validate(self) -> None:
        self.generator.validate()
        self.discriminator.validate()
        if self.generator.resolution != self.discriminator.resolution:
            raise GigaGANError("generator and discriminator resolutions differ")


@dataclass
class LossConfig:
    """Weights and schedules of every loss term (GigaGAN section 3.4)."""

    r1_gamma: float = 0.2048
    r1_interval: int = 16  # lazy R1: every N discriminator steps, scaled by N
    matching_aware_weight: float = 1.0  # real images with wrong captions count as fake (D and G)
    # which wrong caption: "random" (any other caption in the batch) or "similar" (the other caption
    # sharing the most words, a hard negative: D must then read more than the easiest attribute), or
    # "mixed" (either, by a fair coin per caption: the easy negatives keep the background checked),
    # "swap" (the caption itself with one word or phrase replaced by what another caption of the batch
    # has there: a negative that differs in one attribute, whichever it is) or "random+swap"
    # (a random caption or a one-word swap, by a fair coin per caption)
    mismatch: str = "random"
    # contrastive (InfoNCE) term on D's dense head, as XMC-GAN's image-sentence loss with D's own
    # embeddings: D learns to score each real image highest under its own caption among all the
    # batch's captions, G that its image scores highest under its own. Unlike the matching-aware
    # term's one random wrong caption, the softmax weights the hardest wrong captions most (the ones
    # that differ in a single word once the easy ones are told apart). Needs dense_final_head.
    contrastive_weight: float = 0.0
    # the contrastive softmax also holds each image's matching-aware wrong caption (see `mismatch`):
    # with "swap" negatives, a caption that differs from the image's own in one attribute only
    contrastive_mismatched: bool = False
    # what D judges of a fake: "generator" (G's own pyramid, one RGB output per level: the paper's
    # MS-I/O) or "downsampled" (the pyramid downsampled from G's finest image, as reals are built,
    # so every input level shows the picture G actually draws)
    fake_pyramid: str = "generator"
    # which MS-I/O predictions the adversarial and matching-aware terms (and R1) use: "all" (every
    # input level at every depth, the paper) or "coarsest" (each input level's prediction at the
    # coarsest depth only; the finer per-position heads are left out of training)
    predictions: str = "all"
    # D's phase judges the G phase's fakes (drawn before G's update, detached) instead of a fresh
    # batch from the updated G: one generator forward less per step
    reuse_generator_fakes: bool = False
    clip_weight: float = 0.2  # CLIP contrastive loss on generated images (needs CLIP weights)
    vision_aided_weight: float = 0.5  # vision-aided discriminator (needs CLIP weights)
    augment: bool = False  # differentiable translation / colour / cutout for small datasets

    def validate(self, where: str = "loss") -> None:
        """Every field's type and range (see FIELD_RULES); a one-line GigaGANError naming the field."""
        check_fields(self, where)


MISMATCH_STRATEGIES = ("random", "similar", "mixed", "swap", "random+swap")
FAKE_PYRAMIDS = ("generator", "downsampled")
LOSS_PREDICTIONS = ("all", "coarsest")


@dataclass
class TrainConfig:
    """Everything a training run needs besides the networks (stored in the run's config.json)."""

    data: str = "shapes"
    resolution: int | None = None  # defaults to the model's
    caption_template: str | None = None  # class-folder data: e.g. "a photo of a {label}"
    max_steps: int = 10_000
    max_minutes: float | None = None  # also stop (with a checkpoint) after this much wall-clock time
    batch_size: int = 16
    seed: int = 0
    lr_generator: float = 0.0025
    lr_discriminator: float = 0.0025
    betas: tuple[float, float] = (0.0, 0.99)
    attention_weight_decay: float = 0.01
    ema_half_life_images: int = 10_000  # EMA of G: half-life in images (StyleGAN's ema_kimg)
    ema_rampup: float | None = 0.05  # half-life at most step * batch * rampup early in training
    loss: LossConfig = field(default_factory=LossConfig)
    bf16: bool = False
    grad_checkpointing: bool = False
    noise_mode: str = "random"  # per-pixel noise in training: random (drawn per rank), const or none
    num_workers: int = 0
    log_every: int = 10
    sample_every: int = 500
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    max_bad_steps: int = 10  # stop after this many non-finite steps in a row
    deterministic: bool = False
    clip_weights: str | None = None  # CLIP checkpoint for the vision-aided D and the CLIP loss
    sample_prompts: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)  # scored on the EMA G during training (gigagan.metrics)
    metrics_every: int = 0  # steps between evaluations; 0 = never
    metrics_num_images: int = 5000  # generated (and real) images per evaluation

    def validate(self, where: str = "training") -> None:
        """Every field's type and range, the loss's included (see FIELD_RULES); a one-line GigaGANError
        naming the field, the bad value and what is allowed."""
        check_fields(self, where)


def _check_resolution(resolution: int) -> None:
    if resolution < 4 or resolution & (resolution - 1):
        raise GigaGANError(f"resolution must be a power of two of at least 4, got {resolution}")


def _check_per_level(config: Any, names: tuple[str, ...], num_levels: int) -> None:
    for name in names:
        values = getattr(config, name)
        if len(values) != num_levels:
            raise GigaGANError(
                f"{type(config).__name__}.{name} needs {num_levels} entries (one per level from 4 to "
                f"{config.resolution}), got {len(values)}"
            )


# --------------------------------------------------------------------------------------------
# Field checks: the one validation layer for every config value, whether it comes from a preset,
# a JSON file, a run's config.json or a command-line flag. A field is checked against its type hint
# (bool is no integer, an integer is a number, floats must be finite) and its FieldRule below.


@dataclass(frozen=True)
class FieldRule:
    """What a config field allows beyond its type: a numeric range, a set of choices, a power of two,
    a non-empty string, an ordered (min, max) pair. List and tuple fields apply it to every item."""

    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False  # the minimum itself is refused
    exclusive_maximum: bool = False
    choices: tuple[str, ...] | None = None
    power_of_two: bool = False
    nonempty: bool = False
    ordered: bool = False  # a pair: the first item at most the second
    min_items: int = 0  # lists: at least this many items

    def bounds(self) -> str:
        parts = []
        if self.minimum is not None:
            parts.append(f"{'>' if self.exclusive_minimum else '>='} {self.minimum:g}")
        if self.maximum is not None:
            parts.append(f"{'<' if self.exclusive_maximum else '<='} {self.maximum:g}")
        return " and ".join(parts)

    def accepts(self, value: Any) -> bool:
        if self.choices is not None and value not in self.choices:
            return False
        if self.nonempty and isinstance(value, str) and not value.strip():
            return False
        if isinstance(value, bool) or not isinstance(value, int | float):
            return True
        if self.minimum is not None and (value <= self.minimum if self.exclusive_minimum else value < self.minimum):
            return False
        if self.maximum is not None and (value >= self.maximum if self.exclusive_maximum else value > self.maximum):
            return False
        return not self.power_of_two or (int(value) == value and value >= 1 and not int(value) & (int(value) - 1))


def at_least(minimum: float) -> FieldRule:
    return FieldRule(minimum=minimum)


POSITIVE = FieldRule(minimum=0, exclusive_minimum=True)
NON_NEGATIVE = FieldRule(minimum=0)
PROBABILITY = FieldRule(minimum=0, maximum=1)
NON_EMPTY = FieldRule(nonempty=True)
RESOLUTION = FieldRule(minimum=4, power_of_two=True)

# config class -> field -> rule; subclasses inherit their bases' rules (see `field_rule`)
FIELD_RULES: dict[type, dict[str, FieldRule]] = {}


def register_field_rules(cls: type, rules: dict[str, FieldRule]) -> None:
    """Add (or replace) the FieldRules of a config dataclass's fields."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(rules) - names)
    if unknown:
        raise ValueError(f"{cls.__name__} has no fields {', '.join(unknown)}")
    FIELD_RULES.setdefault(cls, {}).update(rules)


def field_rule(cls: type, name: str) -> FieldRule | None:
    """The FieldRule of `cls.name` (looked up along the class's bases), or None."""
    for klass in cls.__mro__:
        rule = FIELD_RULES.get(klass, {}).get(name)
        if rule is not None:
            return rule
    return None


@functools.cache
def field_hints(cls: type) -> dict[str, Any]:
    """The resolved type hints of a config dataclass's fields."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _optional_parts(hint: Any) -> tuple[Any, bool]:
    """(the hint without None, whether None is allowed)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        allows_none = len(args) < len(typing.get_args(hint))
        return (args[0] if len(args) == 1 else typing.Union[tuple(args)]), allows_none  # noqa: UP007
    return hint, False


def _items_hint(hint: Any) -> Any | None:
    """The item hint of a list[X] / tuple[X, ...] / tuple[X, X] hint, else None."""
    if typing.get_origin(hint) in (list, tuple):
        return typing.get_args(hint)[0]
    return None


_PLURALS = {bool: "booleans", int: "integers", float: "finite numbers", str: "strings"}


def _describe_type(hint: Any) -> str:
    base, allows_none = _optional_parts(hint)
    origin, args = typing.get_origin(base), typing.get_args(base)
    if base is Any:
        text = "any value"
    elif base is bool:
        text = "true or false"
    elif base is int:
        text = "an integer"
    elif base is float:
        text = "a finite number"
    elif base is str:
        text = "a string"
    elif origin is list or (origin is tuple and len(args) == 2 and args[1] is Ellipsis):
        text = f"a list of {_PLURALS.get(args[0], 'items')}"
    elif origin is tuple:
        text = f"a list of {len(args)} {_PLURALS.get(args[0], 'items')}"
    elif origin is dict or dataclasses.is_dataclass(base):
        text = "a JSON object"
    else:
        text = str(base)
    return f"{text} or null" if allows_none else text


def describe_allowed(hint: Any, rule: FieldRule | None) -> str:
    """What a field with this type hint and rule allows, in words (e.g. 'an integer >= 1')."""
    base, allows_none = _optional_parts(hint)
    items = _items_hint(base) is not None
    rule = rule or FieldRule()
    if rule.choices is not None and not items:
        text = f"one of {', '.join(rule.choices)}"
    elif rule.power_of_two and not items:
        text = " ".join(filter(None, ["a power of two", rule.bounds()]))
    elif rule.nonempty and not items:
        text = "a non-empty string"
    else:
        text = _describe_type(base)
        if rule.bounds() and not items:
            text += f" {rule.bounds()}"
    if items:
        if rule.min_items:
            at_least_n = "a non-empty list of " if rule.min_items == 1 else f"a list of at least {rule.min_items} "
            text = text.replace("a list of ", at_least_n, 1)
        words = [
            f"one of {', '.join(rule.choices)}" if rule.choices is not None else "",
            "non-empty" if rule.nonempty else "",
            "a power of two" if rule.power_of_two else "",
            rule.bounds(),
        ]
        if any(words):
            text += ", each " + " ".join(filter(None, words))
        if rule.ordered:
            text += ", the first at most the second"
    return f"{text} or null" if allows_none else text


def _has_type(hint: Any, value: Any) -> bool:
    """Whether a JSON-like value fits a type hint (an int fits float; bool fits neither)."""
    base, allows_none = _optional_parts(hint)
    if value is None:
        return allows_none or base is Any
    origin, args = typing.get_origin(base), typing.get_args(base)
    if base is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_has_type(arg, value) for arg in args)
    if base is bool:
        return isinstance(value, bool)
    if base is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if base is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if base is str:
        return isinstance(value, str)
    if origin is list:
        return isinstance(value, list) and all(_has_type(args[0], item) for item in value)
    if origin is tuple:
        if not isinstance(value, tuple | list):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_has_type(args[0], item) for item in value)
        return len(value) == len(args) and all(_has_type(arg, item) for arg, item in zip(args, value))
    if origin is dict:
        return isinstance(value, dict) and all(isinstance(key, str) for key in value)
    if dataclasses.is_dataclass(base):
        return isinstance(value, base)
    return True  # a hint this checker does not know is not checked


def _rule_accepts(hint: Any, rule: FieldRule | None, value: Any) -> bool:
    if rule is None or value is None:
        return True
    base, _ = _optional_parts(hint)
    if _items_hint(base) is None:
        return rule.accepts(value)
    items = list(value)
    if rule.ordered and len(items) == 2 and items[0] > items[1]:
        return False
    if len(items) < rule.min_items:
        return False
    return all(rule.accepts(item) for item in items)


def check_value(cls: type, name: str, value: Any, label: str | None = None) -> None:
    """Check one value for field `name` of config class `cls`: a GigaGANError that names `label` (default
    the field), the bad value and what is allowed."""
    hint = field_hints(cls)[name]
    rule = field_rule(cls, name)
    if not _has_type(hint, value) or not _rule_accepts(hint, rule, value):
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        raise GigaGANError(f"{label or name} must be {describe_allowed(hint, rule)}, got {shown}")


def check_fields(config: Any, where: str | None = None) -> None:
    """Check every field of a config dataclass (nested configs included) against its type and FieldRule.

    `where` prefixes the field names in the message ("training" -> "training.loss.r1_gamma")."""
    prefix = where or type(config).__name__
    for name in field_hints(type(config)):
        value = getattr(config, name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            check_fields(value, f"{prefix}.{name}")
        else:
            check_value(type(config), name, value, f"{prefix}.{name}")


TEXT_CLIP_FEATURES = ("layer", "token_embeddings")  # gigagan.models.text.CLIP_FEATURES (a test keeps them equal)
NOISE_MODES = ("random", "const", "none")

register_field_rules(CLIPConfig, {"model_name": NON_EMPTY, "embed_dim": at_least(1)})
register_field_rules(
    TextEncoderConfig,
    {"clip_features": FieldRule(choices=TEXT_CLIP_FEATURES), "num_layers": at_least(0), "num_heads": at_least(1)}
    | {"ff_mult": at_least(1)},
)
register_field_rules(
    GeneratorConfig,
    {"resolution": RESOLUTION, "mapping_lr_multiplier": POSITIVE}
    | dict.fromkeys(("z_dim", "w_dim", "mapping_layers", "channels", "blocks", "kernels"), at_least(1))
    | dict.fromkeys(("attention_head_dim", "ff_mult", "kernel_size"), at_least(1)),
)
register_field_rules(VisionAidedConfig, {"head_channels": at_least(1), "head_layers": at_least(1)})
register_field_rules(
    DiscriminatorConfig,
    {
        "resolution": RESOLUTION,
        "blocks": at_least(0),
        "text_layers": at_least(0),
        "text_pool_queries": at_least(0),
        "input_mode": FieldRule(choices=DISCRIMINATOR_INPUT_MODES),
        "downsample": FieldRule(choices=DISCRIMINATOR_DOWNSAMPLE_MODES),
    }
    | dict.fromkeys(
        ("channels", "text_width", "text_heads", "t_dim", "head_channels", "attention_head_dim"), at_least(1)
    ),
)
register_field_rules(
    LossConfig,
    {
        "r1_gamma": NON_NEGATIVE,
        "r1_interval": at_least(0),  # 0: no R1 phase
        "mismatch": FieldRule(choices=MISMATCH_STRATEGIES),
        "fake_pyramid": FieldRule(choices=FAKE_PYRAMIDS),
        "predictions": FieldRule(choices=LOSS_PREDICTIONS),
    }
    | dict.fromkeys(
        ("matching_aware_weight", "contrastive_weight", "clip_weight", "vision_aided_weight"), NON_NEGATIVE
    ),
)
register_field_rules(
    TrainConfig,
    {
        "data": NON_EMPTY,
        "resolution": RESOLUTION,
        "max_steps": at_least(0),
        "max_minutes": POSITIVE,
        "batch_size": at_least(1),
        "seed": at_least(0),
        "lr_generator": POSITIVE,
        "lr_discriminator": POSITIVE,
        "betas": FieldRule(minimum=0, maximum=1, exclusive_maximum=True),
        "attention_weight_decay": NON_NEGATIVE,
        "ema_half_life_images": at_least(0),
        "ema_rampup": NON_NEGATIVE,
        "noise_mode": FieldRule(choices=NOISE_MODES),
        "num_workers": at_least(0),
        "log_every": at_least(1),
        "sample_every": at_least(0),  # 0: no sample grids
        "checkpoint_every": at_least(0),  # 0: only the final checkpoint
        "keep_checkpoints": at_least(0),  # 0: keep all
        "max_bad_steps": at_least(1),
        "caption_template": NON_EMPTY,
        "clip_weights": NON_EMPTY,
        "sample_prompts": NON_EMPTY,
        "metrics": NON_EMPTY,
        "metrics_every": at_least(0),  # 0: never
        "metrics_num_images": at_least(2),
    },
)


# --------------------------------------------------------------------------------------------
# JSON round trip


def config_to_dict(config: Any) -> dict[str, Any]:
    """A plain, JSON-ready dict of a (nested) config dataclass."""
    return dataclasses.asdict(config)


def config_from_dict(cls: type[T], data: dict[str, Any], where: str | None = None) -> T:
    """Rebuild a config dataclass from `config_to_dict` output (a JSON object); unknown keys are refused.

    Every value is checked against its field's type and FieldRule (`check_fields`): a one-line
    GigaGANError names the field (prefixed with `where`, default the class name), the bad value and
    what is allowed. Integers become floats where a float belongs, JSON lists tuples."""
    config = _from_dict(cls, data, where or cls.__name__)
    check_fields(config, where or cls.__name__)
    return config


def _from_dict(cls: type[T], data: Any, where: str) -> T:
    if not isinstance(data, dict):
        raise GigaGANError(f"{where} must be a JSON object ({cls.__name__}), got {data!r}"[:300])
    hints = field_hints(cls)
    unknown = sorted(set(data) - set(hints))
    if unknown:
        raise GigaGANError(f"unknown {cls.__name__} fields: {', '.join(unknown)}")
    values = {}
    for name, value in data.items():
        nested = _dataclass_in(hints[name])
        if nested and value is not None:
            value = _from_dict(nested, value, f"{where}.{name}")
        else:
            value = _coerced(hints[name], value)
        values[name] = value
    return cls(**values)


def _coerced(hint: Any, value: Any) -> Any:
    """A JSON value in the form its hint wants: an int where a float belongs becomes a float, a list
    where a tuple belongs a tuple (items likewise); anything else is returned as is (and checked later)."""
    base, _ = _optional_parts(hint)
    origin, args = typing.get_origin(base), typing.get_args(base)
    if base is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if origin is tuple and isinstance(value, list | tuple):
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerced(args[0], item) for item in value)
        if len(args) == len(value):
            return tuple(_coerced(arg, item) for arg, item in zip(args, value))
        return tuple(value)
    if origin is list and isinstance(value, list):
        return [_coerced(args[0], item) for item in value]
    return value


def _dataclass_in(hint: Any) -> type | None:
    """The dataclass type inside a hint such as `X` or `X | None`, else None."""
    if dataclasses.is_dataclass(hint):
        return hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            if dataclasses.is_dataclass(arg):
                return arg
    return None


def config_to_json(config: Any) -> str:
    return json.dumps(config_to_dict(config), indent=2, sort_keys=True)


# --------------------------------------------------------------------------------------------
# Presets


def toy_clip(model_name: str, width: int, layers: int, heads: int, image_size: int = 32) -> CLIPConfig:
    """A small, randomly initialised open_clip architecture (real tokenizer, tiny towers)."""
    return CLIPConfig(
        model_name=model_name,
        embed_dim=width,
        text_overrides={"width": width, "layers": layers, "heads": heads},
        vision_overrides={
            "image_size": image_size,
            "patch_size": 8,
            "width": width,
            "layers": layers,
            "head_width": width // heads,
        },
    )


def _tiny() -> ModelConfig:
    clip = toy_clip("ViT-B-32", width=32, layers=1, heads=2)
    text = TextEncoderConfig(clip=clip, clip_layer=-1, num_layers=1, num_heads=2, ff_mult=2)
    generator = GeneratorConfig(
        resolution=32,
        z_dim=16,
        w_dim=32,
        mapping_layers=2,
        text=text,
        channels=[32, 32, 16, 16],
        blocks=[1, 1, 1, 1],
        kernels=[2, 2, 2, 1],
        attention=[False, True, True, False],
        attention_head_dim=8,
        ff_mult=2,
    )
    discriminator = DiscriminatorConfig(
        resolution=32,
        channels=[32, 32, 16, 16],
        blocks=[1, 1, 1, 1],
        attention=[False, True, False, False],
        text_width=32,
        text_layers=1,
        text_heads=2,
        t_dim=32,
        head_channels=16,
        attention_head_dim=8,
        vision_aided=VisionAidedConfig(clip=clip, tap_layers=[-1], head_channels=32, head_layers=1),
    )
    return ModelConfig(generator, discriminator)


def _quickstart() -> ModelConfig:
    clip = toy_clip("ViT-B-32", width=128, layers=2, heads=4)
    # The toy tower is randomly initialised: T reads its token embeddings, not its entangled block outputs.
    text = TextEncoderConfig(
        clip=clip, clip_layer=-1, clip_features="token_embeddings", num_layers=2, num_heads=4, ff_mult=2
    )
    generator = GeneratorConfig(
        resolution=32,
        z_dim=64,
        w_dim=256,
        mapping_layers=2,
        text=text,
        channels=[128, 96, 48, 24],  # narrow fine levels: ~2.7x the images/s of 192/192/128/64 on 2 cores
        blocks=[1, 1, 1, 1],
        kernels=[2, 2, 2, 1],
        attention=[False, True, True, False],
        attention_head_dim=32,
        ff_mult=2,
    )
    discriminator = DiscriminatorConfig(
        resolution=32,
        channels=[96, 64, 32, 16],
        blocks=[1, 1, 1, 1],
        attention=[False, False, False, False],
        text_width=128,
        text_layers=1,
        text_heads=4,
        t_dim=128,
        head_channels=64,
        attention_head_dim=32,
        vision_aided=VisionAidedConfig(clip=toy_clip("ViT-B-32", width=128, layers=2, heads=4), head_channels=64),
        # the image-pyramid D with per-position heads never asked for the object (flat fields):
        # detail bands and a position-aware 4x4 head let it (docs/RESULTS.md, issue 16 bisection).
        # The detail (each level minus the upsampled 4x4 image) stacked on each band shows the
        # object's whole area, not only its outline: filled objects and size 0.59-0.72 against
        # 0.47-0.48 with bands alone, colour and placement as good (runs C2-C5)
        input_mode="bands+detail",
        dense_final_head=True,
        # t_D from 4 attention-pooling queries over the caption's tokens, and heads whose logit is
        # the caption's projection alone: t_D keeps the object's colour through training (0.80 vs
        # 0.06-0.40 from the EOT token) and 10-minute runs draw it 0.29-0.32 over three seeds with
        # position 0.99 (docs/RESULTS.md, Z16-Z20)
        text_pool_queries=4,
        projection_only=True,
        # 4x4 stride-2 convolutions between depths: with the blur-then-subsample blocks no filter
        # reads full-resolution detail through a downsampling step, and the object's shape stayed
        # at chance (0.22 after 1,225 steps on the nine-position sprint) where strided
        # downsampling reaches 0.76 after 1,138 (docs/RESULTS.md, runs E2, H3, H5)
        downsample="strided",
    )
    return ModelConfig(generator, discriminator)


def _cifar10() -> ModelConfig:
    clip = toy_clip("ViT-B-32", width=256, layers=4, heads=4)
    text = TextEncoderConfig(clip=clip, clip_layer=-1, train_clip=True, num_layers=2, num_heads=4)
    generator = GeneratorConfig(
        resolution=32,
        z_dim=128,
        w_dim=512,
        mapping_layers=4,
        text=text,
        channels=[512, 512, 256, 256],
        blocks=[2, 2, 2, 2],
        kernels=[4, 4, 4, 2],
        attention=[False, True, True, False],
        attention_head_dim=64,
    )
    discriminator = DiscriminatorConfig(
        resolution=32,
        channels=[512, 512, 256, 256],
        blocks=[1, 1, 1, 1],
        attention=[False, False, False, False],
        text_width=256,
        text_layers=1,
        text_heads=4,
        t_dim=256,
        head_channels=128,
        vision_aided=None,
    )
    return ModelConfig(generator, discriminator)


def _paper_scale(
    channels: list[int],
    blocks: list[int],
    kernels: list[int],
    attention: list[bool],
    d_channels: list[int],
    d_blocks: list[int],
    d_attention: list[bool],
    text_layers: int,
    d_text_layers: int,
    vision_head_channels: int,
    head_channels: int,
) -> ModelConfig:
    text = TextEncoderConfig(clip=CLIPConfig(model_name="ViT-L-14"), clip_layer=-2, num_layers=text_layers)
    generator = GeneratorConfig(
        resolution=64,
        z_dim=128,
        w_dim=1024,
        mapping_layers=4,
        text=text,
        channels=channels,
        blocks=blocks,
        kernels=kernels,
        attention=attention,
    )
    discriminator = DiscriminatorConfig(
        resolution=64,
        channels=d_channels,
        blocks=d_blocks,
        attention=d_attention,
        text_width=768,
        text_layers=d_text_layers,
        text_heads=12,
        t_dim=512,
        head_channels=head_channels,
        vision_aided=VisionAidedConfig(
            clip=CLIPConfig(model_name="ViT-B-32"), tap_layers=[3, 7, 11], head_channels=vision_head_channels
        ),
    )
    return ModelConfig(generator, discriminator)


def _base() -> ModelConfig:
    return _paper_scale(
        channels=[512, 512, 512, 512, 256],
        blocks=[2, 2, 2, 2, 2],
        kernels=[2, 3, 3, 2, 2],
        attention=[True, True, True, False, False],
        d_channels=[512, 512, 512, 256, 128],
        d_blocks=[1, 1, 1, 1, 1],
        d_attention=[False, False, False, False, False],
        text_layers=2,
        d_text_layers=1,
        vision_head_channels=256,
        head_channels=256,
    )


def _giga() -> ModelConfig:
    return _paper_scale(
        channels=[1024, 1024, 1024, 512, 256],
        blocks=[2, 2, 2, 2, 2],
        kernels=[4, 4, 4, 3, 2],
        attention=[True, True, True, True, False],
        d_channels=[1536, 1536, 1024, 1024, 512],
        d_blocks=[3, 2, 2, 2, 2],
        d_attention=[False, False, False, False, False],
        text_layers=4,
        d_text_layers=2,
        vision_head_channels=512,
        head_channels=512,
    )


class PresetRegistry(Generic[PresetT]):
    """Named config factories with one-line descriptions; `get` returns a fresh, validated copy."""

    def __init__(self, kind: str, presets: dict[str, tuple[Callable[[], PresetT], str]]) -> None:
        self.kind = kind
        self.presets = presets

    def describe(self) -> dict[str, str]:
        """Preset names and one-line descriptions."""
        return {name: description for name, (_, description) in self.presets.items()}

    def get(self, name: str) -> PresetT:
        if name not in self.presets:
            raise GigaGANError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.presets)}")
        config = copy.deepcopy(self.presets[name][0]())
        config.validate()  # type: ignore[attr-defined]
        return config


PRESETS = PresetRegistry(
    "preset",
    {
        "tiny": (_tiny, "unit tests: a forward pass in well under a second"),
        "quickstart": (_quickstart, "32px, trains on 2 CPU cores in minutes"),
        "cifar10": (_cifar10, "32px, CIFAR-10 class captions"),
        "base": (_base, "64px, ~160M generator (the paper's 'deeper' ablation step)"),
        "giga": (_giga, "64px, the paper's base model: 652.5M G, 381.4M D"),
    },
)


def list_presets() -> dict[str, str]:
    """Preset names and one-line descriptions."""
    return PRESETS.describe()


def get_preset(name: str) -> ModelConfig:
    """A fresh copy of a named preset's ModelConfig."""
    return PRESETS.get(name)


# Training settings that suit each preset better than TrainConfig's defaults (which follow the
# paper). A run's --config file and command-line flags go on top of these.
PRESET_TRAINING: dict[str, dict[str, Any]] = {
    # D at 1.6x G's learning rate (docs/RESULTS.md, run X9), and D judges the pyramid downsampled from
    # G's finest image: objects placed at 98% of held-out prompts after 5 minutes on one thread in
    # both replicates, against 7.5-10 minutes and 0.66-0.98 with G's own pyramid (runs Y4, Y5)
    # The contrastive term at 0.3 lifts the object's colour from 0.29-0.32 to 0.40-0.46 in 10-minute
    # runs over four seeds (runs C2-C5; weight 1 was worse).
    # Batch 8 makes 1.7x the steps of batch 16 in the same time, and on these small images the
    # object's colour and shape arrive after a number of updates more than of images: colour 0.99
    # and size 0.87 after 15 minutes on one thread against 0.94 and 0.84 (runs V1, B1).
    "quickstart": {
        "batch_size": 8,
        "lr_discriminator": 0.004,
        # D judges the G phase's fakes: 8% less time per step (docs/RESULTS.md, 2026-12-07).
        # The loss trains on the coarsest depth's predictions (one per input level) and D skips the
        # finer depths' heads: 0.84x the step time, and shape 0.31 after 4,000 steps against 0.15-0.20
        # by that step with every prediction (docs/RESULTS.md, 2026-12-07, run SB)
        "loss": {
            "r1_gamma": 0.05,
            "fake_pyramid": "downsampled",
            "contrastive_weight": 0.3,
            "reuse_generator_fakes": True,
            "predictions": "coarsest",
        },
    },
}


def _merged(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """`base` with `update` on top, nested dicts merged key by key."""
    merged = dict(base)
    for key, value in update.items():
        nested = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = _merged(merged[key], value) if nested else value
    return merged


def with_overrides(config: T, overrides: dict[str, Any]) -> T:
    """A copy of a config dataclass with a nested dict of field values on top (unknown keys refused)."""
    return config_from_dict(type(config), _merged(config_to_dict(config), overrides))


def preset_training(name: str | None, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """The TrainConfig for a preset (its PRESET_TRAINING entry on TrainConfig's defaults), with
    `overrides` (e.g. a config file's "training" object) on top."""
    return config_from_dict(TrainConfig, _merged(PRESET_TRAINING.get(name or "", {}), overrides or {}), "training")
