"""The networks: text encoder, generator, discriminator; each saves and loads as config.json +
safetensors."""

from gigagan.models.discriminator import Discriminator, DiscriminatorOutput
from gigagan.models.generator import Generator, MappingNetwork, SynthesisNetwork
from gigagan.models.pretrained import PretrainedModel
from gigagan.models.text import CLIPTextFeatures, CLIPTextTower, TextEncoder, TextEncoding

__all__ = [
    "CLIPTextFeatures",
    "CLIPTextTower",
    "Discriminator",
    "DiscriminatorOutput",
    "Generator",
    "MappingNetwork",
    "PretrainedModel",
    "SynthesisNetwork",
    "TextEncoder",
    "TextEncoding",
]
