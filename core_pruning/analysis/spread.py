"""Applicability of a criterion: are its scores spread out enough to tell channels apart?

The "blind spots" paper's second finding is that under the Gaussian weight assumption norm-based scores
of one layer concentrate around their mean (for i.i.d. ``N(0, s^2)`` filters of dimension ``d`` the
coefficient of variation of the L2 norm is about ``1 / sqrt(2 d)``, of the L1 norm ``sqrt(pi/2 - 1) / sqrt(d)``),
so in wide layers the ranking, and hence the cut, is decided by small noise. We measure, per layer and
criterion on the raw scores:

- ``cv``: coefficient of variation ``std / |mean|`` (population std; ``nan`` when the mean is 0);
- ``relative_gap``: at a layer-wise pruning ratio ``r``, ``(min kept - max removed) / mean |score|``: how
  clearly the cut separates kept from removed channels (0 = the cut falls between equal scores);

and network-wide, on the globally ranked scores: ``global_removed_per_layer`` (how many channels of
each layer a global cut at ``r`` of all channels takes: the paper's other global-pruning blind spot is
that norm criteria empty the layers whose weight scale is smallest) and the global relative gap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from core_pruning.analysis.scores import CriteriaScores
from core_pruning.analysis.similarity import global_removed, layerwise_removed


@dataclass
class LayerSpread:
    layer: str
    channels: int
    cv: float
    relative_gap: float


@dataclass
class CriterionSpread:
    criterion: str
    ratio: float
    layers: list[LayerSpread]
    global_cv: float
    global_relative_gap: float
    global_removed_per_layer: dict[str, int] = field(default_factory=dict)

    @property
    def median_cv(self) -> float:
        finite = [s.cv for s in self.layers if not math.isnan(s.cv)]
        return float(np.median(finite)) if finite else float("nan")


def coefficient_of_variation(scores: np.ndarray) -> float:
    """``std / |mean|`` of ``scores`` (population std); ``nan`` for an empty vector or zero mean."""
    s = np.asarray(scores, dtype=float)
    if s.size == 0 or not np.all(np.isfinite(s)):
        return float("nan")
    mean = float(np.mean(s))
    return float(np.std(s) / abs(mean)) if mean != 0 else float("nan")


def relative_gap(scores: np.ndarray, removed: set[int]) -> float:
    """``(min kept - max removed) / mean |score|``; ``nan`` when nothing or everything is removed."""
    s = np.asarray(scores, dtype=float)
    kept = [i for i in range(len(s)) if i not in removed]
    scale = float(np.mean(np.abs(s))) if s.size else 0.0
    if not removed or not kept or scale == 0 or not np.all(np.isfinite(s)):
        return float("nan")
    return float((s[kept].min() - s[sorted(removed)].max()) / scale)


def spread(scores: CriteriaScores, criterion: str, ratio: float = 0.5) -> CriterionSpread:
    """Score spread of ``criterion`` per layer and network-wide at pruning ratio ``ratio``."""
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"ratio must be in (0, 1), got {ratio}")
    layers = []
    for i, layer in enumerate(scores.layers):
        raw = scores.raw[criterion][i]
        layers.append(LayerSpread(layer, scores.sizes[i], coefficient_of_variation(raw),
                                  relative_gap(raw, layerwise_removed(raw, ratio))))
    ranked = scores.ranked[criterion]
    removed = global_removed(ranked, ratio)
    per_layer = {layer: sum(1 for gi, _ in removed if gi == i) for i, layer in enumerate(scores.layers)}
    flat = np.concatenate(ranked)
    offsets = np.cumsum([0, *scores.sizes[:-1]])
    flat_removed = {int(offsets[gi] + ch) for gi, ch in removed}
    return CriterionSpread(criterion, ratio, layers, coefficient_of_variation(flat),
                           relative_gap(flat, flat_removed), per_layer)
