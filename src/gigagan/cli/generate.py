"""`gigagan generate`, `interpolate`, `style-mix` and `prompt-mix`: sampling from a trained model.

Each command checks its options, loads the model and calls a writer of `gigagan.inference.figures`:
PNGs (with prompt, seed, psi and checkpoint hash as PNG text chunks), a grid and a legend. Every user
mistake is a GigaGANError: one line on stderr, exit code 2 (see `gigagan.cli.main`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gigagan.cli.options import (
    BatchOption,
    CheckpointOption,
    DeviceOption,
    DtypeOption,
    OutOption,
    PsiOption,
    ScaleOption,
    check_count,
    choices_type,
    finite_float,
    levels_option,
    parse_seeds,
    parse_space,
    read_prompts,
)
from gigagan.errors import GigaGANError

if TYPE_CHECKING:
    from gigagan.inference.pipeline import GigaGANPipeline

GENERATE_EXAMPLES = """
Examples:

  gigagan generate --checkpoint runs/qs --prompt "a large red circle in the center on a blue background" --out out

  gigagan generate --checkpoint runs/qs/latest --prompt "a small green cross at the top left on a white background" \\
      --prompt "a large blue square at the bottom on a yellow background" --num-images 8 --seed 42 \\
      --truncation-psi 0.8 --out out

  gigagan generate --checkpoint my-model --prompt-file prompts.txt --num-images 4 --batch-size 32 --out out
"""

INTERPOLATE_EXAMPLES = """
Examples:

  gigagan interpolate --checkpoint runs/qs --prompt "a large red circle in the center on a blue background" \\
      --seed 0 --to-seed 1 --out interp                                  # latent interpolation (slerp in z)

  gigagan interpolate --checkpoint runs/qs --prompt "a small red circle at the top left on a blue background" \\
      --to-prompt "a large yellow square at the bottom right on a purple background" --space w --out interp
"""

STYLE_MIX_EXAMPLES = """
Examples:

  gigagan style-mix --checkpoint runs/qs --prompt "a large red circle in the center on a blue background" \\
      --row-seeds 0,1,2,3 --column-seeds 10,11,12 --levels coarse --out mix

  gigagan style-mix --checkpoint runs/qs --prompt "a small white cross at the right on a black background" \\
      --row-seeds 0-3 --column-seeds 4-7 --levels 16,32 --out mix        # levels by resolution
"""

PROMPT_MIX_EXAMPLES = """
Examples:

  gigagan prompt-mix --checkpoint runs/qs --prompt "a large red square in the center on a blue background" \\
      --fine-prompt "a large yellow square in the center on a purple background" --seeds 0,1,2 --out pmix

  gigagan prompt-mix --checkpoint runs/qs --prompt "a large red square in the center on a blue background" \\
      --fine-prompt "a large white circle at the top on a black background" --levels fine --seeds 0-5 --out pmix
"""


def open_pipeline(checkpoint: str, device: str, dtype: str, out: Path) -> GigaGANPipeline:
    """Check the device, dtype and output folder, then load the model (in that order: cheap checks first)."""
    from gigagan.device import resolve_device
    from gigagan.inference.pipeline import GigaGANPipeline, resolve_dtype
    from gigagan.io import ensure_writable_folder

    resolved = resolve_device(device)
    resolve_dtype(dtype)
    ensure_writable_folder(out)
    return GigaGANPipeline.from_pretrained(checkpoint, device=resolved, dtype=dtype)


def grid_scale(pipe: GigaGANPipeline, scale: int | None) -> int:
    """--scale, checked, or the factor that makes grid cells at least 96px."""
    from gigagan.inference.figures import cell_scale

    if scale is not None:
        return check_count(scale, "--scale")
    return cell_scale(pipe.resolution)


def echo_written(paths: Sequence[Path | str]) -> None:
    for path in paths:
        typer.echo(f"wrote {path}")


# ---------------------------------------------------------------------------- commands


def generate(
    checkpoint: CheckpointOption,
    out: OutOption,
    prompt: Annotated[list[str] | None, typer.Option(help="A prompt (repeat for several).")] = None,
    prompt_file: Annotated[Path | None, typer.Option(help="A text file with one prompt per line.")] = None,
    num_images: Annotated[int, typer.Option(help="Images per prompt (image j uses seed S + j).")] = 4,
    seed: Annotated[int, typer.Option(help="Base seed S.")] = 0,
    truncation_psi: PsiOption = 1.0,
    batch_size: BatchOption = 16,
    device: DeviceOption = "auto",
    dtype: DtypeOption = "float32",
    scale: ScaleOption = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
    upsampler: Annotated[
        str | None, typer.Option(help="Upsampler checkpoint: upsample every image (same prompt and seed).")
    ] = None,
) -> None:
    """Generate images for one or many prompts; writes one PNG per image, grid.png (up to 32 prompts x 16
    images) and prompts.txt. With --upsampler, the images written are the upsampled ones."""
    from gigagan.inference.figures import cell_scale, write_generation

    check_count(num_images, "--num-images")
    check_count(batch_size, "--batch-size")
    if seed < 0:
        raise GigaGANError(f"--seed must be non-negative, got {seed}")
    prompts = read_prompts(prompt, prompt_file)
    pipe = open_pipeline(checkpoint, device, dtype, out)
    upsampling = None
    if upsampler is not None:
        from gigagan.inference.upsample import UpsamplerPipeline

        upsampling = UpsamplerPipeline.from_pretrained(upsampler, device=pipe.device, dtype=dtype)
        scale = scale or cell_scale(pipe.resolution * upsampling.scale_factor)
    scale = grid_scale(pipe, scale)
    written = write_generation(
        pipe, out, prompts, num_images, seed, truncation_psi, batch_size, scale, progress, upsampling
    )
    typer.echo(
        f"wrote {written} images ({len(prompts)} prompts x {num_images}, seeds {seed}..{seed + num_images - 1}) "
        f"to {out}; grid: {out / 'grid.png'}; prompts: {out / 'prompts.txt'}"
    )


def interpolate_command(
    checkpoint: CheckpointOption,
    out: OutOption,
    prompt: Annotated[str, typer.Option(help="Start prompt.")],
    to_prompt: Annotated[str | None, typer.Option(help="End prompt (default: the start prompt).")] = None,
    seed: Annotated[int, typer.Option(help="Start seed.")] = 0,
    to_seed: Annotated[int | None, typer.Option(help="End seed (default: seed+1 for one prompt, else seed).")] = None,
    frames: Annotated[int, typer.Option(help="Number of frames.")] = 24,
    space: Annotated[
        choices_type(("z", "w")), typer.Option(help="z: slerp z and lerp text; w: lerp w and text.", parser=parse_space)
    ] = "z",
    fps: Annotated[
        float, typer.Option(help="Frames per second of the GIF and MP4.", parser=finite_float("--fps", 0, True))
    ] = 12.0,
    truncation_psi: PsiOption = 1.0,
    device: DeviceOption = "auto",
    dtype: DtypeOption = "float32",
    scale: ScaleOption = None,
) -> None:
    """Interpolate between two (prompt, seed) pairs: frames/*.png, interpolation.gif, .mp4 and a grid.

    One prompt and two seeds: latent interpolation. Two prompts and one seed: prompt interpolation.
    """
    check_count(frames, "--frames")
    if fps <= 0:
        raise GigaGANError(f"--fps must be positive, got {fps}")
    if space not in ("z", "w"):
        raise GigaGANError(f"--space must be z or w, got {space!r}")
    end_prompt = prompt if to_prompt is None else to_prompt
    end_seed = to_seed if to_seed is not None else (seed + 1 if end_prompt == prompt else seed)
    if seed < 0 or end_seed < 0:
        raise GigaGANError("seeds must be non-negative")
    if not prompt.strip() or not end_prompt.strip():
        raise GigaGANError("no prompts given: --prompt must not be empty")
    from gigagan.inference.figures import write_interpolation

    pipe = open_pipeline(checkpoint, device, dtype, out)
    written = write_interpolation(
        pipe, out, (prompt, seed), (end_prompt, end_seed), frames, space, truncation_psi, fps, grid_scale(pipe, scale)
    )
    echo_written(written)


def style_mix_command(
    checkpoint: CheckpointOption,
    out: OutOption,
    prompt: Annotated[str, typer.Option(help="The prompt of every image.")],
    row_seeds: Annotated[str, typer.Option(help="Seeds of the rows (e.g. 0,1,2 or 0-3).")] = "0-3",
    column_seeds: Annotated[str, typer.Option(help="Seeds of the columns, whose styles are mixed in.")] = "4-7",
    levels: Annotated[str, levels_option("the column seed", "8,16")] = "coarse",
    truncation_psi: PsiOption = 1.0,
    device: DeviceOption = "auto",
    dtype: DtypeOption = "float32",
    scale: ScaleOption = None,
) -> None:
    """Style mixing (paper fig. 6): chosen levels' w rows from one seed, the others from another."""
    rows, columns = parse_seeds(row_seeds, "--row-seeds"), parse_seeds(column_seeds, "--column-seeds")
    if not prompt.strip():
        raise GigaGANError("no prompts given: --prompt must not be empty")
    from gigagan.inference.figures import write_style_mix

    pipe = open_pipeline(checkpoint, device, dtype, out)
    echo_written(write_style_mix(pipe, out, prompt, rows, columns, levels, truncation_psi, grid_scale(pipe, scale)))


def prompt_mix_command(
    checkpoint: CheckpointOption,
    out: OutOption,
    prompt: Annotated[str, typer.Option(help="Prompt A: keeps the coarse levels (layout).")],
    fine_prompt: Annotated[
        list[str] | None, typer.Option(help="Prompt B for the fine levels (repeat for several).")
    ] = None,
    seeds: Annotated[str, typer.Option(help="Seeds, one row each (e.g. 0,1,2 or 0-3).")] = "0-3",
    levels: Annotated[str, levels_option("prompt B", "16,32")] = "middle,fine",
    truncation_psi: PsiOption = 1.0,
    device: DeviceOption = "auto",
    dtype: DtypeOption = "float32",
    scale: ScaleOption = None,
) -> None:
    """Prompt mixing (paper fig. 8): prompt A's w and text tokens on the coarse levels, prompt B's on the rest."""
    seed_list = parse_seeds(seeds, "--seeds")
    fine_prompts = [p for p in fine_prompt or [] if p.strip()]
    if not prompt.strip() or not fine_prompts:
        raise GigaGANError("no prompts given: prompt mixing needs --prompt and at least one --fine-prompt")
    from gigagan.inference.figures import write_prompt_mix

    pipe = open_pipeline(checkpoint, device, dtype, out)
    echo_written(
        write_prompt_mix(pipe, out, prompt, fine_prompts, seed_list, levels, truncation_psi, grid_scale(pipe, scale))
    )
