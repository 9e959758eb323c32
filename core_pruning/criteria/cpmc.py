"""CPMC: channel pruning via multi-criteria based on weight dependency (Yan et al., 2021).

What: a channel's score combines (a) its weight value *with weight dependency* -- removing feature map ``i``
removes its filter and the slice of every next-layer kernel that reads it, so both count -- with (b) the MACs
``F_i`` and (c) the parameters ``P_i`` that disappear with it; all channels of the network are ranked in one list.

Paper reading: the paper's "global normalization to achieve cross-layer comparison" is the framework of COP
(Wang et al., IJCAI 2019), whose public code defines it; we implement COP's additive form with CPMC's
weight-dependency value in place of COP's correlation term, and the greedy-knapsack ratio form beside it
(see :class:`CPMC`). ``cost="latency"`` (our extension) replaces ``F`` by measured time. Measurements behind the
defaults: ``docs/notes/core_pruning.md``.
"""

from __future__ import annotations

from typing import Any

import torch

from core_pruning import _tp_compat as tpc
from core_pruning.criteria.base import Criterion, ScoringContext, normalize
from core_pruning.criteria.magnitude import L1, L2
from core_pruning.groups import ChannelGroup, collect_groups, output_layers
from core_pruning.latency import LatencyModel, LayerTimer

COMBINE_RULES = ("additive", "ratio", "sum")
COSTS = ("flops", "latency")
GROUP_NORMALIZATIONS = ("mean", "max", "none")
_EPS = 1e-12


class CPMC(Criterion):
    """The CPMC criterion; also a Torch-Pruning ``Importance``.

    Weight value ``M_i``: the Lp norm (``p``) of every block of weights that disappears with channel ``i`` (its
    filter in each coupled output layer and, with ``dependency``, its input slice in each consumer), each
    normalised within its layer (``normalization``, default ``layer_mean``: BatchNorm makes absolute weight scales
    incomparable between layers) and summed; ``dependency=False`` gives exactly the ``l1``/``l2`` criterion.
    ``combine`` -- with ``F~ = F / mean F`` and ``P~ = P / mean P`` over the network's prunable channels:

    - ``"ratio"`` (default): ``M / (F~ ** flops_weight * P~ ** params_weight)``, weight kept per unit of cost;
    - ``"additive"`` (COP): ``M^ + flops_weight * (1 - F^) + params_weight * (1 - P^)`` with ``M^`` the value
      divided by its group's mean (``group_normalization``: ``mean``, ``max`` as in COP's code, ``none``) and
      ``F^ = log2 F / max log2 F`` (``P^`` likewise), so a cost ratio shifts the score by a bounded amount;
    - ``"sum"``: ``M - flops_weight * F~ - params_weight * P~``.

    ``cost``: ``"flops"`` (the paper's) or ``"latency"`` (:class:`~core_pruning.latency.LatencyModel` at
    ``latency_batch_size``, finite differences over ``latency_block`` channels, ``latency_timer`` injectable).
    ``example_inputs`` is needed when used as a Torch-Pruning importance (to measure costs).
    """

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
        group_normalization: str | None = None,
        cost: str = "flops",
        latency_batch_size: int | None = None,
        latency_block: int = 16,
        latency_timer: LayerTimer | None = None,
    ) -> None:
        super().__init__(example_inputs, normalization)
        if cost not in COSTS:
            raise ValueError(f"unknown cost {cost!r}; choose from {', '.join(COSTS)}")
        if latency_block < 1 or (latency_batch_size is not None and latency_batch_size < 1):
            raise ValueError("latency_block and latency_batch_size must be >= 1")
        if combine not in COMBINE_RULES:
            raise ValueError(f"unknown combine rule {combine!r}; choose from {', '.join(COMBINE_RULES)}")
        group_normalization = group_normalization or ("mean" if combine == "additive" else "none")
        if group_normalization not in GROUP_NORMALIZATIONS:
            raise ValueError(f"unknown group_normalization {group_normalization!r}; "
                             f"choose from {', '.join(GROUP_NORMALIZATIONS)}")
        if p not in (1, 2):
            raise ValueError(f"p must be 1 or 2, got {p}")
        if flops_weight < 0 or params_weight < 0:
            raise ValueError("flops_weight and params_weight must be >= 0")
        self.p, self.dependency, self.combine = p, dependency, combine
        self.group_normalization = group_normalization
        self.flops_weight, self.params_weight = float(flops_weight), float(params_weight)
        self.cost, self.latency_block = cost, int(latency_block)
        self.latency_batch_size, self.latency_timer = latency_batch_size, latency_timer
        self._latency: LatencyModel | None = None
        self._latency_of: torch.nn.Module | None = None
        self._latency_floor = 0.0
        self._network: _NetworkStatistics | None = None
        self._global_magnitudes: dict[Any, torch.Tensor] = {}

    def _per_layer(self, values: torch.Tensor) -> torch.Tensor:
        """``layer_*`` normalisations act on each block (one layer's values); ``none``/``global_*`` leave it."""
        return normalize([values], self.normalization)[0] if self.normalization.startswith("layer_") else values

    def magnitude(self, group: ChannelGroup) -> torch.Tensor:
        """Weight value ``M`` of each root channel, before any ``global_*`` normalisation (see module docstring)."""
        if not self.dependency:  # the filter norm over the coupled output layers: exactly the l1 / l2 criterion
            filter_norm = L1() if self.p == 1 else L2()
            return self._per_layer(filter_norm.score(group, None).double())  # type: ignore[arg-type]
        blocks = [(m, group.filter_weights(m)) for m in group.outputs]
        blocks += [(m, group.input_slices(m)) for m in group.inputs]
        total = torch.zeros(group.size, dtype=torch.float64)
        for member, weights in blocks:
            norms = weights.abs().sum(1) if self.p == 1 else weights.pow(2).sum(1).sqrt()
            total += member.scatter(self._per_layer(norms.double()), group.size)
        return total

    def _group_normalized(self, m: torch.Tensor) -> torch.Tensor:
        if self.group_normalization == "mean":
            return m / (m.abs().mean() + _EPS)
        if self.group_normalization == "max":
            return m / (m.abs().max() + _EPS)
        return m

    def _magnitudes(self, groups: list[ChannelGroup]) -> list[torch.Tensor]:
        magnitudes = [self.magnitude(g) for g in groups]
        if self.normalization.startswith("global_"):
            magnitudes = normalize(magnitudes, self.normalization)
        return [self._group_normalized(m) for m in magnitudes]

    def score_all(self, groups: list[ChannelGroup], ctx: ScoringContext) -> list[torch.Tensor]:
        """Scores of all groups, normalised globally and combined (see module docstring)."""
        costs = self._costs(groups, ctx)
        network = _NetworkStatistics.of(costs)
        return [self._combine(m, f, p, network) for m, (f, p) in zip(self._magnitudes(groups), costs)]

    def _costs(self, groups: list[ChannelGroup], ctx: ScoringContext) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``(compute cost, params)`` per channel of each group; compute is FLOPs or measured nanoseconds.

        With ``cost="latency"`` a channel whose measured saving is zero or negative (inside a vector block,
        or timing noise) gets 1/1000 of the network's mean saving: ranked by the ratio rule it goes last.
        """
        shapes = ctx.layer_shapes()
        costs = [g.channel_costs(shapes) for g in groups]
        if self.cost == "flops":
            return costs
        latency = self._latency_costs(groups, ctx)
        every = torch.cat(latency) if latency else torch.zeros(0)
        positive = every[every > 0]
        self._latency_floor = 1e-3 * (positive.mean().item() if positive.numel() else 1.0)
        return [(t.clamp(min=self._latency_floor), p) for t, (_, p) in zip(latency, costs)]

    def _latency_costs(self, groups: list[ChannelGroup], ctx: ScoringContext) -> list[torch.Tensor]:
        """Measured nanoseconds each channel saves (``core_pruning.latency``); one cost model per model."""
        if self._latency is None or self._latency_of is not ctx.model:
            self._latency = LatencyModel(ctx.model, ctx.example_inputs, self.latency_batch_size, self.latency_timer)
            self._latency_of = ctx.model
        return [1e9 * self._latency.channel_costs(g, self.latency_block) for g in groups]

    def _combine(self, m: torch.Tensor, f: torch.Tensor, p: torch.Tensor, network: _NetworkStatistics) -> torch.Tensor:
        if self.combine == "additive":
            f_hat = _log2(f) / network.max_log_flops
            p_hat = _log2(p) / network.max_log_params
            return m + self.flops_weight * (1 - f_hat) + self.params_weight * (1 - p_hat)
        f_rel, p_rel = f / network.mean_flops, p / network.mean_params
        if self.combine == "ratio":
            return m / ((f_rel + _EPS) ** self.flops_weight * (p_rel + _EPS) ** self.params_weight)
        return m - self.flops_weight * f_rel - self.params_weight * p_rel

    def score(self, group: ChannelGroup, ctx: ScoringContext) -> torch.Tensor:
        """Score one group (Torch-Pruning adapter): network-wide statistics come from all groups of the model.

        "All groups" are the ones the engine would rank: the layers whose output the model returns (the
        classifier) are left out, as :func:`core_pruning.prune` leaves them out by default; the ratio rule's
        mean costs would otherwise include the classifier's channels.
        """
        if self._network is None:
            groups = collect_groups(tpc.graph_of(group.tp_group), ignored=output_layers(ctx.model, ctx.example_inputs))
            self._network = _NetworkStatistics.of(self._costs(groups, ctx))
            self._global_magnitudes = dict(zip([g.root for g in groups], self._magnitudes(groups)))
        f, p = group.channel_costs(ctx.layer_shapes())
        if self.cost == "latency":  # floored with the network-wide floor set when the statistics were taken
            f = self._latency_costs([group], ctx)[0].clamp(min=self._latency_floor)
        m = self._global_magnitudes.get(group.root) if self.normalization.startswith("global_") else None
        m = self._group_normalized(self.magnitude(group)) if m is None else m
        return self._combine(m, f, p, self._network)

    def __call__(self, group, **kwargs: Any) -> torch.Tensor:
        # Already normalised and combined: return the score without a second normalisation.
        dg = tpc.graph_of(group)
        if self._ctx is None or self._ctx.model is not dg.model:
            if self.example_inputs is None:
                raise RuntimeError("CPMC as a Torch-Pruning importance needs example_inputs=... to measure costs")
            self._ctx = ScoringContext(model=dg.model, example_inputs=self.example_inputs)
            self._network = None
        return self.score(ChannelGroup.from_tp_group(group, tpc.module_names(dg)), self._ctx).float()


def _log2(cost: torch.Tensor) -> torch.Tensor:
    """``log2`` of a cost, floored at 2 elements so that a free channel scores a finite, positive cost."""
    return cost.double().clamp(min=2.0).log2()


class _NetworkStatistics:
    """Cost statistics over every prunable channel of the network: what makes costs dimensionless."""

    def __init__(self, mean_flops: float, mean_params: float, max_log_flops: float, max_log_params: float) -> None:
        self.mean_flops, self.mean_params = max(mean_flops, _EPS), max(mean_params, _EPS)
        self.max_log_flops, self.max_log_params = max_log_flops, max_log_params

    @classmethod
    def of(cls, costs: list[tuple[torch.Tensor, torch.Tensor]]) -> _NetworkStatistics:
        if not costs:
            return cls(1.0, 1.0, 1.0, 1.0)
        flops = torch.cat([f for f, _ in costs])
        params = torch.cat([p for _, p in costs])
        return cls(flops.mean().item(), params.mean().item(), _log2(flops).max().item(), _log2(params).max().item())


__all__ = ["CPMC", "COMBINE_RULES", "COSTS", "GROUP_NORMALIZATIONS"]
