"""Pruned networks at the model level: the traceable logit-only view and the replay of a stored plan.

Why here and not in :mod:`cp_predict.pruning`: loading a pruned model (:meth:`TorchRiskModel.from_state`) must
replay its plan, and the model layer may not import the pruning workflow above it (which imports the training
workflow, which imports the models: that was an import cycle). This module depends on ``core_pruning`` and torch
only; :mod:`cp_predict.pruning` builds on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

if TYPE_CHECKING:
    from cp_predict.models.neural import TorchRiskModel


class LogitOnly(nn.Module):
    """``net(x)[0]``: the logit alone, so the network can be traced for pruning (it shares ``net``'s layers)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.train(net.training)  # a new Module is in training mode; keep the network's mode instead

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)[0]


def example_input(model: TorchRiskModel) -> torch.Tensor:
    """A zero batch of one sequence of the model's window length: ``(1, 2, window, 18)``, for tracing."""
    return torch.zeros(1, 2, model.train_config.window, 18)


def replay_plan(model: TorchRiskModel, plan: dict[str, Any]) -> None:
    """Re-apply a stored pruning plan to ``model.net`` (a fresh network of the same configuration)."""
    from core_pruning.plan import PruningPlan, apply_plan  # the pruning core only when a pruned model is loaded

    apply_plan(LogitOnly(model.net), PruningPlan.from_dict(plan), example_input(model))
    model.prune_plan = plan
