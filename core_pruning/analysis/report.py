"""One call that runs every analysis on a model, and its JSON and text renderings (used by the CLI, the
demo and the benchmarks, so they all report the same numbers the same way)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from torch import nn

from core_pruning.analysis.normality import LayerNormality, normality_tests
from core_pruning.analysis.scores import CriteriaScores, score_criteria
from core_pruning.analysis.similarity import PairSimilarity, compare, similarity_matrix
from core_pruning.analysis.spread import CriterionSpread, spread
from prunelab.errors import InputError


@dataclass
class CriteriaAnalysis:
    """Similarity of every pair of criteria, the spread of each, and per-layer normality of the weights."""

    criteria: list[str]
    ratio: float
    scores: CriteriaScores
    pairs: list[PairSimilarity]
    spreads: list[CriterionSpread]
    normality: list[LayerNormality]

    def matrix(self, statistic: str = "mean_spearman") -> np.ndarray:
        """Criteria-by-criteria matrix of a pair statistic (``mean_spearman``, ``mean_kendall``,
        ``mean_jaccard_layerwise``, ``jaccard_global``)."""
        return similarity_matrix(self.pairs, self.criteria, statistic)

    @property
    def gaussian_layers(self) -> int:
        return sum(1 for r in self.normality if r.gaussian)

    @property
    def tested_layers(self) -> int:
        return sum(1 for r in self.normality if r.gaussian is not None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (``nan`` becomes ``null``)."""
        return _finite({
            "criteria": self.criteria,
            "ratio": self.ratio,
            "pairs": [{"a": p.a, "b": p.b, "mean_spearman": p.mean_spearman, "mean_kendall": p.mean_kendall,
                       "mean_jaccard_layerwise": p.mean_jaccard_layerwise, "jaccard_global": p.jaccard_global,
                       "layers": [asdict(layer) for layer in p.layers]} for p in self.pairs],
            "spread": [{"criterion": s.criterion, "median_cv": s.median_cv, "global_cv": s.global_cv,
                        "global_relative_gap": s.global_relative_gap,
                        "global_removed_per_layer": s.global_removed_per_layer,
                        "layers": [asdict(layer) for layer in s.layers]} for s in self.spreads],
            "normality": {"alpha": self.normality[0].alpha if self.normality else None,
                          "tested_layers": self.tested_layers, "gaussian_layers": self.gaussian_layers,
                          "layers": [{**asdict(r), "gaussian": r.gaussian, "verdict": r.verdict}
                                     for r in self.normality]},
        })

    def format_text(self) -> str:
        """Human-readable tables: pair similarity, spread, normality."""
        lines = [f"Criteria similarity (layer-wise statistics averaged over {len(self.scores.layers)} layers; "
                 f"removal overlap at ratio {self.ratio:g})",
                 f"{'pair':<22}{'spearman':>10}{'kendall':>10}{'jaccard-layer':>15}{'jaccard-global':>16}"]
        for p in self.pairs:
            lines.append(f"{p.a + ' vs ' + p.b:<22}{_fmt(p.mean_spearman):>10}{_fmt(p.mean_kendall):>10}"
                         f"{_fmt(p.mean_jaccard_layerwise):>15}{_fmt(p.jaccard_global):>16}")
        lines += ["", "Score spread (applicability)",
                  f"{'criterion':<12}{'median CV':>11}{'global CV':>11}{'global gap':>12}  most-emptied layer (global)"]
        for s in self.spreads:
            worst = max(s.global_removed_per_layer.items(),
                        key=lambda kv: kv[1] / self.scores.sizes[self.scores.layers.index(kv[0])])
            size = self.scores.sizes[self.scores.layers.index(worst[0])]
            lines.append(f"{s.criterion:<12}{_fmt(s.median_cv):>11}{_fmt(s.global_cv):>11}"
                         f"{_fmt(s.global_relative_gap):>12}  {worst[0]} ({worst[1]}/{size})")
        alpha = self.normality[0].alpha if self.normality else float("nan")
        lines += ["", f"Weight normality per conv layer (alpha={alpha:g}): {self.gaussian_layers} of "
                      f"{self.tested_layers} tested layers Gaussian-like",
                  f"{'layer':<28}{'weights':>9} {'skew':>8} {'kurt':>8}{'dagostino p':>13}{'ks p':>10}  verdict"]
        for r in self.normality:
            lines.append(f"{r.layer:<28}{r.weights:>9} {_fmt(r.skewness):>8} {_fmt(r.excess_kurtosis):>8}"
                         f"{_fmt(r.dagostino_p, 3):>13}{_fmt(r.ks_p, 3):>10}  {r.verdict}")
        return "\n".join(lines)


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{max(digits - 1, 1)}e}" if abs(value) < 1e-3 and value != 0 else f"{value:.{digits}f}"


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def analyze(
    model: nn.Module,
    example_inputs: Any,
    criteria: Sequence[str] = ("l1", "l2", "fpgm"),
    *,
    ratio: float = 0.5,
    alpha: float = 0.05,
    calib_data: Any = None,
    loss_fn: Any = None,
    ignored_layers: Iterable[nn.Module | str] | None = None,
    criterion_options: Mapping[str, Mapping[str, Any]] | None = None,
    max_samples: int = 5000,
    seed: int = 0,
) -> CriteriaAnalysis:
    """Score ``model`` with ``criteria`` and compare them pairwise at pruning ``ratio``; test weight normality.

    ``ratio`` is the fraction of channels removed when comparing removal sets and gaps (0 < ratio < 1);
    ``alpha`` the level of the normality tests, run on at most ``max_samples`` weights per layer.
    """
    if not 0.0 < ratio < 1.0 or math.isnan(ratio):
        raise InputError(f"ratio must be a fraction of channels to remove in (0, 1), got {ratio!r}")
    if not 0.0 < alpha < 1.0 or math.isnan(alpha):
        raise InputError(f"alpha must be in (0, 1), got {alpha!r}")
    if max_samples < 20:
        raise InputError(f"max_samples must be at least 20, got {max_samples}")
    scores = score_criteria(model, example_inputs, criteria, calib_data=calib_data, loss_fn=loss_fn,
                            ignored_layers=ignored_layers, criterion_options=criterion_options)
    names = scores.criteria
    pairs = [compare(scores, a, b, ratio) for a, b in itertools.combinations(names, 2)]
    spreads = [spread(scores, name, ratio) for name in names]
    normality = normality_tests(model, alpha=alpha, max_samples=max_samples, seed=seed)
    return CriteriaAnalysis(names, ratio, scores, pairs, spreads, normality)
