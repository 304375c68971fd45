"""`gigagan train-upsampler` and `gigagan upsample`: training and running the GigaGAN upsampler.

Every user mistake is a GigaGANError: one line on stderr, exit code 2 (see `gigagan.cli.main`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from gigagan.cli.options import (
    TRAINING_FLAGS,
    ConfigFileOption,
    DeviceOption,
    DtypeOption,
    RunDirOption,
    choice_parser,
    choices_type,
    field_parser,
    training_option,
    upsampler_preset_names,
)
from gigagan.cli.train import apply_training_options, notice_builtin_data, training_command
from gigagan.config import DEFAULT_UPSAMPLER_PRESET, TrainConfig
from gigagan.errors import GigaGANError

TRAIN_UPSAMPLER_EXAMPLES = """
Examples:

  gigagan train-upsampler --preset upsampler-tiny --data shapes --out runs/up-tiny

  gigagan train-upsampler --preset upsampler-64to512 --data "shards/{00000..09999}.tar" --degrade \\
      --lpips-weights weights/lpips-vgg --bf16 --out runs/up512

  gigagan train-upsampler --preset upsampler-64to256 --data imagenet/train --unconditional --out runs/up256

  gigagan train-upsampler --out runs/up-tiny --resume                # continue from runs/up-tiny/latest
"""

UPSAMPLE_EXAMPLES = """
Examples:

  gigagan upsample photo.jpg --checkpoint runs/up512 --out out/

  gigagan upsample a.png b.png --checkpoint my-upsampler --prompt "a red brick house" --seed 3 --out out/

  gigagan upsample big.png --checkpoint runs/up512 --tile-size 64 --overlap 16 --max-pixels 67108864 --out out/
"""

# option -> UpsamplerTrainConfig field, beyond the options every training command shares
UPSAMPLER_OPTION_FIELDS = {
    "degrade": "degrade",
    "unconditional": "unconditional",
    "perceptual_weight": "perceptual_weight",
    "lpips_weights": "lpips_weights",
}


def _upsampler_train_config() -> type:
    from gigagan.training.upsampler import UpsamplerTrainConfig

    return UpsamplerTrainConfig


def _noise_range(text: str) -> tuple[float, float]:
    """MIN,MAX -> the pair, checked like the config field `input_noise` (finite, 0 <= MIN <= MAX)."""
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError as error:
        raise GigaGANError(f"--input-noise takes MIN,MAX (e.g. 0,0.05), got {text!r}") from error
    field_parser(_upsampler_train_config, "input_noise", "--input-noise")((low, high))
    return low, high


UPSAMPLER_PRESETS = upsampler_preset_names()
# UpsamplerTrainConfig's own fields: its defaults, named here so that help needs no torch import (a test
# keeps them equal to the dataclass's)
UPSAMPLER_DEFAULTS = {
    "input_noise": (0.0, 0.05),
    "degrade": False,
    "unconditional": False,
    "perceptual_weight": 10.0,
    "lpips_weights": None,
}
UP = {field: training_option(field, TrainConfig) for field in TRAINING_FLAGS}
UP["seed"] = training_option("seed", TrainConfig, help="Random seed (also keys the input degradations).")
UP["lr_generator"] = training_option("lr_generator", TrainConfig, help="Upsampler learning rate.")


@training_command(UP)
def train_upsampler(
    out: RunDirOption,
    preset: Annotated[
        choices_type(UPSAMPLER_PRESETS) | None,
        typer.Option(
            help="Upsampler preset (see `gigagan presets`).",
            parser=choice_parser("upsampler preset", UPSAMPLER_PRESETS),
            show_default=DEFAULT_UPSAMPLER_PRESET,
        ),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            help="shapes | image folder | class folders | .jsonl/.csv | shards (high-res images).",
            show_default="shapes, with a notice",
            parser=field_parser(TrainConfig, "data", "--data"),
        ),
    ] = None,
    config_file: ConfigFileOption = None,
    perceptual_weight: Annotated[
        float | None,
        typer.Option(
            help="Perceptual (LPIPS or fallback) weight. Allowed: a finite number >= 0.",
            show_default=f"{UPSAMPLER_DEFAULTS['perceptual_weight']:g}",
            parser=field_parser(_upsampler_train_config, "perceptual_weight", "--perceptual-weight"),
        ),
    ] = None,
    lpips_weights: Annotated[
        str | None,
        typer.Option(
            help="LPIPS VGG16 backbone + linear weights (file or folder); none: a fallback distance.",
            show_default="none",
            parser=field_parser(_upsampler_train_config, "lpips_weights", "--lpips-weights"),
        ),
    ] = None,
    input_noise: Annotated[
        str | None,
        typer.Option(
            help="MIN,MAX sigma of the Gaussian noise on the low-res input ([-1, 1] units), 0 <= MIN <= MAX.",
            show_default=",".join(f"{v:g}" for v in UPSAMPLER_DEFAULTS["input_noise"]),
        ),
    ] = None,
    degrade: Annotated[
        bool | None,
        typer.Option(
            "--degrade/--no-degrade", help="Blur, resize kernels, noise, JPEG on the input.", show_default="no-degrade"
        ),
    ] = None,
    unconditional: Annotated[
        bool | None,
        typer.Option("--unconditional/--conditional", help="Train with the empty prompt.", show_default="conditional"),
    ] = None,
    augment: Annotated[bool | None, UP["loss.augment"]] = None,
    **shared: Any,
) -> None:
    """Train a GigaGAN upsampler and its discriminator on high-resolution images (the low-resolution inputs
    are made from them). Checkpoints hold upsampler, upsampler_ema and upsampler_discriminator weights;
    OUT/latest loads with `Upsampler.from_pretrained` and `gigagan upsample --checkpoint OUT`."""
    import dataclasses

    from gigagan.training.runs import UPSAMPLER, check_training, run_configs, run_trainer

    options = {**locals(), **shared}
    run = run_configs(UPSAMPLER, out, shared["resume"], config_file, preset)
    training = apply_training_options(run.training, options, UPSAMPLER_OPTION_FIELDS)
    if input_noise is not None:
        training = dataclasses.replace(training, input_noise=_noise_range(input_noise))
    check_training(run.model, training, UPSAMPLER.resolution(run.model))
    training.check()
    notice_builtin_data(training, data, run.file, run.saved)
    trainer, device, progress = UPSAMPLER.trainer_class, shared["device"], shared["progress"]
    run_trainer(
        run.model, training, out, run.checkpoint, device, progress, processes=shared["processes"], trainer_class=trainer
    )


def upsample(
    images: Annotated[list[Path], typer.Argument(help="Pictures to upsample (PNG, JPEG, WebP, TIFF, ...).")],
    checkpoint: Annotated[
        str, typer.Option(help="Upsampler folder (save_pretrained), training checkpoint, run folder or Hub id.")
    ],
    out: Annotated[Path, typer.Option(help="Output folder (created if needed).")] = Path("upsampled"),
    prompt: Annotated[str, typer.Option(help="Text prompt of every image; empty = unconditional.")] = "",
    seed: Annotated[int, typer.Option(help="Seed of z and noise (image i uses seed + i).")] = 0,
    tile_size: Annotated[
        int | None, typer.Option(help="Tile size in input pixels (default: the training resolution).")
    ] = None,
    overlap: Annotated[int | None, typer.Option(help="Tile overlap in input pixels (default: a quarter tile).")] = None,
    max_pixels: Annotated[int, typer.Option(help="Refuse outputs above this many pixels (default 4096x4096).")] = 4096
    * 4096,
    device: DeviceOption = "auto",
    dtype: DtypeOption = "float32",
) -> None:
    """Upsample pictures with a trained upsampler: writes OUT/<name>-x<scale>.png for every input (with the
    prompt, seed and checkpoint hash as PNG text chunks). Large inputs are tiled seamlessly."""
    from gigagan.data.images import image_to_tensor
    from gigagan.device import resolve_device
    from gigagan.inference.export import save_png
    from gigagan.inference.pipeline import resolve_dtype
    from gigagan.inference.upsample import UpsamplerPipeline, check_output_size, read_image
    from gigagan.io import ensure_writable_folder

    if seed < 0:
        raise GigaGANError(f"--seed must be non-negative, got {seed}")
    if max_pixels < 1:
        raise GigaGANError(f"--max-pixels must be positive, got {max_pixels}")
    resolved = resolve_device(device)
    resolve_dtype(dtype)
    ensure_writable_folder(out)
    pictures = [read_image(path) for path in images]  # every input is checked before the model loads
    pipe = UpsamplerPipeline.from_pretrained(checkpoint, device=resolved, dtype=dtype)
    scale = pipe.scale_factor
    for path, picture in zip(images, pictures):
        check_output_size(picture.width, picture.height, scale, max_pixels, name=str(path))
    names = [f"{path.stem}-x{scale}.png" for path in images]
    if len(set(names)) != len(names):
        names = [f"{index:04d}-{name}" for index, name in enumerate(names)]
    for index, (path, picture, name) in enumerate(zip(images, pictures, names)):
        (output,) = pipe.upsample([image_to_tensor(picture)], prompt, seed + index, tile_size, overlap)
        metadata = {"prompt": prompt, "seed": seed + index, "source": path.name, "checkpoint": pipe.checkpoint_hash}
        written = save_png(output, out / name, metadata)
        typer.echo(f"wrote {written} ({output.shape[-1]}x{output.shape[-2]})")
