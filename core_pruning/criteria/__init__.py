"""Registry of channel-importance criteria (each one also a Torch-Pruning ``Importance``)."""

from __future__ import annotations

import inspect
from typing import Any

from core_pruning.criteria.base import NORMALIZATIONS, Criterion, ScoringContext, normalize
from core_pruning.criteria.cpmc import CPMC
from core_pruning.criteria.magnitude import FPGM, L1, L2, BNScale, RandomScore
from core_pruning.criteria.taylor import Taylor
from core_pruning.criteria.zero import ZeroActivation
from prunelab.errors import InputError

CRITERIA: dict[str, type[Criterion]] = {
    cls.name: cls for cls in (L1, L2, FPGM, BNScale, Taylor, RandomScore, ZeroActivation, CPMC)
}


def get_criterion(name: str, **options: Any) -> Criterion:
    """Instantiate criterion ``name`` with its options; unknown names or options raise :class:`InputError`."""
    if isinstance(name, Criterion):
        return name
    cls = CRITERIA.get(name)
    if cls is None:
        raise InputError(f"unknown criterion {name!r}; choose from {', '.join(sorted(CRITERIA))}")
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise InputError(f"criterion {name!r} has no option {unknown[0]!r}; options: {', '.join(sorted(accepted))}")
    try:
        return cls(**options)
    except ValueError as exc:
        raise InputError(str(exc)) from exc


__all__ = ["CRITERIA", "NORMALIZATIONS", "Criterion", "ScoringContext", "get_criterion", "normalize",
           "CPMC", "L1", "L2", "FPGM", "BNScale", "Taylor", "RandomScore", "ZeroActivation"]
