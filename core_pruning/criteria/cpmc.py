"""CPMC: channel pruning via multi-criteria based on weight dependency (Yan et al., 2021).

The paper scores a channel (an output feature map) by three criteria and ranks all channels of the
network in one global list:

(a) **weight value with weight dependency** — removing feature map ``i`` removes its filter AND the
    slice of every next-layer kernel that reads ``i``; both are "weights that disappear", so both are
    evaluated. Here: ``M_i = ||filter_i||_p^p`` (mean over coupled output layers) ``+ sum over consumers of
    ||slice_i||_p^p`` (``dependency=False`` keeps only the filter term);
(b) **computational cost** ``F_i``: the MACs that disappear with channel ``i`` (filter and consumer slices);
(c) **parameter quantity** ``P_i``: the parameters that disappear with it (incl. BatchNorm).

Global normalisation (our reading of "cross-layer comparison"): each criterion is brought to a
dimensionless scale before combining. ``M`` is normalised with ``normalization`` (default: divide by
its layer's mean, because BatchNorm makes absolute weight scales incomparable between layers), the
costs by their network-wide mean (``F / mean(F)``). Channels with little weight and high cost should
go first, so the combination is explicit and configurable:

- ``combine="ratio"`` (default): ``score = M^ / (F^ ** flops_weight * P^ ** params_weight)`` — weight
  kept per unit of cost, the greedy rule for a knapsack-style budget;
- ``combine="sum"``: ``score = M^ - flops_weight * F^ - params_weight * P^``.

With ``flops_weight = params_weight = 0`` and ``dependency=False`` CPMC ranks exactly like the
normalised filter norm (``l1`` for ``p=1``).
"""

from __future__ import annotations

from typing import Any

import torch

from core_pruning.criteria.base import Criterion, ScoringContext, normalize
from core_pruning.criteria.magnitude import FilterNorm
from core_pruning.groups import ChannelGroup, collect_groups

COMBINE_RULES = ("ratio", "sum")


class CPMC(Criterion):
    name = "cpmc"

    def __init__(
        self,
        example_inputs: Any = None,
        normalization: str | None = None,
        p: int = 1,
        dependency: bool = True,
        flops_weight: float = 0.5,
        params_weight: float = 0.5,
        combine: str = "ratio",
    ) -> None:
        super().__init__(example_inputs, normalization)
        if combine not in COMBINE_RULES:
            raise ValueError(f"unknown combine rule {combine!r}; choose from {', '.join(COMBINE_RULES)}")
        if p not in (1, 2):
            raise ValueError(f"p must be 1 or 2, got {p}")
        if flops_weight < 0 or params_weight < 0:
            raise ValueError("flops_weight and params_weight must be >= 0")
        self.p, self.dependency, self.combine = p, dependency, combine
        self.flops_weight, self.params_weight = float(flops_weight), float(params_weight)
        self._global_costs: tuple[float, float] | None = None

    def magnitude(self, group: ChannelGroup) -> torch.Tensor:
        norm = FilterNorm(dependency=self.dependency)
        norm.p = self.p
        w = norm.score(group, None)  # type: ignore[arg-type]
        return w if self.p == 1 else w.pow(2)  # p=2: squared L2, additive over filter and slices

    def score_all(self, groups: list[ChannelGroup], ctx: ScoringContext) -> list[torch.Tensor]:
        """Scores of all groups, normalised globally and combined (see module docstring)."""
        magnitudes = normalize([self.magnitude(g) for g in groups], self.normalization)
        shapes = ctx.layer_shapes()
        costs = [g.channel_costs(shapes) for g in groups]
        mean_f = torch.cat([f for f, _ in costs]).mean().item() if costs else 1.0
        mean_p = torch.cat([p for _, p in costs]).mean().item() if costs else 1.0
        return [self._combine(m, f / max(mean_f, 1e-12), p / max(mean_p, 1e-12))
                for m, (f, p) in zip(magnitudes, costs)]

    def _combine(self, m: torch.Tensor, f: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        if self.combine == "ratio":
            eps = 1e-12
            return m / ((f + eps) ** self.flops_weight * (p + eps) ** self.params_weight)
        return m - self.flops_weight * f - self.params_weight * p

    def score(self, group: ChannelGroup, ctx: ScoringContext) -> torch.Tensor:
        """Score one group (Torch-Pruning adapter): global cost means come from all groups of the model."""
        if self._global_costs is None:
            dg = group.tp_group._DG
            groups = collect_groups(dg, ignored=[])
            shapes = ctx.layer_shapes()
            costs = [g.channel_costs(shapes) for g in groups]
            self._global_costs = (torch.cat([f for f, _ in costs]).mean().item(),
                                  torch.cat([p for _, p in costs]).mean().item())
        mean_f, mean_p = self._global_costs
        f, p = group.channel_costs(ctx.layer_shapes())
        m = normalize([self.magnitude(group)], self.normalization)[0]
        return self._combine(m, f / max(mean_f, 1e-12), p / max(mean_p, 1e-12))

    def __call__(self, group, **kwargs: Any) -> torch.Tensor:
        # Already normalised and combined: return the score without a second normalisation.
        dg = group._DG
        if self._ctx is None or self._ctx.model is not dg.model:
            if self.example_inputs is None:
                raise RuntimeError("CPMC as a Torch-Pruning importance needs example_inputs=... to measure costs")
            self._ctx = ScoringContext(model=dg.model, example_inputs=self.example_inputs)
            self._global_costs = None
        return self.score(ChannelGroup.from_tp_group(group, dg._module2name), self._ctx).float()
