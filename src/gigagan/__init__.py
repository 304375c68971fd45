"""GigaGAN: a fast, controllable text-to-image GAN."""

from gigagan.config import (
    CLIPConfig,
    DiscriminatorConfig,
    GeneratorConfig,
    ModelConfig,
    TextEncoderConfig,
    VisionAidedConfig,
    get_preset,
    list_presets,
)
from gigagan.errors import GigaGANError

__version__ = "0.1.0"

__all__ = [
    "CLIPConfig",
    "DiscriminatorConfig",
    "GeneratorConfig",
    "GigaGANError",
    "ModelConfig",
    "TextEncoderConfig",
    "VisionAidedConfig",
    "__version__",
    "get_preset",
    "list_presets",
]
