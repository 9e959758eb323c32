"""Epoch-wise filter pruning with a hardness: the machinery SFP, HFP and GHFP share.

At the end of every epoch the filters are re-scored on their current weights (L2 norm by default, any
engine criterion works), the lowest-scored channels of every group are chosen at one uniform rate that
meets the epoch's FLOPs budget (:func:`~core_pruning.training.selection.select_uniform`), and they are
zeroed (:meth:`~core_pruning.training.masks.ChannelMasks.zero_`: filter rows, biases, BatchNorm shift
and running mean, so the channel outputs exactly 0 and the evaluation after the epoch is the pruned
network's accuracy).

What happens to the zeroed channels during the next epoch is the *hardness* ``h`` in [0, 1]: every
optimiser update of a pruned channel's parameters (filter rows, biases, BatchNorm scale and shift) is
scaled by ``1 - h``, i.e. ``w <- w_before + (1 - h) * (w_after_step - w_before)``, applied after the
optimiser so it holds for any optimiser, momentum and weight decay. ``h = 0`` is SFP (pruned filters keep
learning and may win their place back at the next re-scoring), ``h = 1`` is HFP (they stay exactly zero
and, being the lowest-scored, stay pruned). Channels with ``h = 1`` are pinned: they are always re-selected.

BatchNorm caveat: under BatchNorm a zeroed filter's gradient is amplified by ``1 / sqrt(eps)``, so with SFP it
re-grows larger than the kept filters and displaces them at the next L2 re-scoring; ``criterion="bn_scale"``
keeps the pruned set stable (docs/notes/core_pruning.md).

Budget schedules (``schedule``): ``"constant"`` prunes to the full target at the first epoch end (SFP/HFP
as published); ``"asymptotic"`` follows ASFP (He et al. 2019): the removed share grows as
``P_t = P (1 - exp(-k t)) / (1 - exp(-k T))`` with ``k`` such that ``P_{T/4} = 3/4 P``. Here ``P`` is the
share of FLOPs removed (our budgets are FLOPs, not per-layer filter rates).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn

from core_pruning.criteria import Criterion, ScoringContext, get_criterion
from core_pruning.training.base import TrainingPruner
from core_pruning.training.masks import ChannelSlice
from core_pruning.training.selection import select_uniform
from prunelab.errors import InputError

SCHEDULES = ("constant", "asymptotic")


def _asfp_u() -> float:
    """``u = exp(-k T / 4)`` such that ``P_{T/4} = 3/4 P``: the root of ``(1 + u)(1 + u^2) = 4/3`` in (0, 1)."""
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if (1 + mid) * (1 + mid * mid) < 4 / 3 else (lo, mid)
    return (lo + hi) / 2


_ASFP_U = _asfp_u()


def asymptotic_share(epoch: int, epochs: int) -> float:
    """ASFP's share of the final pruning done after ``epoch`` of ``epochs`` (0 at the start, 1 at the end)."""
    if epochs <= 0:
        return 1.0
    t = min(max(epoch / epochs, 0.0), 1.0)
    return (1.0 - _ASFP_U ** (4 * t)) / (1.0 - _ASFP_U ** 4)


class FilterPruning(TrainingPruner):
    """Epoch-wise re-scored filter pruning with update hardness (see module docstring).

    Subclasses define :meth:`hardness`. ``criterion``: an engine criterion name (``"l2"``, ``"l1"``,
    ``"fpgm"``, ...) scoring filters on the current weights.
    """

    name = "filter"

    def __init__(self, model: nn.Module, example_inputs: Any, target_flops: float = 0.5, *,
                 criterion: str | Criterion = "l2", schedule: str = "constant",
                 ignored_layers: Iterable[nn.Module | str] | None = None, min_channels: int = 1,
                 tolerance: float = 0.02, unwrapped_parameters: Mapping[str, int] | None = None) -> None:
        super().__init__(model, example_inputs, target_flops, ignored_layers=ignored_layers,
                         min_channels=min_channels, tolerance=tolerance,
                         unwrapped_parameters=unwrapped_parameters)
        if schedule not in SCHEDULES:
            raise InputError(f"unknown pruning schedule {schedule!r}; choose from {', '.join(SCHEDULES)}")
        self.criterion = get_criterion(criterion, example_inputs=example_inputs) if isinstance(criterion, str) \
            else criterion
        if self.criterion.needs_data:
            raise InputError(f"criterion {self.criterion.name!r} needs data; filter pruning re-scores weights only")
        self.schedule = schedule
        self.pinned = [torch.zeros(g.size, dtype=torch.bool) for g in self.masks.groups]  # h = 1 channels
        self._before: list[tuple[int, ChannelSlice, torch.Tensor]] = []
        self._keep_update: dict[int, torch.Tensor] = {}

    def options(self) -> dict[str, Any]:
        return {**super().options(), "criterion": self.criterion.name, "schedule": self.schedule}

    # -- the hardness ---------------------------------------------------------------------------------
    def hardness(self, progress: float) -> float:
        """``h`` in [0, 1] at ``progress`` (fraction of training done)."""
        raise NotImplementedError

    def channel_hardness(self, gi: int, progress: float) -> torch.Tensor:
        """Hardness of each root channel of group ``gi``: ``h`` on the pruned ones, 0 on the kept ones."""
        h = torch.full((self.masks.groups[gi].size,), float(self.hardness(progress)), dtype=torch.float64)
        h[self.pinned[gi]] = 1.0
        return torch.where(self.masks.keep[gi], torch.zeros_like(h), h)

    def on_after_backward(self, trainer: Any) -> None:
        """Remember the pruned channels' parameters and this step's hardness, before the optimiser moves them."""
        self._before, self._keep_update = [], {}
        progress = self.progress(trainer)
        for gi in range(len(self.masks.groups)):
            hard = self.channel_hardness(gi, progress)
            if not bool(hard.gt(0).any()):
                continue
            self._keep_update[gi] = 1.0 - hard
            self._before += [(gi, s, s.view().clone()) for s in self.masks.filter_slices(gi, scale=True)]

    @torch.no_grad()
    def on_step_end(self, trainer: Any, batch: Any) -> None:
        """Scale the step's update of every pruned parameter by ``1 - h``."""
        for gi, s, before in self._before:
            shape = [1] * before.dim()
            shape[s.dim] = -1
            f = self._keep_update[gi].to(before.device, before.dtype)[s.root.to(before.device)].view(shape)
            s.write(before + f * (s.view() - before))
        self._before, self._keep_update = [], {}

    # -- the epoch-end re-scoring -----------------------------------------------------------------------
    def keep_fraction(self, epoch: int, epochs: int) -> float:
        """FLOPs budget after ``epoch`` (1-based) epochs of ``epochs``."""
        share = 1.0 if self.schedule == "constant" else asymptotic_share(epoch, epochs)
        return 1.0 - (1.0 - self.target_flops) * share

    def scores(self) -> list[torch.Tensor]:
        ctx = ScoringContext(model=self.model, example_inputs=self.example_inputs, shapes=self.masks.shapes)
        self.criterion.prepare(ctx)
        scores = [self.criterion.score(g, ctx).double().cpu() for g in self.masks.groups]
        return [s.masked_fill(p, -math.inf) for s, p in zip(scores, self.pinned)]

    def on_train_epoch_end(self, trainer: Any) -> None:
        epoch, epochs = trainer.epoch + 1, trainer.config.epochs
        scores = self.scores()
        self.masks.keep = select_uniform(self.masks, scores, self.keep_fraction(epoch, epochs))
        self.update_pinned(scores, self.progress(trainer))
        self.masks.zero_()

    def update_pinned(self, scores: list[torch.Tensor], progress: float) -> None:
        """Pin (keep pruned for good) the channels that have become fully hard."""
        if self.hardness(progress) >= 1.0:
            self.pinned = [p | ~k for p, k in zip(self.pinned, self.masks.keep)]

    def on_epoch_end(self, trainer: Any, metrics: dict[str, float]) -> None:
        super().on_epoch_end(trainer, metrics)
        metrics["hardness"] = float(self.hardness(self.progress(trainer)))

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "pinned": [p.clone() for p in self.pinned]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.pinned = [p.clone().bool() for p in state["pinned"]]
