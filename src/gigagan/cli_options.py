"""Typer option types shared by the training commands (`gigagan train`, `gigagan train-upsampler`).

None means "not given": the value then comes from the config file or the resumed run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

RunDirOption = Annotated[Path, typer.Option("--out", help="Run directory: checkpoints, samples, logs.")]
ConfigFileOption = Annotated[Path | None, typer.Option("--config", help="JSON with preset/model/training.")]
MaxStepsOption = Annotated[int | None, typer.Option("--max-steps", help="Total training steps.")]
MaxMinutesOption = Annotated[
    float | None, typer.Option("--max-minutes", help="Stop after this many minutes (checkpointed).")
]
BatchSizeOption = Annotated[int | None, typer.Option("--batch-size", help="Global batch size (split over ranks).")]
SeedOption = Annotated[int | None, typer.Option("--seed", help="Random seed.")]
LrDiscriminatorOption = Annotated[float | None, typer.Option("--lr-d", help="Discriminator learning rate.")]
R1GammaOption = Annotated[float | None, typer.Option("--r1-gamma", help="R1 weight gamma.")]
R1IntervalOption = Annotated[int | None, typer.Option("--r1-interval", help="Lazy R1 interval in steps.")]
MatchingWeightOption = Annotated[float | None, typer.Option("--matching-weight", help="Matching-aware loss weight.")]
AugmentOption = Annotated[bool | None, typer.Option("--augment/--no-augment", help="Differentiable augmentation.")]
Bf16Option = Annotated[bool | None, typer.Option("--bf16/--no-bf16", help="bfloat16 autocast.")]
GradCheckpointingOption = Annotated[bool | None, typer.Option("--grad-checkpointing/--no-grad-checkpointing")]
CheckpointEveryOption = Annotated[int | None, typer.Option("--checkpoint-every", help="Steps between checkpoints.")]
SampleEveryOption = Annotated[int | None, typer.Option("--sample-every", help="Steps between sample grids.")]
LogEveryOption = Annotated[int | None, typer.Option("--log-every", help="Steps between log lines.")]
KeepOption = Annotated[int | None, typer.Option("--keep", help="Checkpoints to keep (0 keeps all).")]
NumWorkersOption = Annotated[int | None, typer.Option("--num-workers", help="DataLoader workers.")]
CaptionTemplateOption = Annotated[
    str | None, typer.Option("--caption-template", help="Caption for class folders, with {label}.")
]
DeterministicOption = Annotated[bool | None, typer.Option("--deterministic/--no-deterministic")]
ResumeOption = Annotated[bool, typer.Option("--resume", help="Continue from OUT/latest.")]
TrainDeviceOption = Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")]
ProcessesOption = Annotated[
    int,
    typer.Option(
        "--processes",
        help="CPU training processes on this machine, data parallel over gloo (the batch is split over "
        "them, the cores shared); small models train faster so on few-core CPUs. GPUs: use torchrun.",
    ),
]
ProgressOption = Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")]
MetricsOption = Annotated[
    str | None, typer.Option("--metrics", help="Metrics scored on the EMA G while training, e.g. fid,kid.")
]
MetricsEveryOption = Annotated[int | None, typer.Option("--metrics-every", help="Steps between evaluations.")]
MetricsImagesOption = Annotated[
    int | None, typer.Option("--metrics-num-images", help="Generated (and real) images per evaluation.")
]
