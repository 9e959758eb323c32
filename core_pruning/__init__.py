"""core_pruning: a reusable channel-pruning core for PyTorch CNNs.

Two lines prune a model to half its FLOPs with the CPMC criterion::

    result = core_pruning.prune(model, torch.randn(1, 3, 224, 224), criterion="cpmc", target_flops=0.5)
    result.plan.save("plan.json")  # replay later with core_pruning.apply_plan

Budgets are fractions KEPT (``target_flops``, ``target_params``, ``keep_ratio`` of the channels), except
``pruning_ratio``: the fraction of channels REMOVED, as in Torch-Pruning (``channel_ratio`` is the deprecated name
of ``keep_ratio``). Criteria live in :mod:`core_pruning.criteria` (each also a Torch-Pruning ``Importance``); physical
channel removal goes through Torch-Pruning's dependency graph.
"""

from core_pruning.counting import count_flops_params, count_params
from core_pruning.criteria import CRITERIA, Criterion, get_criterion
from core_pruning.engine import PruneResult, prune
from core_pruning.plan import PlanMismatch, PruningPlan, apply_plan, load_pruned, save_pruned
from core_pruning.training import train

__version__ = "0.1.0"

__all__ = [
    "CRITERIA",
    "Criterion",
    "PlanMismatch",
    "PruneResult",
    "PruningPlan",
    "apply_plan",
    "count_flops_params",
    "count_params",
    "get_criterion",
    "load_pruned",
    "prune",
    "save_pruned",
    "train",
]
