"""Choosing which channels to mask so the masked network meets a FLOPs budget.

Two rules, both measured with the exact masked FLOPs of :class:`~core_pruning.training.masks.ChannelMasks`:

- :func:`select_uniform` (SFP, HFP, GHFP): the same pruning *rate* in every group, the lowest-scored
  channels of each group going first, as in the soft-filter-pruning papers. The rate is found by bisection
  so the budget is met, then single channels are given back (to the most-pruned groups first) while the
  budget still holds, so the achieved FLOPs land just under the target instead of a whole rate step below.
- :func:`select_global` (CAC, DAIS): one network-wide ranking; channels are masked from the lowest score up
  until the budget is met. A channel whose removal would undershoot ``keep_fraction - tolerance`` is
  skipped for a cheaper one, so coarse groups cannot overshoot the tolerance (when no remaining channel
  fits that window at all, e.g. in a tiny network, the one undershooting least is taken).

Both respect the per-group floor of :class:`ChannelMasks` (never fewer than ``min_channels``).
"""

from __future__ import annotations

import torch

from core_pruning.errors import UnreachableTarget
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


def select_global(masks: ChannelMasks, scores: list[torch.Tensor], keep_fraction: float,
                  tolerance: float = 0.02) -> list[torch.Tensor]:
    """Starting from the current masks, mask the lowest-scored kept channels until ``keep_fraction`` is met."""
    keep = [k.clone() for k in masks.keep]
    budget = keep_fraction * masks.base_flops
    floor_flops = (keep_fraction - tolerance) * masks.base_flops
    current = float(masks.flops(keep))
    if current <= budget:
        return keep
    flat = torch.cat([s.double().cpu() for s in scores])
    owner = torch.cat([torch.full((g.size,), gi) for gi, g in enumerate(masks.groups)])
    channel = torch.cat([torch.arange(g.size) for g in masks.groups])
    left = [int(k.sum()) - masks.floor(gi) for gi, k in enumerate(keep)]
    overshoot: tuple[float, int, int] | None = None  # the skipped removal that undershoots least
    for pos in torch.argsort(flat, stable=True).tolist():
        gi, ch = int(owner[pos]), int(channel[pos])
        if not keep[gi][ch] or left[gi] <= 0:
            continue
        keep[gi][ch] = False
        after = float(masks.flops(keep))
        if after < floor_flops:  # this channel is too expensive to fit: try cheaper ones
            keep[gi][ch] = True
            if overshoot is None or after > overshoot[0]:
                overshoot = (after, gi, ch)
            continue
        left[gi] -= 1
        current = after
        if current <= budget:
            return keep
    if overshoot is not None:  # no channel fits the tolerance window: meet the budget with the least undershoot
        keep[overshoot[1]][overshoot[2]] = False
        return keep
    raise UnreachableTarget(f"cannot reach {keep_fraction:.1%} of the FLOPs within the per-group floors "
                     f"(stopped at {current / masks.base_flops:.1%})")
