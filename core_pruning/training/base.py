"""What every training-time pruning method shares: masks, a FLOPs target, and the final physical removal.

A method is a :class:`~core_pruning.training.callbacks.Callback` on the shared training loop. While the
network trains it only changes :class:`~core_pruning.training.masks.ChannelMasks` (and, through them, zeroes
weights or gates signals); :meth:`TrainingPruner.finalize` then makes the masked network final
(:meth:`~TrainingPruner.prepare_removal`), zeroes every masked channel completely and removes them through
the engine's plan replay. The result is a genuinely smaller dense model whose outputs equal the masked
model's, and a :class:`~core_pruning.PruningPlan` that rebuilds it from a fresh instance.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import torch
from torch import nn

from core_pruning.counting import count_flops_params, size_report
from core_pruning.engine import PruneResult
from core_pruning.plan import PruningPlan, apply_plan
from core_pruning.training.callbacks import Callback
from core_pruning.training.masks import ChannelMasks
from prunelab.errors import InputError


def check_fraction(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or not 0 < value <= 1:
        raise InputError(f"{name} must be a fraction in (0, 1], got {value!r}")
    return float(value)


def _to_device(x: Any, device: torch.device) -> Any:
    if isinstance(x, torch.Tensor):
        return x.to(device)
    if isinstance(x, (tuple, list)):
        return type(x)(_to_device(v, device) for v in x)
    if isinstance(x, dict):
        return {k: _to_device(v, device) for k, v in x.items()}
    return x


class TrainingPruner(Callback):
    """Base of SFP, HFP, GHFP, CAC and DAIS: per-root-channel masks and a FLOPs target.

    ``target_flops``: fraction of the model's conv/linear MACs to keep (``0.5`` halves them); the final
    model lands within ``tolerance`` below it. ``ignored_layers`` are never pruned (the layers producing
    the model output never are); every group keeps at least ``min_channels`` channels. ``unwrapped_parameters``
    (``{parameter name: channel dimension}``) as in :func:`core_pruning.prune`; the plan records it.
    """

    name: ClassVar[str] = ""

    def __init__(self, model: nn.Module, example_inputs: Any, target_flops: float = 0.5, *,
                 ignored_layers: Iterable[nn.Module | str] | None = None, min_channels: int = 1,
                 tolerance: float = 0.02, unwrapped_parameters: Mapping[str, int] | None = None) -> None:
        self.target_flops = check_fraction(target_flops, "target_flops")
        self.tolerance = check_fraction(tolerance, "tolerance")
        self.model = model
        self.example_inputs = example_inputs
        self.unwrapped_parameters = {str(k): v for k, v in (unwrapped_parameters or {}).items()}
        self.masks = ChannelMasks(model, example_inputs, ignored_layers, min_channels, self.unwrapped_parameters)
        self.finalized = False

    def options(self) -> dict[str, Any]:
        """The method's settings, recorded in the plan (JSON-serialisable values only)."""
        return {"min_channels": self.masks.min_channels, "tolerance": self.tolerance}

    def progress(self, trainer: Any) -> float:
        """Fraction of the training run done at the current step, in [0, 1]."""
        total = max(1, trainer.config.epochs * max(1, trainer.steps_per_epoch))
        return min(1.0, trainer.global_step / total)

    # -- checkpoints ----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"masks": self.masks.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.masks.load_state_dict(state["masks"])

    def on_epoch_end(self, trainer: Any, metrics: dict[str, float]) -> None:
        metrics["flops_fraction"] = self.masks.flops_fraction()
        metrics["masked_channels"] = float(self.masks.num_masked())

    # -- the end ------------------------------------------------------------------------------------
    def prepare_removal(self) -> None:
        """Make the masked network final (remove hooks, fold indicators, binarise); idempotent."""

    def masked_model(self) -> nn.Module:
        """The masked network as it will be removed: final, every masked channel fully zeroed (not yet smaller)."""
        self.prepare_removal()
        self.masks.zero_(hard=True)
        return self.model

    def finalize(self) -> PruneResult:
        """Physically remove the masked channels through the engine; return the model, its plan and a report."""
        if self.finalized:
            raise RuntimeError("finalize() was already called: the channels are removed")
        start = time.perf_counter()
        model = self.masked_model()
        device = next(model.parameters()).device
        example = _to_device(self.example_inputs, device)
        flops_before, params_before = count_flops_params(model, example)
        masked_fraction = self.masks.flops_fraction()
        plan = PruningPlan(steps=[self.masks.plan_step()], criterion=self.name, options=self.options(),
                           target={"kind": "flops", "fraction": self.target_flops}, model_class=type(model).__name__,
                           unwrapped_parameters=self.unwrapped_parameters)
        removed = self.masks.removed_per_layer()
        apply_plan(model, plan, example)
        self.finalized = True
        flops_after, params_after = count_flops_params(model, example)
        report = {
            "method": self.name,
            "target": plan.target,
            **size_report((flops_before, params_before), (flops_after, params_after)),
            "masked_flops_ratio": masked_fraction,
            "removed": removed,
            "removed_per_layer": {name: len(idxs) for name, idxs in removed.items()},
            "seconds": time.perf_counter() - start,
        }
        return PruneResult(model=model, plan=plan, report=report)
