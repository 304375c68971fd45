"""Typed configurations for every network and training run, named presets, and their JSON form.

- `model`: the text-to-image networks (generator, discriminator, CLIP towers) and `ModelConfig`;
- `training`: `LossConfig` and `TrainConfig`;
- `upsampler`: the GigaGAN upsampler, its discriminator and their presets;
- `presets`: the named text-to-image presets and their training defaults (`PRESET_TRAINING`);
- `validation`: the one validation layer (`FieldRule`s, `check_fields`) and the JSON round trip.

Every public name is importable from `gigagan.config` itself.
"""

from gigagan.config.model import (
    DISCRIMINATOR_DOWNSAMPLE_MODES,
    DISCRIMINATOR_INPUT_MODES,
    TEXT_CLIP_FEATURES,
    CLIPConfig,
    DiscriminatorConfig,
    GeneratorConfig,
    ModelConfig,
    TextEncoderConfig,
    VisionAidedConfig,
)
from gigagan.config.presets import (
    DEFAULT_PRESET,
    PRESET_TRAINING,
    PRESETS,
    PresetRegistry,
    get_preset,
    list_presets,
    preset_training,
    toy_clip,
    with_overrides,
)
from gigagan.config.training import (
    FAKE_PYRAMIDS,
    LOSS_PREDICTIONS,
    MISMATCH_STRATEGIES,
    NOISE_MODES,
    LossConfig,
    TrainConfig,
)
from gigagan.config.upsampler import (
    DEFAULT_UPSAMPLER_PRESET,
    UPSAMPLER_PRESETS,
    UpsamplerConfig,
    UpsamplerDiscriminatorConfig,
    UpsamplerModelConfig,
    get_upsampler_preset,
    list_upsampler_presets,
)
from gigagan.config.validation import (
    FIELD_RULES,
    NON_EMPTY,
    NON_NEGATIVE,
    POSITIVE,
    PROBABILITY,
    RESOLUTION,
    FieldRule,
    at_least,
    check_fields,
    check_per_level,
    check_resolution,
    check_value,
    config_from_dict,
    config_to_dict,
    config_to_json,
    describe_allowed,
    field_hints,
    field_rule,
    register_field_rules,
)

__all__ = [
    "DEFAULT_PRESET",
    "DEFAULT_UPSAMPLER_PRESET",
    "DISCRIMINATOR_DOWNSAMPLE_MODES",
    "DISCRIMINATOR_INPUT_MODES",
    "FAKE_PYRAMIDS",
    "FIELD_RULES",
    "LOSS_PREDICTIONS",
    "MISMATCH_STRATEGIES",
    "NOISE_MODES",
    "NON_EMPTY",
    "NON_NEGATIVE",
    "POSITIVE",
    "PRESETS",
    "PRESET_TRAINING",
    "PROBABILITY",
    "RESOLUTION",
    "TEXT_CLIP_FEATURES",
    "UPSAMPLER_PRESETS",
    "CLIPConfig",
    "DiscriminatorConfig",
    "FieldRule",
    "GeneratorConfig",
    "LossConfig",
    "ModelConfig",
    "PresetRegistry",
    "TextEncoderConfig",
    "TrainConfig",
    "UpsamplerConfig",
    "UpsamplerDiscriminatorConfig",
    "UpsamplerModelConfig",
    "VisionAidedConfig",
    "at_least",
    "check_fields",
    "check_per_level",
    "check_resolution",
    "check_value",
    "config_from_dict",
    "config_to_dict",
    "config_to_json",
    "describe_allowed",
    "field_hints",
    "field_rule",
    "get_preset",
    "get_upsampler_preset",
    "list_presets",
    "list_upsampler_presets",
    "preset_training",
    "register_field_rules",
    "toy_clip",
    "with_overrides",
]
