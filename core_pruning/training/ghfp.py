"""GHFP — gradually hard filter pruning (Cai, An, Xu, 2020, arXiv:2011.03170)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn

from core_pruning.criteria import Criterion
from core_pruning.training.filter_pruning import FilterPruning
from prunelab.errors import InputError

MODES = ("scale", "freeze")


class GHFP(FilterPruning):
    """Gradually hard filter pruning: from SFP to HFP as training goes on.

    Reading implemented: the paper generalises SFP and HFP as one epoch-wise prune-and-train procedure
    that differs only in what happens to the pruned filters, and moves smoothly from the soft end (a large
    search space early) to the hard end (a fixed, converging architecture late). The hardness
    ``h(p) = clip((p - hard_start) / (hard_end - hard_start), 0, 1)`` rises linearly with the fraction
    ``p`` of training done, from 0 (pure SFP) to 1 (pure HFP). How ``h`` acts on the pruned filters
    (``mode``):

    - ``"scale"`` (default): every update of a pruned filter is scaled by ``1 - h``; pruned filters revive
      ever more slowly and are frozen once ``h = 1``.
    - ``"freeze"``: at each epoch end a fraction ``h`` of each layer's pruned filters (the lowest-scored)
      becomes hard for good (frozen at zero, always re-selected); the rest stay fully soft.

    Under BatchNorm a channel's output does not depend on its filter's scale, so ``"scale"`` softens a
    revival only while the filter is still near zero; ``"freeze"`` acts on the function at any scale.

    ``schedule="asymptotic"`` grows the pruned share as in ASFP; the default prunes the full target from
    the first epoch, as SFP and HFP do.
    """

    name = "ghfp"

    def __init__(self, model: nn.Module, example_inputs: Any, target_flops: float = 0.5, *,
                 mode: str = "scale", hard_start: float = 0.0, hard_end: float = 1.0,
                 criterion: str | Criterion = "l2", schedule: str = "constant",
                 ignored_layers: Iterable[nn.Module | str] | None = None, min_channels: int = 1,
                 tolerance: float = 0.02, unwrapped_parameters: Mapping[str, int] | None = None) -> None:
        super().__init__(model, example_inputs, target_flops, criterion=criterion, schedule=schedule,
                         ignored_layers=ignored_layers, min_channels=min_channels, tolerance=tolerance,
                         unwrapped_parameters=unwrapped_parameters)
        if mode not in MODES:
            raise InputError(f"unknown GHFP mode {mode!r}; choose from {', '.join(MODES)}")
        if not 0.0 <= hard_start < hard_end <= 1.0:
            raise InputError(f"need 0 <= hard_start < hard_end <= 1, got {hard_start}, {hard_end}")
        self.mode, self.hard_start, self.hard_end = mode, float(hard_start), float(hard_end)

    def options(self) -> dict[str, Any]:
        return {**super().options(), "mode": self.mode, "hard_start": self.hard_start, "hard_end": self.hard_end}

    def hardness(self, progress: float) -> float:
        return min(1.0, max(0.0, (progress - self.hard_start) / (self.hard_end - self.hard_start)))

    def channel_hardness(self, gi: int, progress: float) -> torch.Tensor:
        if self.mode == "scale":
            return super().channel_hardness(gi, progress)
        return (self.pinned[gi] & ~self.masks.keep[gi]).double()

    def update_pinned(self, scores: list[torch.Tensor], progress: float) -> None:
        if self.mode == "scale":
            return super().update_pinned(scores, progress)
        h = self.hardness(progress)
        for gi, (score, keep) in enumerate(zip(scores, self.masks.keep)):
            pruned = torch.nonzero(~keep).flatten()
            n_hard = round(h * len(pruned))
            hardest = pruned[torch.argsort(score[pruned], stable=True)[:n_hard]]
            self.pinned[gi][hardest] = True
