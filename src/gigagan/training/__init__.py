"""Training: the loss object, the phase loop, checkpoints, EMA and multi-process support."""

from gigagan.training.loop import Trainer, TrainingDiverged, TrainResult
from gigagan.training.loss import GigaGANLoss, TrainingBatch, mismatched_captions, mismatched_indices, r1_penalty

__all__ = [
    "GigaGANLoss",
    "TrainResult",
    "Trainer",
    "TrainingBatch",
    "TrainingDiverged",
    "mismatched_captions",
    "mismatched_indices",
    "r1_penalty",
]
