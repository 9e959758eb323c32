"""Training and training-time pruning on one shared loop.

- :func:`train` / :class:`Trainer`: fit + evaluate with callbacks, tqdm progress, a seed, CPU/GPU,
  atomic resumable checkpoints, and DDP when launched with ``torchrun``. Its optimiser steps, schedule,
  checkpoints and resume are those of :class:`prunelab.training.StepLoop`, the engine artnet and cp_predict
  train with too.
- Training-time pruning methods, each a callback with its paper reading in the docstring: :class:`SFP`,
  :class:`HFP`, :class:`GHFP` (epoch-wise filter zeroing with a hardness), :class:`CAC` (random channel
  gates and conditional accuracy change; DCPH via :func:`dcph_target_flops`) and :class:`DAIS` (annealed
  differentiable indicators, bi-level). All mask whole :class:`~core_pruning.groups.ChannelGroup` root
  channels and end with physical removal through the engine (``pruner.finalize()``).
- :func:`train_prune`: method + removal + fine-tuning in one call (what ``python -m core_pruning
  train-prune`` runs).
"""

from core_pruning.training.base import TrainingPruner
from core_pruning.training.cac import CAC, dcph_target_flops
from core_pruning.training.callbacks import BatchResult, Callback, EpochsToAccuracy
from core_pruning.training.dais import DAIS
from core_pruning.training.ghfp import GHFP
from core_pruning.training.hfp import HFP
from core_pruning.training.loop import TrainConfig, Trainer, TrainResult, evaluate, train
from core_pruning.training.masks import ChannelMasks
from core_pruning.training.pipeline import METHODS, TrainPruneResult, build_pruner, train_prune
from core_pruning.training.sfp import SFP

__all__ = [
    "CAC", "DAIS", "GHFP", "HFP", "METHODS", "SFP", "BatchResult", "Callback", "ChannelMasks", "EpochsToAccuracy",
    "TrainConfig", "TrainPruneResult", "TrainResult", "Trainer", "TrainingPruner", "build_pruner",
    "dcph_target_flops", "evaluate", "train", "train_prune",
]
