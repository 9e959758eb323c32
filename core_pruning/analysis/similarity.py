"""Similarity of two criteria: do they rank channels alike, and do they remove the same channels?

- **Rank correlation per layer** (Spearman's rho and Kendall's tau-b) of the two criteria's raw scores over
  the channels of one group. Undefined (``nan``) when either score vector is constant or the group has
  fewer than 3 channels.
- **Overlap of removal sets** at a pruning ratio ``r`` as a Jaccard index ``|A & B| / |A | B|`` (1 when both
  sets are empty):

  * *layer-wise*: each group removes its ``floor(r * size)`` lowest-scored channels (at least one kept);
  * *global*: the ``round(r * total)`` lowest channels of the whole network, ranked on the scores the
    engine uses for its global list (:attr:`CriteriaScores.ranked`), never emptying a group. This is
    the channel-count version of the engine's first global step; it isolates the criterion from the
    FLOPs budget.

Ties are broken by channel index (stable sort), the same for both criteria, so identical scores give
identical sets.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from core_pruning.analysis.scores import CriteriaScores


@dataclass
class LayerSimilarity:
    layer: str
    channels: int
    spearman: float
    kendall: float
    jaccard_layerwise: float


@dataclass
class PairSimilarity:
    """How alike criteria ``a`` and ``b`` are: per layer, averaged over layers, and under global pruning."""

    a: str
    b: str
    ratio: float
    layers: list[LayerSimilarity]
    jaccard_global: float

    @property
    def mean_spearman(self) -> float:
        return _nanmean([s.spearman for s in self.layers])

    @property
    def mean_kendall(self) -> float:
        return _nanmean([s.kendall for s in self.layers])

    @property
    def mean_jaccard_layerwise(self) -> float:
        return _nanmean([s.jaccard_layerwise for s in self.layers])


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def rank_correlation(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(Spearman rho, Kendall tau-b) of two score vectors; ``nan`` where undefined (constant or < 3 values)."""
    from core_pruning.analysis._optional import stats

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"score vectors differ in length: {x.shape} vs {y.shape}")
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan"), float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns on infinite or tied-only inputs; we report nan instead
        rho = stats.spearmanr(x, y).statistic
        tau = stats.kendalltau(x, y).statistic
    return float(rho), float(tau)


def jaccard(a: set, b: set) -> float:
    """``|a & b| / |a | b|``; two empty sets are identical (1.0)."""
    union = a | b
    return 1.0 if not union else len(a & b) / len(union)


def layerwise_removed(scores: np.ndarray, ratio: float) -> set[int]:
    """Channels a layer-wise pruning at ``ratio`` removes: the ``floor(ratio * n)`` lowest, keeping at least one."""
    n = len(scores)
    k = min(math.floor(ratio * n + 1e-9), n - 1)
    return set(np.argsort(np.asarray(scores), kind="stable")[:max(k, 0)].tolist())


def global_removed(vectors: list[np.ndarray], ratio: float) -> set[tuple[int, int]]:
    """``(group, channel)`` pairs a global pruning at ``ratio`` of all channels removes (see module docstring)."""
    sizes = [len(v) for v in vectors]
    total = sum(sizes)
    k = round(ratio * total)
    flat = np.concatenate([np.asarray(v, dtype=float) for v in vectors]) if vectors else np.zeros(0)
    owner = np.repeat(np.arange(len(vectors)), sizes)
    channel = np.concatenate([np.arange(s) for s in sizes]) if vectors else np.zeros(0, dtype=int)
    room = [s - 1 for s in sizes]
    removed: set[tuple[int, int]] = set()
    for pos in np.argsort(flat, kind="stable"):
        if len(removed) >= k:
            break
        gi = int(owner[pos])
        if room[gi] > 0:
            room[gi] -= 1
            removed.add((gi, int(channel[pos])))
    return removed


def compare(scores: CriteriaScores, a: str, b: str, ratio: float = 0.5) -> PairSimilarity:
    """Similarity of criteria ``a`` and ``b`` on ``scores`` (both must have been scored)."""
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"ratio must be in (0, 1), got {ratio}")
    for name in (a, b):
        if name not in scores.raw:
            raise KeyError(f"criterion {name!r} was not scored; scored: {', '.join(scores.criteria)}")
    layers = []
    for i, layer in enumerate(scores.layers):
        x, y = scores.raw[a][i], scores.raw[b][i]
        rho, tau = rank_correlation(x, y)
        overlap = jaccard(layerwise_removed(x, ratio), layerwise_removed(y, ratio))
        layers.append(LayerSimilarity(layer, scores.sizes[i], rho, tau, overlap))
    overlap_global = jaccard(global_removed(scores.ranked[a], ratio), global_removed(scores.ranked[b], ratio))
    return PairSimilarity(a, b, ratio, layers, overlap_global)


def similarity_matrix(pairs: list[PairSimilarity], names: list[str], statistic: str = "mean_spearman") -> np.ndarray:
    """Symmetric ``len(names)`` square matrix of ``statistic`` over ``pairs`` (diagonal 1, missing pairs nan)."""
    index = {n: i for i, n in enumerate(names)}
    matrix = np.full((len(names), len(names)), np.nan)
    np.fill_diagonal(matrix, 1.0)
    for pair in pairs:
        value = getattr(pair, statistic)
        matrix[index[pair.a], index[pair.b]] = matrix[index[pair.b], index[pair.a]] = value
    return matrix
