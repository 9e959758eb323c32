"""Choosing which channels to mask so the masked network meets a FLOPs budget.

Two rules, both measured with the exact masked FLOPs of :class:`~core_pruning.training.masks.ChannelMasks`:

- :func:`select_uniform` (SFP, HFP, GHFP): the same pruning *rate* in every group, the lowest-scored
  channels of each group going first, as in the soft-filter-pruning papers. The rate is found by bisection
  so the budget is met, then single channels are given back (to the most-pruned groups first) while the
  budget still holds, so the achieved FLOPs land just under the target instead of a whole rate step below.
- :func:`select_global` (CAC, DAIS): one network-wide ranking, the engine's own selector
  (:func:`core_pruning.selection.select_global` and its tolerance rule) with exact masked FLOPs.

Both respect the per-group floor of :class:`ChannelMasks` (never fewer than ``min_channels``).
"""

from __future__ import annotations

import torch

from core_pruning.errors import UnreachableTarget
from core_pruning.selection import select_global as core_select_global
from core_pruning.training.masks import ChannelMasks


def _keep_lowest_removed(order: list[torch.Tensor], removed_counts: list[int]) -> list[torch.Tensor]:
    keep = []
    for o, r in zip(order, removed_counts):
        k = torch.ones(len(o), dtype=torch.bool)
        k[o[:r]] = False
        keep.append(k)
    return keep


def select_uniform(masks: ChannelMasks, scores: list[torch.Tensor], keep_fraction: float) -> list[torch.Tensor]:
    """Keep masks with one pruning rate for all groups (lowest scores removed) meeting ``keep_fraction``."""
    if keep_fraction >= 1.0:
        return [torch.ones(g.size, dtype=torch.bool) for g in masks.groups]
    order = [torch.argsort(s.double(), stable=True) for s in scores]
    sizes = [g.size for g in masks.groups]
    room = [n - masks.floor(gi) for gi, n in enumerate(sizes)]
    budget = keep_fraction * masks.base_flops

    def counts(rate: float) -> list[int]:
        return [min(r, int(rate * n)) for n, r in zip(sizes, room)]

    def flops(removed: list[int]) -> float:
        return float(masks.flops(_keep_lowest_removed(order, removed)))

    if flops(room) > budget:
        raise UnreachableTarget(f"cannot reach {keep_fraction:.1%} of the FLOPs: the per-group floors stop at "
                         f"{flops(room) / masks.base_flops:.1%}")
    lo, hi = 0.0, 1.0
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if flops(counts(mid)) <= budget else (mid, hi)
    removed = counts(hi)
    changed = True
    while changed:  # give channels back, most-pruned group first, while the budget holds
        changed = False
        for gi in sorted(range(len(sizes)), key=lambda i: -removed[i] / sizes[i]):
            if removed[gi] == 0:
                continue
            removed[gi] -= 1
            if flops(removed) <= budget:
                changed = True
                break
            removed[gi] += 1
    return _keep_lowest_removed(order, removed)


class _MaskedSavings:
    """Exact FLOPs saved by masking channels of ``keep`` (edited in place when a channel is taken)."""

    def __init__(self, masks: ChannelMasks, keep: list[torch.Tensor]) -> None:
        self.masks, self.keep = masks, keep
        self.start = self.current = float(masks.flops(keep))
        self._last: tuple[int, int, float] | None = None

    def total_with(self, gi: int, ch: int) -> float:
        self.keep[gi][ch] = False
        after = float(self.masks.flops(self.keep))
        self.keep[gi][ch] = True
        self._last = (gi, ch, after)
        return self.start - after

    def take(self, gi: int, ch: int) -> None:
        after = self._last[2] if self._last and self._last[:2] == (gi, ch) else None
        self.keep[gi][ch] = False
        self.current = float(self.masks.flops(self.keep)) if after is None else after


def select_global(masks: ChannelMasks, scores: list[torch.Tensor], keep_fraction: float,
                  tolerance: float = 0.02) -> list[torch.Tensor]:
    """Starting from the current masks, mask the lowest-scored kept channels until ``keep_fraction`` is met.

    :func:`core_pruning.selection.select_global` with exact masked FLOPs: the budget lands in
    ``[keep_fraction - tolerance, keep_fraction]`` of the base FLOPs unless no single channel fits that window.
    """
    keep = [k.clone() for k in masks.keep]
    budget = keep_fraction * masks.base_flops
    floor_flops = (keep_fraction - tolerance) * masks.base_flops
    flat = torch.cat([s.double().cpu() for s in scores])
    owner = torch.cat([torch.full((g.size,), gi) for gi, g in enumerate(masks.groups)])
    channel = torch.cat([torch.arange(g.size) for g in masks.groups])
    order = [(int(owner[pos]), int(channel[pos])) for pos in torch.argsort(flat, stable=True).tolist()]
    current = float(masks.flops(keep))
    while current > budget:
        savings = _MaskedSavings(masks, keep)
        room = [int(k.sum()) - masks.floor(gi) for gi, k in enumerate(keep)]
        ranked = ((gi, ch) for gi, ch in order if keep[gi][ch])
        if not core_select_global(ranked, room, savings, need=current - budget, limit=current - floor_flops):
            raise UnreachableTarget(f"cannot reach {keep_fraction:.1%} of the FLOPs within the per-group floors "
                                    f"(stopped at {current / masks.base_flops:.1%})")
        current = savings.current
    return keep
