"""Training, evaluation and checkpoints."""

from .checkpoint import (
    CheckpointError,
    load_weights,
    read_checkpoint,
    save_weights,
)
from .config import TrainConfig, config_hash
from .evaluate import confusion_matrix, evaluate, predict
from .experiment import Run, describe_source, train_or_load
from .fit import History, NonFiniteLossError, fit
from .lock import RunLockedError

__all__ = [
    "CheckpointError",
    "History",
    "NonFiniteLossError",
    "Run",
    "RunLockedError",
    "TrainConfig",
    "config_hash",
    "confusion_matrix",
    "describe_source",
    "evaluate",
    "fit",
    "load_weights",
    "predict",
    "read_checkpoint",
    "save_weights",
    "train_or_load",
]
