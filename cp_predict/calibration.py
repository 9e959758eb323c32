"""Temperature scaling (Guo et al., 2017): ``p = sigmoid(logit / T)`` with one fitted T > 0.

T is fitted by minimising the negative log-likelihood on held-out logits. During cross-validation we
*cross-fit* it: the temperature applied to a fold's test infants is fitted on the out-of-fold logits of
the **other** folds, so no infant's calibrated probability has seen its own label. The final model uses
T fitted on all out-of-fold logits.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

T_BOUNDS = (0.05, 50.0)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=float)))


def nll(logits: np.ndarray, y: np.ndarray, temperature: float) -> float:
    z = np.asarray(logits, dtype=float) / temperature
    # log(1 + exp(-z)) for positives, log(1 + exp(z)) for negatives, computed stably
    return float(np.mean(np.logaddexp(0.0, np.where(np.asarray(y) == 1, -z, z))))


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The T in :data:`T_BOUNDS` minimising the NLL of ``sigmoid(logits / T)`` (1.0 with fewer than 2 points)."""
    logits, y = np.asarray(logits, dtype=float), np.asarray(y)
    if len(logits) < 2 or len(np.unique(y)) < 2:
        return 1.0
    res = minimize_scalar(lambda log_t: nll(logits, y, float(np.exp(log_t))),
                          bounds=tuple(np.log(T_BOUNDS)), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(res.x))


def cross_fitted_probabilities(logits: np.ndarray, y: np.ndarray, fold_of: np.ndarray) -> tuple[np.ndarray, list]:
    """Calibrate out-of-fold logits fold by fold with temperatures fitted on the other folds."""
    probs = np.empty(len(logits))
    temps = []
    for fold in np.unique(fold_of):
        test = fold_of == fold
        t = fit_temperature(logits[~test], y[~test])
        probs[test] = sigmoid(logits[test] / t)
        temps.append(t)
    return probs, temps
