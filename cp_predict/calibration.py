"""Calibration of out-of-fold logits: ``p = sigmoid(logit / T + b)``, fitted on held-out logits only.

Two methods (:data:`CALIBRATION_CHOICES`):

* ``temperature`` (Guo et al., 2017): one T > 0, ``b = 0``, by minimising the negative log-likelihood. It
  sharpens or softens but never moves the 0.5 cut: a model whose logits are shifted (e.g. pre-trained on
  generated infants, fine-tuned on a few real ones, and rating every real infant high) keeps its shift.
* ``balanced`` (the default): Platt scaling (Platt, 1999) -- T and an intercept b -- with the two classes
  weighted equally and Platt's smoothed targets ``(N+ + 1) / (N+ + 2)`` and ``1 / (N- + 2)`` (so perfectly
  separated logits, common on a dozen infants, still give finite T and b). Weighting the classes equally
  makes ``p`` the risk **at equal priors**: 0.5 is the point where the movement is as likely under "at risk"
  as under "typical" (likelihood ratio 1), which is the cut that maximises balanced accuracy. Why not the
  training set's own class ratio: a research cohort's prevalence (MINI-RGBD 4/12, the generated sets 1/2)
  says nothing about a clinic's. For a population with prevalence pi, multiply the odds ``p / (1 - p)`` by
  ``pi / (1 - pi)``.

During cross-validation we *cross-fit*: the calibration applied to a fold's test infants is fitted on the
out-of-fold logits of the **other** folds, so no infant's calibrated probability has seen its own label. The
final model's calibration is fitted on all out-of-fold logits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prunelab.errors import InputError

T_BOUNDS = (0.05, 50.0)
INTERCEPT_BOUNDS = (-20.0, 20.0)
CALIBRATION_CHOICES = ("balanced", "temperature")
DEFAULT_CALIBRATION = "balanced"


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=float)))


@dataclass(frozen=True)
class Calibration:
    """``p = sigmoid(logit / temperature + intercept)``; ``method`` names how it was fitted."""

    temperature: float = 1.0
    intercept: float = 0.0
    method: str = "temperature"

    def probability(self, logits: np.ndarray) -> np.ndarray:
        return sigmoid(np.asarray(logits, dtype=float) / self.temperature + self.intercept)

    def to_dict(self) -> dict[str, float | str]:
        return {"method": self.method, "temperature": self.temperature, "intercept": self.intercept}


def nll(logits: np.ndarray, y: np.ndarray, temperature: float) -> float:
    z = np.asarray(logits, dtype=float) / temperature
    # log(1 + exp(-z)) for positives, log(1 + exp(z)) for negatives, computed stably
    return float(np.mean(np.logaddexp(0.0, np.where(np.asarray(y) == 1, -z, z))))


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The T in :data:`T_BOUNDS` minimising the NLL of ``sigmoid(logits / T)`` (1.0 with fewer than 2 points)."""
    from scipy.optimize import minimize_scalar  # here, so the CLI's --help does not load scipy

    logits, y = np.asarray(logits, dtype=float), np.asarray(y)
    if len(logits) < 2 or len(np.unique(y)) < 2:
        return 1.0
    res = minimize_scalar(lambda log_t: nll(logits, y, float(np.exp(log_t))),
                          bounds=tuple(np.log(T_BOUNDS)), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(res.x))


def fit_balanced_platt(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """``(T, b)`` minimising the class-balanced cross-entropy of ``sigmoid(logit / T + b)`` against Platt's
    smoothed targets (see the module docstring); ``(1.0, 0.0)`` with fewer than 2 points or one class."""
    from scipy.optimize import minimize

    z, y = np.asarray(logits, dtype=float), np.asarray(y)
    if len(z) < 2 or len(np.unique(y)) < 2:
        return 1.0, 0.0
    pos = y == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    target = np.where(pos, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    weight = np.where(pos, 0.5 / n_pos, 0.5 / n_neg)

    def loss(params: np.ndarray) -> float:
        s = z * np.exp(-params[0]) + params[1]  # log T, b
        # -[t log sigmoid(s) + (1 - t) log sigmoid(-s)], computed stably
        return float(np.sum(weight * (target * np.logaddexp(0.0, -s) + (1 - target) * np.logaddexp(0.0, s))))

    start = np.array([np.log(max(float(np.std(z)), T_BOUNDS[0])), 0.0])
    res = minimize(loss, start, method="L-BFGS-B", bounds=[tuple(np.log(T_BOUNDS)), INTERCEPT_BOUNDS])
    return float(np.exp(res.x[0])), float(res.x[1])


def check_method(method: str) -> str:
    """``method`` if it is one of :data:`CALIBRATION_CHOICES`, else a one-line :class:`InputError`."""
    if method not in CALIBRATION_CHOICES:
        raise InputError(f"unknown {{option}} {method!r} (choose from {', '.join(CALIBRATION_CHOICES)})",
                         option="calibration")
    return method


def fit_calibration(logits: np.ndarray, y: np.ndarray, method: str = DEFAULT_CALIBRATION) -> Calibration:
    """Fit ``method`` (one of :data:`CALIBRATION_CHOICES`) on held-out logits and their labels."""
    if check_method(method) == "temperature":
        return Calibration(fit_temperature(logits, y), 0.0, method)
    return Calibration(*fit_balanced_platt(logits, y), method)


def cross_fitted_probabilities(logits: np.ndarray, y: np.ndarray, fold_of: np.ndarray,
                               method: str = DEFAULT_CALIBRATION) -> tuple[np.ndarray, list[Calibration]]:
    """Calibrate out-of-fold logits fold by fold with calibrations fitted on the other folds."""
    logits, y = np.asarray(logits, dtype=float), np.asarray(y)
    probs = np.empty(len(logits))
    fitted = []
    for fold in np.unique(fold_of):
        test = fold_of == fold
        calibration = fit_calibration(logits[~test], y[~test], method)
        probs[test] = calibration.probability(logits[test])
        fitted.append(calibration)
    return probs, fitted
