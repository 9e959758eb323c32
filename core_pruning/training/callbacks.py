"""Callbacks: how pruning methods (and anything else) hook into :class:`~core_pruning.training.Trainer`.

Order of events in one ``fit``::

    on_fit_start
    per epoch:  on_epoch_start
                per batch:  on_batch_start -> forward -> extra_loss -> backward -> on_after_backward
                            -> optimizer step -> on_step_end
                on_train_epoch_end   (may edit the model: SFP zeroes filters here, before evaluation)
                evaluation
                on_epoch_end         (sees the epoch's metrics; may add to them or set trainer.should_stop)
    on_fit_end

A callback that keeps state across epochs returns it from :meth:`Callback.state_dict` (tensors, numbers,
strings, lists and dicts only: checkpoints are loaded with ``weights_only=True``) so resumed runs continue
exactly where they stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from core_pruning.training.loop import Trainer


@dataclass
class BatchResult:
    """One training batch after the optimizer step: its data, outputs and (data) loss."""

    inputs: Any
    targets: torch.Tensor
    outputs: torch.Tensor
    loss: torch.Tensor  # the data loss, without extra_loss terms
    correct: int


class Callback:
    """Base class: every hook does nothing."""

    def on_fit_start(self, trainer: Trainer) -> None:
        pass

    def on_epoch_start(self, trainer: Trainer) -> None:
        pass

    def on_batch_start(self, trainer: Trainer, inputs: Any, targets: torch.Tensor) -> None:
        """Before the forward pass of a training batch (already on the trainer's device)."""

    def extra_loss(self, trainer: Trainer, outputs: torch.Tensor) -> torch.Tensor | None:
        """A term added to the data loss before backward (e.g. a sparsity regulariser)."""
        return None

    def on_after_backward(self, trainer: Trainer) -> None:
        pass

    def on_step_end(self, trainer: Trainer, batch: BatchResult) -> None:
        pass

    def on_train_epoch_end(self, trainer: Trainer) -> None:
        pass

    def on_epoch_end(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        pass

    def on_fit_end(self, trainer: Trainer) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class EpochsToAccuracy(Callback):
    """Record the first epoch whose validation accuracy reaches ``threshold`` (``None`` if never)."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.epoch: int | None = None

    def on_epoch_end(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        acc = metrics.get("val_accuracy")
        if self.epoch is None and acc is not None and acc >= self.threshold:
            self.epoch = int(metrics["epoch"])

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = state.get("epoch")
