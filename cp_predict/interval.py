"""The interval reported with every risk probability: split-conformal, with a stated and tested meaning.

**Meaning.** For an infant exchangeable with the training infants, the 90 % interval
``[p - q, p + q]`` (clipped to [0, 1]) contains the infant's true label (0 = not at risk, 1 = at risk) with
probability at least 90 % (Vovk et al., 2005; Lei et al., 2018, split conformal regression with the label
as a 0/1 outcome). ``q`` is the ``ceil((n + 1) * 0.9)``-th smallest of the calibration scores
``|label - p|`` over the ``n`` training infants, each ``p`` being that infant's *out-of-fold* calibrated
probability (from the cross-validation model that never saw it). With fewer than 9 calibration infants
that rank exceeds ``n`` and ``q`` is 1 (the whole [0, 1]: nothing can be promised).

Read it as a prediction set: the interval holds 1 only (``p - q > 0`` and ``p + q >= 1``): "at risk";
0 only: "not at risk"; both: "cannot tell at 90 %"; neither: the infant is less typical than 90 % of the
calibration infants (the point estimate sits between the two labels' reach).

The out-of-fold probabilities come from the fold models while the reported ``p`` comes from the final model
(trained on all infants), so the guarantee is approximate; ``benchmarks/cp_interval_coverage.py`` measures the
coverage (why this interval replaced the earlier band: ``docs/notes/cp_predict.md``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

ALPHA = 0.1  # 90 % intervals


def conformal_quantile(scores: np.ndarray, alpha: float = ALPHA) -> float:
    """The split-conformal quantile of ``scores`` (1.0 when there are too few for level ``1 - alpha``)."""
    scores = np.sort(np.asarray(scores, dtype=float))
    n = len(scores)
    rank = math.ceil((n + 1) * (1 - alpha))
    if n == 0 or rank > n:
        return 1.0
    return float(scores[rank - 1])


def conformal_calibration(labels: np.ndarray, oof_probabilities: np.ndarray, alpha: float = ALPHA
                          ) -> dict[str, Any]:
    """What a model stores to give intervals: ``q``, ``alpha`` and the number of calibration infants."""
    scores = np.abs(np.asarray(labels, dtype=float) - np.asarray(oof_probabilities, dtype=float))
    return {"method": "split conformal, score |label - out-of-fold probability|", "alpha": alpha,
            "q": round(conformal_quantile(scores, alpha), 6), "n": int(len(scores))}


def conformal_interval(p: float, q: float) -> tuple[float, float]:
    """``[p - q, p + q]`` clipped to [0, 1]."""
    return max(0.0, p - q), min(1.0, p + q)


def prediction_set(interval: tuple[float, float]) -> list[str]:
    """The labels the interval contains, as words."""
    lo, hi = interval
    return [name for value, name in ((0.0, "not at risk"), (1.0, "at risk")) if lo <= value <= hi]


def coverage(labels: np.ndarray, intervals: np.ndarray) -> float:
    """Fraction of infants whose label lies inside its interval ``(N, 2)``."""
    labels, intervals = np.asarray(labels, dtype=float), np.asarray(intervals, dtype=float)
    return float(np.mean((intervals[:, 0] <= labels) & (labels <= intervals[:, 1])))
