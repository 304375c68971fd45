"""The pictures the commands write from a trained model: prompt grids, interpolations, style-mixing and
prompt-mixing grids (paper figures 6 and 8), each with its legend, and the demo's set of them.

Every PNG carries its provenance (prompt, seed, psi, the checkpoint's hash) as PNG text chunks.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import Tensor

from gigagan.inference.export import grid_image, save_gif, save_mp4, save_png, scaled_frames
from gigagan.inference.latent import grid_columns, interpolate, prompt_mix, style_mix
from gigagan.inference.pipeline import GigaGANPipeline
from gigagan.io import atomic_write_bytes

CELL_PIXELS = 96  # grid cells are scaled up (nearest) to at least this size
GRID_MAX_PROMPTS = 32  # prompt grids show at most this many prompts (rows) ...
GRID_MAX_IMAGES = 16  # ... and this many images per prompt (columns)
LABEL_CHARS = 64

# the demo's pictures: a grid of held-out prompts, style mixing, prompt mixing and an interpolation
DEMO_GRID_PROMPTS = 8
DEMO_GRID_SEEDS = 6
DEMO_INTERPOLATION_FRAMES = 24
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


# ---------------------------------------------------------------------------- shared helpers


def cell_scale(resolution: int) -> int:
    """The factor that scales a `resolution` px grid cell up to at least CELL_PIXELS."""
    return max(1, -(-CELL_PIXELS // resolution))


def label(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 3] + "..."


def provenance(pipe: GigaGANPipeline, **fields: Any) -> dict[str, Any]:
    return {**fields, "checkpoint": pipe.checkpoint_hash}


def write_legend(path: Path, lines: Sequence[str]) -> Path:
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())
    return path


# ---------------------------------------------------------------------------- prompt grids


def write_generation(
    pipe: GigaGANPipeline,
    out: Path,
    prompts: list[str],
    num_images: int,
    seed: int,
    truncation_psi: float,
    batch_size: int,
    scale: int,
    progress: bool = True,
    upsampling: Any = None,
) -> int:
    """`num_images` images per prompt (image j: seed + j) as PNGs, grid.png (up to GRID_MAX_PROMPTS x
    GRID_MAX_IMAGES) and prompts.txt; with `upsampling` (an UpsamplerPipeline), the upsampled images.
    Returns the number of images written."""
    grid_cells: list[Tensor] = []
    written = 0
    for batch in pipe.generate_batches(
        prompts, num_images, seed=seed, truncation_psi=truncation_psi, batch_size=batch_size, progress=progress
    ):
        images = batch.images if upsampling is None else upsampling.upsample(batch.images, batch.prompts, batch.seeds)
        rows = zip(images, batch.prompts, batch.seeds, batch.prompt_indices, batch.image_indices)
        for image, text, image_seed, index, column in rows:
            metadata = provenance(pipe, prompt=text, seed=image_seed, truncation_psi=truncation_psi)
            if upsampling is not None:
                metadata["upsampler"] = upsampling.checkpoint_hash
            save_png(image, out / f"{index:04d}-seed{image_seed}.png", metadata)
            written += 1
            if index < GRID_MAX_PROMPTS and column < GRID_MAX_IMAGES:
                grid_cells.append(image)
    shown, columns = prompts[:GRID_MAX_PROMPTS], min(num_images, GRID_MAX_IMAGES)
    grid = grid_image(grid_cells, columns, scale, row_labels=[label(p) for p in shown])
    metadata = provenance(pipe, prompt=shown, seed=[seed + j for j in range(columns)], truncation_psi=truncation_psi)
    save_png(grid, out / "grid.png", metadata)
    write_legend(out / "prompts.txt", [f"{i:04d}\t{p}" for i, p in enumerate(prompts)])
    return written


# ---------------------------------------------------------------------------- interpolation


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
    images = interpolate(pipe, start, end, frames, space=space, truncation_psi=truncation_psi)  # type: ignore[arg-type]
    metadata = provenance(
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
            print(reason, file=sys.stderr)
        else:
            written.append(path)
    step = max(1, -(-len(images) // 12))
    shown = list(images[::step])
    grid = grid_image(shown, grid_columns(len(shown)) if len(shown) > 6 else len(shown), scale)
    written.append(save_png(grid, out / f"{name}-grid.png", metadata))
    return written


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
    result = style_mix(pipe, prompt, row_seeds, column_seeds, levels, truncation_psi)
    resolutions = [pipe.level_resolutions[i] for i in result.levels]
    written: list[Path] = []
    if write_cells:
        for r, row_seed in enumerate(row_seeds):
            for c, column_seed in enumerate(column_seeds):
                metadata = provenance(
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
    metadata = provenance(
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
    written.append(write_legend(out / f"{name}.txt", legend))
    return written


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
    result = prompt_mix(pipe, coarse_prompt, fine_prompts, seeds, levels, truncation_psi)
    resolutions = [pipe.level_resolutions[i] for i in result.levels]
    written: list[Path] = []
    cells: list[Tensor | None] = []
    for s, seed in enumerate(seeds):
        cells.append(result.coarse[s])
        if write_cells:
            meta = provenance(pipe, prompt=coarse_prompt, seed=seed, truncation_psi=truncation_psi)
            save_png(result.coarse[s], out / f"{name}-seed{seed}-A.png", meta)
        for k, fine_prompt in enumerate(fine_prompts):
            cells.extend([result.mixed[k, s], result.fine[k, s]])
            if write_cells:
                meta = provenance(
                    pipe,
                    prompt=coarse_prompt,
                    fine_prompt=fine_prompt,
                    fine_levels=resolutions,
                    seed=seed,
                    truncation_psi=truncation_psi,
                )
                save_png(result.mixed[k, s], out / f"{name}-seed{seed}-mix{k + 1}.png", meta)
                meta = provenance(pipe, prompt=fine_prompt, seed=seed, truncation_psi=truncation_psi)
                save_png(result.fine[k, s], out / f"{name}-seed{seed}-B{k + 1}.png", meta)
    if write_cells:
        written.append(out / f"{name}-seed*.png")
    column_labels = ["A"]
    for k in range(len(fine_prompts)):
        column_labels.extend([f"A+B{k + 1}", f"B{k + 1}"])
    grid = grid_image(
        cells, len(column_labels), scale, row_labels=[f"seed {s}" for s in seeds], column_labels=column_labels
    )
    metadata = provenance(
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
    written.append(write_legend(out / f"{name}.txt", legend))
    return written


# ---------------------------------------------------------------------------- the demo's pictures


def write_demo_figures(
    pipe: GigaGANPipeline, out: Path, checkpoint: Path, seed: int, truncation_psi: float, scale: int
) -> list[Path]:
    """prompt_grid.png (held-out prompts x seeds, with prompt_grid.txt), style_mixing.png,
    prompt_mixing.png and interpolation.gif; returns the files written."""
    from gigagan.data.shapes import heldout_prompts

    psi = truncation_psi
    written: list[Path] = []
    prompts = [text for text, _ in heldout_prompts(DEMO_GRID_PROMPTS, seed=seed)]
    images = pipe(prompts, DEMO_GRID_SEEDS, seed=seed, truncation_psi=psi, output_type="pt", progress=False)
    grid = grid_image(list(images.images * 2 - 1), DEMO_GRID_SEEDS, scale, row_labels=prompts)
    seeds = list(range(seed, seed + DEMO_GRID_SEEDS))
    metadata = provenance(pipe, prompt=prompts, seed=seeds, truncation_psi=psi)
    written.append(save_png(grid, out / "prompt_grid.png", metadata))
    legend = [
        f"rows: {len(prompts)} prompts of held-out (shape, colour, background) combinations the model never saw;",
        f"columns: seeds {seeds}; truncation psi {psi:g}; checkpoint {checkpoint}",
        *(f"row {i + 1}: {p}" for i, p in enumerate(prompts)),
    ]
    written.append(write_legend(out / "prompt_grid.txt", legend))

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
    return written


def heldout_alignment(pipe: GigaGANPipeline, count: int, seed: int, truncation_psi: float) -> dict[str, float]:
    """The shapes verifier's accuracy per attribute (and "all") on `count` held-out prompts (drawn with
    `seed + 1`, other than the demo grid's), one image each (seed `seed`)."""
    from gigagan.data.shapes import heldout_prompts
    from gigagan.data.shapes_verifier import attribute_accuracy

    prompts = heldout_prompts(count, seed=seed + 1)
    captions = [text for text, _ in prompts]
    images = pipe(captions, 1, seed=seed, truncation_psi=truncation_psi, output_type="pt", progress=False).images
    return attribute_accuracy(list(images * 2 - 1), [attributes for _, attributes in prompts])
