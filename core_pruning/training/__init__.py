"""Training and training-time pruning on one shared loop.

- :func:`train` / :class:`Trainer`: fit + evaluate with callbacks, tqdm progress, a seed, CPU/GPU,
  atomic resumable checkpoints, and DDP when launched with ``torchrun``.
"""

from core_pruning.training.callbacks import BatchResult, Callback, EpochsToAccuracy
from core_pruning.training.loop import TrainConfig, Trainer, TrainResult, evaluate, train

__all__ = ["BatchResult", "Callback", "EpochsToAccuracy", "TrainConfig", "TrainResult", "Trainer", "evaluate", "train"]
