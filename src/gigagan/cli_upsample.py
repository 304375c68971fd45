"""`gigagan train-upsampler` and `gigagan upsample`: training and running the GigaGAN upsampler.

Every user mistake is a GigaGANError: one line on stderr, exit code 2 (see `gigagan.cli.main`).
`register_upsampler_commands` adds the commands to the `gigagan` Typer app.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gigagan.cli_options import (
    AugmentOption,
    BatchSizeOption,
    Bf16Option,
    CaptionTemplateOption,
    CheckpointEveryOption,
    ConfigFileOption,
    DeterministicOption,
    GradCheckpointingOption,
    KeepOption,
    LogEveryOption,
    LrDiscriminatorOption,
    MatchingWeightOption,
    MaxMinutesOption,
    MaxStepsOption,
    NumWorkersOption,
    ProcessesOption,
    ProgressOption,
    R1GammaOption,
    R1IntervalOption,
    ResumeOption,
    RunDirOption,
    SampleEveryOption,
    TrainDeviceOption,
)
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


def _noise_range(text: str) -> tuple[float, float]:
    try:
        low, high = (float(part) for part in text.split(","))
    except ValueError as error:
        raise GigaGANError(f"--input-noise takes MIN,MAX (e.g. 0,0.05), got {text!r}") from error
    return low, high


def train_upsampler(
    out: RunDirOption,
    preset: Annotated[str | None, typer.Option(help="Upsampler preset (default upsampler-tiny).")] = None,
    data: Annotated[
        str | None, typer.Option(help="shapes | image folder | class folders | .jsonl/.csv | shards (high-res images).")
    ] = None,
    config_file: ConfigFileOption = None,
    max_steps: MaxStepsOption = None,
    max_minutes: MaxMinutesOption = None,
    batch_size: BatchSizeOption = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (also keys the input degradations).")] = None,
    lr_generator: Annotated[float | None, typer.Option("--lr-g", help="Upsampler learning rate.")] = None,
    lr_discriminator: LrDiscriminatorOption = None,
    r1_gamma: R1GammaOption = None,
    r1_interval: R1IntervalOption = None,
    matching_weight: MatchingWeightOption = None,
    perceptual_weight: Annotated[float | None, typer.Option(help="Perceptual (LPIPS or fallback) weight.")] = None,
    lpips_weights: Annotated[
        str | None, typer.Option(help="LPIPS VGG16 backbone + linear weights (file or folder); else a fallback.")
    ] = None,
    input_noise: Annotated[
        str | None, typer.Option(help="MIN,MAX sigma of the Gaussian noise on the low-res input ([-1, 1] units).")
    ] = None,
    degrade: Annotated[
        bool | None, typer.Option("--degrade/--no-degrade", help="Blur, resize kernels, noise, JPEG on the input.")
    ] = None,
    unconditional: Annotated[
        bool | None, typer.Option("--unconditional/--conditional", help="Train with the empty prompt.")
    ] = None,
    augment: AugmentOption = None,
    bf16: Bf16Option = None,
    grad_checkpointing: GradCheckpointingOption = None,
    checkpoint_every: CheckpointEveryOption = None,
    sample_every: SampleEveryOption = None,
    log_every: LogEveryOption = None,
    keep: KeepOption = None,
    num_workers: NumWorkersOption = None,
    caption_template: CaptionTemplateOption = None,
    deterministic: DeterministicOption = None,
    resume: ResumeOption = False,
    device: TrainDeviceOption = "auto",
    processes: ProcessesOption = 1,
    progress: ProgressOption = True,
) -> None:
    """Train a GigaGAN upsampler and its discriminator on high-resolution images (the low-resolution inputs
    are made from them). Checkpoints hold upsampler, upsampler_ema and upsampler_discriminator weights;
    OUT/latest loads with `Upsampler.from_pretrained` and `gigagan upsample --checkpoint OUT`."""
    import dataclasses

    from gigagan.cli import apply_training_options, load_train_file, resume_checkpoint, run_trainer
    from gigagan.config import config_from_dict
    from gigagan.training.upsampler import UpsamplerTrainConfig, UpsamplerTrainer
    from gigagan.upsampler_config import (
        UpsamplerConfig,
        UpsamplerDiscriminatorConfig,
        UpsamplerModelConfig,
        get_upsampler_preset,
    )

    file = load_train_file(config_file) if config_file else {}
    checkpoint, saved = resume_checkpoint(out, resume)
    if saved is not None:
        if "upsampler" not in saved:
            raise GigaGANError(f"{checkpoint} is not an upsampler training checkpoint")
        model = UpsamplerModelConfig(
            upsampler=config_from_dict(UpsamplerConfig, saved["upsampler"]),
            discriminator=config_from_dict(UpsamplerDiscriminatorConfig, saved["upsampler_discriminator"]),
        )
        training = config_from_dict(UpsamplerTrainConfig, saved.get("training", {}))
    else:
        model = (
            config_from_dict(UpsamplerModelConfig, file["model"])
            if "model" in file
            else get_upsampler_preset(preset or file.get("preset", "upsampler-tiny"))
        )
        training = config_from_dict(UpsamplerTrainConfig, file.get("training", {}))
    training = apply_training_options(training, locals(), UPSAMPLER_OPTION_FIELDS)
    if input_noise is not None:
        training = dataclasses.replace(training, input_noise=_noise_range(input_noise))
    model.validate()
    run_trainer(UpsamplerTrainer, model, training, out, checkpoint, device, progress, processes=processes)


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
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    dtype: Annotated[str, typer.Option(help="float32 or bfloat16 (autocast).")] = "float32",
) -> None:
    """Upsample pictures with a trained upsampler: writes OUT/<name>-x<scale>.png for every input (with the
    prompt, seed and checkpoint hash as PNG text chunks). Large inputs are tiled seamlessly."""
    from gigagan.data.images import image_to_tensor
    from gigagan.inference.export import ensure_writable_folder, save_png
    from gigagan.inference.pipeline import resolve_device, resolve_dtype
    from gigagan.inference.upsample import UpsamplerPipeline, check_output_size, read_image

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


def register_upsampler_commands(app: typer.Typer) -> None:
    """Add train-upsampler and upsample to the `gigagan` app."""
    app.command("train-upsampler", epilog=TRAIN_UPSAMPLER_EXAMPLES)(train_upsampler)
    app.command("upsample", epilog=UPSAMPLE_EXAMPLES)(upsample)
