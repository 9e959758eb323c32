"""Classification metrics with 95 % intervals, for small and large evaluation sets alike.

* accuracy, sensitivity, specificity: proportions of independent infants, so a **Wilson score
  interval** (good coverage even for 11/12 or 12/12, where the normal approximation breaks down);
* balanced accuracy, AUC, Brier score, expected calibration error: **stratified percentile bootstrap**
  over infants (classes resampled separately so every replicate has both), 2000 replicates, seeded.

All at the 0.5 probability threshold; ECE uses 10 equal-width probability bins.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import norm

Z95 = float(norm.ppf(0.975))


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (``(0, 1)`` when ``n == 0``)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (float(max(0.0, centre - half)), float(min(1.0, centre + half)))


def auc_score(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count one half); NaN if one class is absent."""
    y = np.asarray(y).astype(bool)
    pos, neg = np.asarray(score)[y], np.asarray(score)[~y]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


def expected_calibration_error(y: np.ndarray, prob: np.ndarray, bins: int = 10) -> float:
    """Weighted mean |accuracy - confidence| gap of the predicted-positive probability over equal-width bins."""
    y, prob = np.asarray(y, dtype=float), np.asarray(prob, dtype=float)
    idx = np.minimum((prob * bins).astype(int), bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            ece += mask.mean() * abs(y[mask].mean() - prob[mask].mean())
    return float(ece)


def balanced_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    y, pred = np.asarray(y).astype(bool), np.asarray(pred).astype(bool)
    parts = [np.mean(pred[y]) if y.any() else np.nan, np.mean(~pred[~y]) if (~y).any() else np.nan]
    return float(np.nanmean(parts))


def _point_metrics(y: np.ndarray, prob: np.ndarray) -> dict[str, float]:
    pred = prob >= 0.5
    return {
        "balanced_accuracy": balanced_accuracy(y, pred),
        "auc": auc_score(y, prob),
        "brier": float(np.mean((prob - y) ** 2)),
        "ece": expected_calibration_error(y, prob),
    }


def classification_report(y: np.ndarray, prob: np.ndarray, n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """All metrics with 95 % intervals: ``{metric: {"value", "ci": [lo, hi], "method"}, "n", "n_positive"}``."""
    y = np.asarray(y).astype(int)
    prob = np.asarray(prob, dtype=float)
    if y.shape != prob.shape or y.ndim != 1:
        raise ValueError("labels and probabilities must be 1-D arrays of the same length")
    pred = prob >= 0.5
    pos, neg = y == 1, y == 0
    out: dict[str, Any] = {"n": int(len(y)), "n_positive": int(pos.sum())}
    for name, k, n in (("accuracy", int((pred == pos).sum()), len(y)),
                       ("sensitivity", int(pred[pos].sum()), int(pos.sum())),
                       ("specificity", int((~pred[neg]).sum()), int(neg.sum()))):
        out[name] = {"value": k / n if n else float("nan"), "ci": list(wilson_interval(k, n)),
                     "method": "wilson", "count": f"{k}/{n}"}
    point = _point_metrics(y, prob)
    rng = np.random.default_rng(seed)
    pos_idx, neg_idx = np.flatnonzero(pos), np.flatnonzero(neg)
    boots = {k: [] for k in point}
    for _ in range(n_boot):
        idx = np.concatenate([rng.choice(pos_idx, len(pos_idx)), rng.choice(neg_idx, len(neg_idx))])
        for k, v in _point_metrics(y[idx], prob[idx]).items():
            boots[k].append(v)
    for k, v in point.items():
        values = np.asarray(boots[k], dtype=float)
        ci = [float(np.nanpercentile(values, 2.5)), float(np.nanpercentile(values, 97.5))] if n_boot else [v, v]
        out[k] = {"value": v, "ci": ci, "method": "stratified bootstrap"}
    return out


def format_metric(entry: dict[str, Any], digits: int = 3) -> str:
    """``0.917 [0.646, 0.985]`` (with the count for proportions)."""
    text = f"{entry['value']:.{digits}f} [{entry['ci'][0]:.{digits}f}, {entry['ci'][1]:.{digits}f}]"
    return f"{text} ({entry['count']})" if "count" in entry else text
