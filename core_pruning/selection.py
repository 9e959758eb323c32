"""The one global channel selector: ``prune``'s budget steps and the training-time methods (CAC, DAIS) both use it.

**The tolerance rule** (the only one): units -- channels, structured units (a channel of every conv group or
head) or rounding blocks -- are taken network-wide from the lowest score up until their saving reaches ``need``.
A unit that would take the total saving past ``limit`` (the saving that lands the budget ``tolerance`` below its
target) is passed over for the next one that fits, so a coarse unit cannot overshoot the tolerance. When no unit
fits at all (a tiny network, a large head), the unit that goes past ``limit`` least is taken: the target is then
met with the smallest overshoot. With ``in_order`` (rounding blocks) a passed-over unit also passes over the later
units of its group, which could not be removed without it.

How a saving is measured is the caller's: :class:`AdditiveSavings` sums per-unit first-order costs (the engine,
which re-measures after each step); the training methods evaluate the exact masked FLOPs of each candidate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Protocol


class Savings(Protocol):
    """What taking units saves, accumulated over the units taken so far."""

    def total_with(self, group: int, unit: Hashable) -> float:
        """Total saving if ``unit`` of ``group`` were taken too (nothing is changed)."""

    def take(self, group: int, unit: Hashable) -> None:
        """Take ``unit`` of ``group``."""


class AdditiveSavings:
    """Savings as the sum of independent per-unit costs (``cost(group, unit)``)."""

    def __init__(self, cost: Callable[[int, Hashable], float]) -> None:
        self.cost = cost
        self.total = 0.0

    def total_with(self, group: int, unit: Hashable) -> float:
        return self.total + self.cost(group, unit)

    def take(self, group: int, unit: Hashable) -> None:
        self.total += self.cost(group, unit)


def select_global(ranked: Iterable[tuple[int, Hashable]], room: Sequence[float], savings: Savings, need: float,
                  limit: float = math.inf, in_order: bool = False) -> dict[int, list[Hashable]]:
    """Units to take, per group, under the tolerance rule of the module docstring.

    ``ranked``: ``(group, unit)`` pairs, lowest score first; ``room[group]``: how many units that group may still
    lose (its floor); ``need``: the saving to reach; ``limit``: the most the selection may save; ``in_order``: a
    group's units must go in the order ranked (a passed-over one stops its group). Empty when no group has room.
    """
    room = list(room)
    chosen: dict[int, list[Hashable]] = {}
    closed: set[int] = set()
    least_over: tuple[float, int, Hashable] | None = None  # while nothing fits: the unit past ``limit`` least
    for group, unit in ranked:
        if room[group] <= 0 or group in closed:
            continue
        total = savings.total_with(group, unit)
        if total > limit:
            if not chosen and (least_over is None or total < least_over[0]):
                least_over = (total, group, unit)
            if in_order:
                closed.add(group)
            continue
        savings.take(group, unit)
        chosen.setdefault(group, []).append(unit)
        room[group] -= 1
        if total >= need:
            break
    if not chosen and least_over is not None:
        _, group, unit = least_over
        savings.take(group, unit)
        chosen[group] = [unit]
    return chosen
