"""`gigagan generate`, `interpolate`, `style-mix`, `prompt-mix` and `demo`: sampling from a trained model.

Each command writes PNGs (with prompt, seed, psi and checkpoint hash as PNG text chunks) and a grid.
Every user mistake is a GigaGANError: one line on stderr, exit code 2 (see `gigagan.cli.main`).
`register_generation_commands` adds the commands to the `gigagan` Typer app.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gigagan.cli_options import (
    DeviceOption,
    DtypeOption,
    PsiOption,
    choice_parser,
    choices_type,
    finite_float,
    parse_levels,
    parse_space,
    preset_names,
)
from gigagan.errors import GigaGANError

if TYPE_CHECKING:
    from torch import Tensor

    from gigagan.inference.pipeline import GigaGANPipeline

# ---------------------------------------------------------------------------- `make demo` budget
# The demo trains the quickstart preset on the built-in shapes data, then samples from it. The whole
# `make demo` (install included) must end within 20 minutes on 2 CPU cores.
DEMO_PRESET = "quickstart"
DEMO_TRAIN_STEPS = 4000  # a run that reached this step is reused as is
DEMO_TRAIN_MINUTES = 14.0  # wall-clock cap per `make demo` (an unfinished run resumes next time)
DEMO_BATCH_PER_PROCESS = 8  # the training batch is this times the number of processes
DEMO_SEED = 0
DEMO_CHECKPOINT_EVERY = 250
DEMO_PRESETS = preset_names()
DEMO_RUN_DIR = Path("runs/demo")
DEMO_OUT = Path("outputs")
DEMO_TRUNCATION_PSI = 0.8  # the paper's setting for its comparisons
DEMO_GRID_PROMPTS = 8
DEMO_GRID_SEEDS = 6
DEMO_INTERPOLATION_FRAMES = 24
DEMO_ALIGNMENT_PROMPTS = 256  # held-out prompts scored at the end of the demo
DEMO_CELL_PIXELS = 96  # grid cells are scaled up (nearest) to at least this size
DEMO_STYLE_PROMPT = "a large red circle in the center on a blue background"
DEMO_PROMPT_MIX_COARSE = "a large red square in the center on a blue background"
DEMO_PROMPT_MIX_FINE = (
    "a large yellow square in the center on a purple background",
    "a large white square in the center on a black background",
    "a large green square in the center on an orange background",
)
DEMO_INTERPOLATION = (
    ("a small red circle at the top left on a blue background", 0),
    ("a large yellow square at the bottom right on a purple background", 1),
)

GRID_MAX_PROMPTS = 32  # `generate` grids show at most this many prompts (rows) ...
GRID_MAX_IMAGES = 16  # ... and this many images per prompt (columns)
LABEL_CHARS = 64

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

DEMO_EXAMPLES = f"""
Examples:

  make demo                                   # the same, from a fresh clone (creates .venv first)

  gigagan demo                                # train {DEMO_PRESET} into {DEMO_RUN_DIR} (or reuse it), write {DEMO_OUT}/

  gigagan demo --max-minutes 30 --max-steps 5000 --run-dir runs/longer --out outputs-longer
"""

CheckpointOption = Annotated[
    str, typer.Option(help="Model folder (save_pretrained), training checkpoint, run folder or Hub id.")
]
OutOption = Annotated[Path, typer.Option(help="Output folder (created if needed).")]
BatchOption = Annotated[int, typer.Option(help="Images per forward pass.")]
ScaleOption = Annotated[int | None, typer.Option(help="Scale grid cells up by this factor (default: to >= 96px).")]


# ---------------------------------------------------------------------------- shared helpers


def _check_count(value: int, option: str, minimum: int = 1) -> int:
    if value < minimum:
        raise GigaGANError(f"{option} must be at least {minimum}, got {value}")
    return value


def _parse_seeds(text: str, option: str) -> list[int]:
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


def _read_prompts(prompts: Sequence[str] | None, prompt_file: Path | None) -> list[str]:
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


def _open(checkpoint: str, device: str, dtype: str, out: Path) -> GigaGANPipeline:
    """Check the device, dtype and output folder, then load the model (in that order: cheap checks first)."""
    from gigagan.inference.export import ensure_writable_folder
    from gigagan.inference.pipeline import GigaGANPipeline, resolve_device, resolve_dtype

    resolved = resolve_device(device)
    resolve_dtype(dtype)
    ensure_writable_folder(out)
    return GigaGANPipeline.from_pretrained(checkpoint, device=resolved, dtype=dtype)


def _grid_scale(pipe: GigaGANPipeline, scale: int | None) -> int:
    if scale is not None:
        return _check_count(scale, "--scale")
    return max(1, -(-DEMO_CELL_PIXELS // pipe.resolution))


def _label(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 3] + "..."


def _provenance(pipe: GigaGANPipeline, **fields: Any) -> dict[str, Any]:
    return {**fields, "checkpoint": pipe.checkpoint_hash}


def _write_legend(path: Path, lines: Sequence[str]) -> Path:
    from gigagan.models.pretrained import atomic_write_bytes

    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())
    return path


def _echo_written(paths: Sequence[Path | str]) -> None:
    for path in paths:
        typer.echo(f"wrote {path}")


# ---------------------------------------------------------------------------- generate


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
    from gigagan.inference.export import grid_image, save_png

    _check_count(num_images, "--num-images")
    _check_count(batch_size, "--batch-size")
    if seed < 0:
        raise GigaGANError(f"--seed must be non-negative, got {seed}")
    prompts = _read_prompts(prompt, prompt_file)
    pipe = _open(checkpoint, device, dtype, out)
    upsampling = None
    if upsampler is not None:
        from gigagan.inference.upsample import UpsamplerPipeline

        upsampling = UpsamplerPipeline.from_pretrained(upsampler, device=pipe.device, dtype=dtype)
        scale = scale or max(1, -(-DEMO_CELL_PIXELS // (pipe.resolution * upsampling.scale_factor)))
    grid_cells: list[Tensor] = []
    written = 0
    for batch in pipe.generate_batches(
        prompts, num_images, seed=seed, truncation_psi=truncation_psi, batch_size=batch_size, progress=progress
    ):
        images = batch.images if upsampling is None else upsampling.upsample(batch.images, batch.prompts, batch.seeds)
        rows = zip(images, batch.prompts, batch.seeds, batch.prompt_indices, batch.image_indices)
        for image, text, image_seed, index, column in rows:
            metadata = _provenance(pipe, prompt=text, seed=image_seed, truncation_psi=truncation_psi)
            if upsampling is not None:
                metadata["upsampler"] = upsampling.checkpoint_hash
            save_png(image, out / f"{index:04d}-seed{image_seed}.png", metadata)
            written += 1
            if index < GRID_MAX_PROMPTS and column < GRID_MAX_IMAGES:
                grid_cells.append(image)
    shown, columns = prompts[:GRID_MAX_PROMPTS], min(num_images, GRID_MAX_IMAGES)
    grid = grid_image(grid_cells, columns, _grid_scale(pipe, scale), row_labels=[_label(p) for p in shown])
    metadata = _provenance(pipe, prompt=shown, seed=[seed + j for j in range(columns)], truncation_psi=truncation_psi)
    save_png(grid, out / "grid.png", metadata)
    _write_legend(out / "prompts.txt", [f"{i:04d}\t{p}" for i, p in enumerate(prompts)])
    typer.echo(
        f"wrote {written} images ({len(prompts)} prompts x {num_images}, seeds {seed}..{seed + num_images - 1}) "
        f"to {out}; grid: {out / 'grid.png'}; prompts: {out / 'prompts.txt'}"
    )


# ---------------------------------------------------------------------------- interpolate


def write_interpolation(
    pipe: GigaGANPipeline,
    out: Path,
    start: tuple[str, int],
    end: tuple[str, int],
    frames: int,
    space: str,
    truncation_psi: float,
    fps: float,
    scale: int,
    name: str = "interpolation",
    write_frames: bool = True,
    mp4: bool = True,
) -> list[Path]:
    """Interpolate and write frames/, NAME.gif (boomerang loop), NAME.mp4 (if an encoder exists) and
    NAME-grid.png; returns the files written."""
    from gigagan.inference.export import grid_image, save_gif, save_mp4, save_png, scaled_frames
    from gigagan.inference.latent import grid_columns, interpolate

    images = interpolate(pipe, start, end, frames, space=space, truncation_psi=truncation_psi)  # type: ignore[arg-type]
    metadata = _provenance(
        pipe, prompt=[start[0], end[0]], seed=[start[1], end[1]], truncation_psi=truncation_psi, space=space
    )
    written: list[Path] = []
    if write_frames:
        for index, frame in enumerate(images):
            save_png(frame, out / "frames" / f"frame-{index:04d}.png", {**metadata, "frame": index})
        written.append(out / "frames")
    pictures = scaled_frames(images, scale)
    written.append(save_gif(pictures, out / f"{name}.gif", fps=fps, boomerang=True))
    if mp4:
        path, reason = save_mp4(pictures, out / f"{name}.mp4", fps=fps)
        if path is None:
            typer.echo(reason, err=True)
        else:
            written.append(path)
    step = max(1, -(-len(images) // 12))
    shown = list(images[::step])
    grid = grid_image(shown, grid_columns(len(shown)) if len(shown) > 6 else len(shown), scale)
    written.append(save_png(grid, out / f"{name}-grid.png", metadata))
    return written


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
    _check_count(frames, "--frames")
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
    pipe = _open(checkpoint, device, dtype, out)
    written = write_interpolation(
        pipe, out, (prompt, seed), (end_prompt, end_seed), frames, space, truncation_psi, fps, _grid_scale(pipe, scale)
    )
    _echo_written(written)


# ---------------------------------------------------------------------------- style mixing


def write_style_mix(
    pipe: GigaGANPipeline,
    out: Path,
    prompt: str,
    row_seeds: list[int],
    column_seeds: list[int],
    levels: str,
    truncation_psi: float,
    scale: int,
    name: str = "style-mix",
    write_cells: bool = True,
) -> list[Path]:
    """Style-mixing grid like the paper's figure 6 (top row: column seeds; left column: row seeds; each
    cell: `levels` from its column seed, the rest from its row seed) plus cell PNGs and a legend."""
    from gigagan.inference.export import grid_image, save_png
    from gigagan.inference.latent import style_mix

    result = style_mix(pipe, prompt, row_seeds, column_seeds, levels, truncation_psi)
    resolutions = [pipe.level_resolutions[i] for i in result.levels]
    written: list[Path] = []
    if write_cells:
        for r, row_seed in enumerate(row_seeds):
            for c, column_seed in enumerate(column_seeds):
                metadata = _provenance(
                    pipe,
                    prompt=prompt,
                    seed=row_seed,
                    mix_seed=column_seed,
                    mix_levels=resolutions,
                    truncation_psi=truncation_psi,
                )
                save_png(result.cells[r, c], out / f"{name}-row{row_seed}-col{column_seed}.png", metadata)
        written.append(out / f"{name}-row*-col*.png")
    cells: list[Tensor | None] = [None, *result.columns]
    for r in range(len(row_seeds)):
        cells.extend([result.rows[r], *result.cells[r]])
    grid = grid_image(
        cells,
        len(column_seeds) + 1,
        scale,
        row_labels=["", *(f"seed {s}" for s in row_seeds)],
        column_labels=["", *(f"seed {s}" for s in column_seeds)],
    )
    metadata = _provenance(
        pipe,
        prompt=prompt,
        seed={"rows": row_seeds, "columns": column_seeds},
        mix_levels=resolutions,
        truncation_psi=truncation_psi,
    )
    written.append(save_png(grid, out / f"{name}.png", metadata))
    legend = [
        f"prompt: {prompt}",
        f"truncation psi: {truncation_psi:g}",
        f"top row: seeds {column_seeds}; left column: seeds {row_seeds}",
        f"cell (row seed r, column seed c): levels {resolutions}px from c, every other level from r",
    ]
    written.append(_write_legend(out / f"{name}.txt", legend))
    return written


def style_mix_command(
    checkpoint: CheckpointOption,
    out: OutOption,
    prompt: Annotated[str, typer.Option(help="The prompt of every image.")],
    row_seeds: Annotated[str, typer.Option(help="Seeds of the rows (e.g. 0,1,2 or 0-3).")] = "0-3",
    column_seeds: Annotated[str, typer.Option(help="Seeds of the columns, whose styles are mixed in.")] = "4-7",
    levels: Annotated[
        str,
        typer.Option(
            help="Levels taken from the column seed: coarse, middle, fine or resolutions (8,16), comma-separated.",
            parser=parse_levels,
        ),
    ] = "coarse",
    truncation_psi: PsiOption = 1.0,
    device: DeviceOption = "auto",
    dtype: DtypeOption = "float32",
    scale: ScaleOption = None,
) -> None:
    """Style mixing (paper fig. 6): chosen levels' w rows from one seed, the others from another."""
    rows, columns = _parse_seeds(row_seeds, "--row-seeds"), _parse_seeds(column_seeds, "--column-seeds")
    if not prompt.strip():
        raise GigaGANError("no prompts given: --prompt must not be empty")
    pipe = _open(checkpoint, device, dtype, out)
    _echo_written(write_style_mix(pipe, out, prompt, rows, columns, levels, truncation_psi, _grid_scale(pipe, scale)))


# ---------------------------------------------------------------------------- prompt mixing


def write_prompt_mix(
    pipe: GigaGANPipeline,
    out: Path,
    coarse_prompt: str,
    fine_prompts: list[str],
    seeds: list[int],
    levels: str,
    truncation_psi: float,
    scale: int,
    name: str = "prompt-mix",
    write_cells: bool = True,
) -> list[Path]:
    """Prompt-mixing grid like the paper's figure 8: one row per seed; columns A, then for each prompt
    B_k the mix (A's coarse levels, B_k's `levels`) and plain B_k; plus cell PNGs and a legend."""
    from gigagan.inference.export import grid_image, save_png
    from gigagan.inference.latent import prompt_mix

    result = prompt_mix(pipe, coarse_prompt, fine_prompts, seeds, levels, truncation_psi)
    resolutions = [pipe.level_resolutions[i] for i in result.levels]
    written: list[Path] = []
    cells: list[Tensor | None] = []
    for s, seed in enumerate(seeds):
        cells.append(result.coarse[s])
        if write_cells:
            meta = _provenance(pipe, prompt=coarse_prompt, seed=seed, truncation_psi=truncation_psi)
            save_png(result.coarse[s], out / f"{name}-seed{seed}-A.png", meta)
        for k, fine_prompt in enumerate(fine_prompts):
            cells.extend([result.mixed[k, s], result.fine[k, s]])
            if write_cells:
                meta = _provenance(
                    pipe,
                    prompt=coarse_prompt,
                    fine_prompt=fine_prompt,
                    fine_levels=resolutions,
                    seed=seed,
                    truncation_psi=truncation_psi,
                )
                save_png(result.mixed[k, s], out / f"{name}-seed{seed}-mix{k + 1}.png", meta)
                meta = _provenance(pipe, prompt=fine_prompt, seed=seed, truncation_psi=truncation_psi)
                save_png(result.fine[k, s], out / f"{name}-seed{seed}-B{k + 1}.png", meta)
    if write_cells:
        written.append(out / f"{name}-seed*.png")
    column_labels = ["A"]
    for k in range(len(fine_prompts)):
        column_labels.extend([f"A+B{k + 1}", f"B{k + 1}"])
    grid = grid_image(
        cells, len(column_labels), scale, row_labels=[f"seed {s}" for s in seeds], column_labels=column_labels
    )
    metadata = _provenance(
        pipe,
        prompt=[coarse_prompt, *fine_prompts],
        seed=seeds,
        fine_levels=resolutions,
        truncation_psi=truncation_psi,
    )
    written.append(save_png(grid, out / f"{name}.png", metadata))
    legend = [f"A (coarse levels): {coarse_prompt}"]
    legend += [f"B{k + 1} (levels {resolutions}px in A+B{k + 1}): {p}" for k, p in enumerate(fine_prompts)]
    legend += [f"rows: seeds {seeds}; truncation psi {truncation_psi:g}"]
    written.append(_write_legend(out / f"{name}.txt", legend))
    return written


def prompt_mix_command(
    checkpoint: CheckpointOption,
    out: OutOption,
    prompt: Annotated[str, typer.Option(help="Prompt A: keeps the coarse levels (layout).")],
    fine_prompt: Annotated[
        list[str] | None, typer.Option(help="Prompt B for the fine levels (repeat for several).")
    ] = None,
    seeds: Annotated[str, typer.Option(help="Seeds, one row each (e.g. 0,1,2 or 0-3).")] = "0-3",
    levels: Annotated[
        str,
        typer.Option(
            help="Levels taken from prompt B: coarse, middle, fine or resolutions (16,32), comma-separated.",
            parser=parse_levels,
        ),
    ] = "middle,fine",
    truncation_psi: PsiOption = 1.0,
    device: DeviceOption = "auto",
    dtype: DtypeOption = "float32",
    scale: ScaleOption = None,
) -> None:
    """Prompt mixing (paper fig. 8): prompt A's w and text tokens on the coarse levels, prompt B's on the rest."""
    seed_list = _parse_seeds(seeds, "--seeds")
    fine_prompts = [p for p in fine_prompt or [] if p.strip()]
    if not prompt.strip() or not fine_prompts:
        raise GigaGANError("no prompts given: prompt mixing needs --prompt and at least one --fine-prompt")
    pipe = _open(checkpoint, device, dtype, out)
    _echo_written(
        write_prompt_mix(pipe, out, prompt, fine_prompts, seed_list, levels, truncation_psi, _grid_scale(pipe, scale))
    )


# ---------------------------------------------------------------------------- demo


def _train_demo_rank(
    model: Any, training: Any, run_dir: Path, checkpoint: Path | None, device: str, progress: bool
) -> None:
    """Train the demo run in this process (alone, or as one of `--processes` ranks)."""
    from gigagan.training import Trainer
    from gigagan.training.distributed import init_distributed, shutdown

    context = init_distributed(device)
    try:
        trainer = Trainer(model, training, run_dir, context=context, resume=checkpoint or False, progress=progress)
        trainer.run()
    finally:
        shutdown(context)


def _train_demo_model(
    run_dir: Path,
    preset: str,
    max_steps: int,
    max_minutes: float,
    batch_size: int,
    device: str,
    progress: bool,
    processes: int = 1,
) -> Path:
    """Train (or resume, or reuse) the demo run; returns its newest checkpoint."""
    import dataclasses

    from gigagan.config import (
        DiscriminatorConfig,
        GeneratorConfig,
        ModelConfig,
        TrainConfig,
        config_from_dict,
        preset_training,
    )
    from gigagan.config import get_preset as preset_config
    from gigagan.models.pretrained import read_config_file
    from gigagan.training.checkpoint import STATE_NAME, latest_checkpoint
    from gigagan.training.distributed import run_local_ranks

    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is not None:
        try:
            step = int(json.loads((checkpoint / STATE_NAME).read_text())["step"])
        except (OSError, ValueError, KeyError) as error:
            raise GigaGANError(f"{checkpoint} is damaged; delete {run_dir} to train afresh") from error
        if step >= max_steps:
            typer.echo(f"demo: reusing the finished run {run_dir} (step {step})")
            return checkpoint
        typer.echo(f"demo: resuming {run_dir} at step {step} (target {max_steps}, at most {max_minutes:g} min)")
        saved = read_config_file(checkpoint)
        model = ModelConfig(
            generator=config_from_dict(GeneratorConfig, saved["generator"]),
            discriminator=config_from_dict(DiscriminatorConfig, saved["discriminator"]),
        )
        training = config_from_dict(TrainConfig, saved.get("training", {}))
    else:
        typer.echo(
            f"demo: training the {preset} preset on the built-in shapes data into {run_dir} "
            f"({max_steps} steps or {max_minutes:g} min, whichever comes first)"
        )
        model = preset_config(preset)
        training = preset_training(
            preset, {"data": "shapes", "seed": DEMO_SEED, "checkpoint_every": DEMO_CHECKPOINT_EVERY}
        )
    training = dataclasses.replace(
        training, max_steps=max_steps, max_minutes=max_minutes, batch_size=batch_size, sample_every=0
    )
    args = (model, training, run_dir, checkpoint, device, progress)
    run_local_ranks(processes, device, training.batch_size, _train_demo_rank, *args)
    found = latest_checkpoint(run_dir)
    if found is None:  # Trainer.run always ends with a checkpoint
        raise GigaGANError(f"training wrote no checkpoint into {run_dir}")
    state = json.loads((found / STATE_NAME).read_text())
    ranks = f" in {processes} processes" if processes > 1 else ""
    typer.echo(f"demo: trained to step {state['step']} ({state['images_seen']} images{ranks})")
    return found


def demo(
    run_dir: Annotated[Path, typer.Option(help="Training run folder (reused or resumed when present).")] = DEMO_RUN_DIR,
    out: Annotated[Path, typer.Option(help="Folder for the demo's pictures.")] = DEMO_OUT,
    max_steps: Annotated[int, typer.Option(help="Training steps of a finished demo run.")] = DEMO_TRAIN_STEPS,
    max_minutes: Annotated[
        float, typer.Option(help="Training time cap for this call.", parser=finite_float("--max-minutes", 0, True))
    ] = DEMO_TRAIN_MINUTES,
    batch_size: Annotated[
        int | None, typer.Option(help=f"Training batch size (default {DEMO_BATCH_PER_PROCESS} per process).")
    ] = None,
    preset: Annotated[
        choices_type(DEMO_PRESETS), typer.Option(hidden=True, parser=choice_parser("preset", DEMO_PRESETS))
    ] = DEMO_PRESET,
    device: DeviceOption = "auto",
    processes: Annotated[
        int,
        typer.Option(
            "--processes",
            help="CPU training processes (data parallel). One process on every core makes the most steps "
            "per minute, which the object's shape waits for (docs/RESULTS.md); two make more images.",
        ),
    ] = 1,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
) -> None:
    """Train the quickstart model on the built-in shapes data (or reuse it), then write a prompt grid, a
    style-mixing grid, a prompt-mixing grid and an interpolation GIF."""
    from gigagan.data.shapes import heldout_prompts
    from gigagan.inference.export import ensure_writable_folder, grid_image, save_png
    from gigagan.inference.pipeline import GigaGANPipeline, resolve_device

    logging.basicConfig(level=logging.WARNING, format="gigagan: %(message)s")
    logging.getLogger("gigagan").setLevel(logging.INFO)  # the trainer's notes, not every library's
    _check_count(max_steps, "--max-steps", minimum=0)
    batch_size = batch_size if batch_size is not None else DEMO_BATCH_PER_PROCESS * max(processes, 1)
    _check_count(batch_size, "--batch-size")
    if max_minutes <= 0:
        raise GigaGANError(f"--max-minutes must be positive, got {max_minutes}")
    resolve_device(device)
    ensure_writable_folder(out)
    checkpoint = _train_demo_model(run_dir, preset, max_steps, max_minutes, batch_size, device, progress, processes)
    pipe = GigaGANPipeline.from_pretrained(checkpoint, device=device)
    scale = _grid_scale(pipe, None)
    psi = DEMO_TRUNCATION_PSI
    written: list[Path] = []

    prompts = [text for text, _ in heldout_prompts(DEMO_GRID_PROMPTS, seed=DEMO_SEED)]
    images = pipe(prompts, DEMO_GRID_SEEDS, seed=DEMO_SEED, truncation_psi=psi, output_type="pt", progress=False)
    grid = grid_image(list(images.images * 2 - 1), DEMO_GRID_SEEDS, scale, row_labels=prompts)
    seeds = list(range(DEMO_SEED, DEMO_SEED + DEMO_GRID_SEEDS))
    metadata = _provenance(pipe, prompt=prompts, seed=seeds, truncation_psi=psi)
    written.append(save_png(grid, out / "prompt_grid.png", metadata))
    legend = [
        f"rows: {len(prompts)} prompts of held-out (shape, colour, background) combinations the model never saw;",
        f"columns: seeds {seeds}; truncation psi {psi:g}; checkpoint {checkpoint}",
        *(f"row {i + 1}: {p}" for i, p in enumerate(prompts)),
    ]
    written.append(_write_legend(out / "prompt_grid.txt", legend))

    written += write_style_mix(
        pipe, out, DEMO_STYLE_PROMPT, [0, 1, 2, 3], [4, 5, 6, 7], "coarse", psi, scale, "style_mixing", False
    )
    written += write_prompt_mix(
        pipe,
        out,
        DEMO_PROMPT_MIX_COARSE,
        list(DEMO_PROMPT_MIX_FINE),
        [0, 1, 2],
        "middle,fine",
        psi,
        scale,
        "prompt_mixing",
        False,
    )
    start, end = DEMO_INTERPOLATION
    written += write_interpolation(
        pipe, out, start, end, DEMO_INTERPOLATION_FRAMES, "z", psi, 12.0, scale, "interpolation", False, False
    )
    _echo_written(written)
    _echo_alignment(pipe, psi)


def _echo_alignment(pipe: GigaGANPipeline, psi: float) -> None:
    """Score the demo model on held-out prompts with the shapes verifier and print the table."""
    from gigagan.data.shapes import ATTRIBUTES, attribute_accuracy, heldout_prompts

    prompts = heldout_prompts(DEMO_ALIGNMENT_PROMPTS, seed=DEMO_SEED + 1)
    captions = [text for text, _ in prompts]
    images = pipe(captions, 1, seed=DEMO_SEED, truncation_psi=psi, output_type="pt", progress=False).images
    scores = attribute_accuracy(list(images * 2 - 1), [attributes for _, attributes in prompts])
    typer.echo(f"demo: held-out alignment ({len(prompts)} prompts never seen in training, read by the shapes verifier)")
    for name in (*ATTRIBUTES, "all"):
        typer.echo(f"  {name:<11} {scores[name]:.2f}")


def register_generation_commands(app: typer.Typer) -> None:
    """Add generate, interpolate, style-mix, prompt-mix and demo to the `gigagan` app."""
    app.command("generate", epilog=GENERATE_EXAMPLES)(generate)
    app.command("interpolate", epilog=INTERPOLATE_EXAMPLES)(interpolate_command)
    app.command("style-mix", epilog=STYLE_MIX_EXAMPLES)(style_mix_command)
    app.command("prompt-mix", epilog=PROMPT_MIX_EXAMPLES)(prompt_mix_command)
    app.command("demo", epilog=DEMO_EXAMPLES)(demo)
