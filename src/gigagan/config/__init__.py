"""Typed configurations for every network and training run, named presets, and their JSON form.

- `model`: the text-to-image networks (generator, discriminator, CLIP towers) and `ModelConfig`;
- `training`: `LossConfig` and `TrainConfig`;
- `upsampler`: the GigaGAN upsampler, its discriminator and their presets;
- `presets`: the named text-to-image presets and their training defaults (`PRESET_TRAINING`);
- `validation`: the one validation layer (`FieldRule`s, `check_fields`) and the JSON round trip.

Every public name is importable from `gigagan.config` itself.
"""

from gigagan.config import model, presets, training, upsampler, validation
from gigagan.config.model import *  # noqa: F403
from gigagan.config.presets import *  # noqa: F403
from gigagan.config.training import *  # noqa: F403
from gigagan.config.upsampler import *  # noqa: F403
from gigagan.config.validation import *  # noqa: F403

# each module's `__all__` names what it exports; this package exports them all
__all__ = sorted({*model.__all__, *presets.__all__, *training.__all__, *upsampler.__all__, *validation.__all__})
