"""Weight-only criteria: filter norms (L1, L2), BatchNorm scale, FPGM and random.

For groups with several coupled output layers (a residual stage) a channel's score is the mean over
those layers, so groups of different sizes stay comparable.
"""

from __future__ import annotations

from typing import Any

import torch

from core_pruning.criteria.base import Criterion, ScoringContext
from core_pruning.groups import ChannelGroup


def _mean_over_outputs(group: ChannelGroup, per_member) -> torch.Tensor:
    total = torch.zeros(group.size, dtype=torch.float64)
    count = torch.zeros(group.size, dtype=torch.float64)
    for member in group.outputs:
        total += member.scatter(per_member(member), group.size)
        count += member.scatter(torch.ones(len(member.idxs)), group.size)
    return total / count.clamp(min=1)


class FilterNorm(Criterion):
    """Lp norm of each channel's filter (Li et al. 2017, "Pruning Filters for Efficient ConvNets").

    ``l1`` is the sum of absolute weights of the filter, ``l2`` its Euclidean norm. With
    ``dependency=True`` the consumer input slices are added (CPMC's weight dependency without costs).
    """

    p: int = 1

    def __init__(self, example_inputs: Any = None, normalization: str | None = None, dependency: bool = False) -> None:
        super().__init__(example_inputs, normalization)
        self.dependency = dependency

    def _norm(self, w: torch.Tensor) -> torch.Tensor:
        return w.abs().sum(1) if self.p == 1 else w.pow(2).sum(1).sqrt()

    def score(self, group: ChannelGroup, ctx: ScoringContext) -> torch.Tensor:
        scores = _mean_over_outputs(group, lambda m: self._norm(group.filter_weights(m)))
        if self.dependency:
            for member in group.inputs:
                scores += member.scatter(self._norm(group.input_slices(member)), group.size)
        return scores


class L1(FilterNorm):
    name = "l1"
    p = 1


class L2(FilterNorm):
    name = "l2"
    p = 2


class BNScale(Criterion):
    """|gamma| of the BatchNorm layers of the group (Liu et al. 2017, "Network Slimming").

    Groups without an affine BatchNorm fall back to the filter L2 norm so that every layer gets a score.
    """

    name = "bn_scale"

    def score(self, group: ChannelGroup, ctx: ScoringContext) -> torch.Tensor:
        norms = [m for m in group.norms if getattr(m.module, "affine", False)]
        if not norms:
            return L2().score(group, ctx)
        total = torch.zeros(group.size, dtype=torch.float64)
        count = torch.zeros(group.size, dtype=torch.float64)
        for member in norms:
            total += member.scatter(member.module.weight.detach()[member.idxs].abs(), group.size)
            count += member.scatter(torch.ones(len(member.idxs)), group.size)
        return total / count.clamp(min=1)


class FPGM(Criterion):
    """Filter pruning via geometric median (He et al. 2019).

    A channel's score is the sum of Euclidean distances from its filter to all other filters of the
    layer: filters near the geometric median are replaceable by the others and go first.
    """

    name = "fpgm"

    def score(self, group: ChannelGroup, ctx: ScoringContext) -> torch.Tensor:
        def distances(member):
            w = group.filter_weights(member).double()
            return torch.cdist(w[None], w[None])[0].sum(1)

        return _mean_over_outputs(group, distances)


class RandomScore(Criterion):
    """Uniform random scores from a seeded generator: the baseline every criterion must beat."""

    name = "random"
    default_normalization = "none"

    def __init__(self, example_inputs: Any = None, normalization: str | None = None, seed: int = 0) -> None:
        super().__init__(example_inputs, normalization)
        self.generator = torch.Generator().manual_seed(seed)

    def score(self, group: ChannelGroup, ctx: ScoringContext) -> torch.Tensor:
        return torch.rand(group.size, generator=self.generator, dtype=torch.float64)
