"""`gigagan demo` (what `make demo` runs): train the quickstart preset on the built-in shapes data (or reuse
or resume that run), then write its pictures and print its held-out alignment.

The whole `make demo` (install included) must end within 20 minutes on 2 CPU cores: the training budget
below is sized for that.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from gigagan.cli.generate import echo_written, grid_scale
from gigagan.cli.options import DeviceOption, check_count, choice_parser, choices_type, finite_float, preset_names
from gigagan.errors import GigaGANError

DEMO_PRESET = "quickstart"
DEMO_TRAIN_STEPS = 7000  # a run that reached this step is reused as is (about 13 min on 2 cores)
DEMO_TRAIN_MINUTES = 14.0  # wall-clock cap per `make demo` (an unfinished run resumes next time)
DEMO_BATCH_PER_PROCESS = 8  # the training batch is this times the number of processes
DEMO_SEED = 0
DEMO_CHECKPOINT_EVERY = 250
DEMO_PRESETS = preset_names()
DEMO_RUN_DIR = Path("runs/demo")
DEMO_OUT = Path("outputs")
DEMO_TRUNCATION_PSI = 0.8  # the paper's setting for its comparisons
DEMO_ALIGNMENT_PROMPTS = 256  # held-out prompts scored at the end of the demo

DEMO_EXAMPLES = f"""
Examples:

  make demo                                   # the same, from a fresh clone (creates .venv first)

  gigagan demo                                # train {DEMO_PRESET} into {DEMO_RUN_DIR} (or reuse it), write {DEMO_OUT}/

  gigagan demo --max-minutes 30 --max-steps 5000 --run-dir runs/longer --out outputs-longer
"""


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
    from gigagan.data.shapes_verifier import ATTRIBUTES
    from gigagan.device import resolve_device
    from gigagan.inference.figures import heldout_alignment, write_demo_figures
    from gigagan.inference.pipeline import GigaGANPipeline
    from gigagan.io import ensure_writable_folder
    from gigagan.training.runs import train_demo_run

    logging.basicConfig(level=logging.WARNING, format="gigagan: %(message)s")
    logging.getLogger("gigagan").setLevel(logging.INFO)  # the trainer's notes, not every library's
    check_count(max_steps, "--max-steps", minimum=0)
    batch_size = batch_size if batch_size is not None else DEMO_BATCH_PER_PROCESS * max(processes, 1)
    check_count(batch_size, "--batch-size")
    if max_minutes <= 0:
        raise GigaGANError(f"--max-minutes must be positive, got {max_minutes}")
    resolve_device(device)
    ensure_writable_folder(out)
    fresh = {"seed": DEMO_SEED, "checkpoint_every": DEMO_CHECKPOINT_EVERY}
    checkpoint = train_demo_run(run_dir, preset, max_steps, max_minutes, batch_size, device, progress, processes, fresh)
    pipe = GigaGANPipeline.from_pretrained(checkpoint, device=device)
    echo_written(write_demo_figures(pipe, out, checkpoint, DEMO_SEED, DEMO_TRUNCATION_PSI, grid_scale(pipe, None)))

    scores = heldout_alignment(pipe, DEMO_ALIGNMENT_PROMPTS, DEMO_SEED, DEMO_TRUNCATION_PSI)
    prompts = f"{DEMO_ALIGNMENT_PROMPTS} prompts never seen in training, read by the shapes verifier"
    typer.echo(f"demo: held-out alignment ({prompts})")
    for name in (*ATTRIBUTES, "all"):
        typer.echo(f"  {name:<11} {scores[name]:.2f}")
