"""Metrics with intervals, and calibration (temperature and class-balanced Platt scaling)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from cp_predict.calibration import (
    cross_fitted_probabilities,
    fit_balanced_platt,
    fit_calibration,
    fit_temperature,
    sigmoid,
)
from cp_predict.metrics import auc_score, classification_report, expected_calibration_error, wilson_interval
from prunelab.errors import InputError


def test_wilson_interval_known_values():
    lo, hi = wilson_interval(11, 12)
    assert lo == pytest.approx(0.6461, abs=1e-3) and hi == pytest.approx(0.9851, abs=1e-3)
    assert wilson_interval(12, 12)[1] == 1.0 and wilson_interval(12, 12)[0] == pytest.approx(0.7575, abs=1e-3)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_auc_matches_sklearn_with_ties():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.random(200) + 0.3 * y, 1)  # many ties
    assert auc_score(y, s) == pytest.approx(roc_auc_score(y, s))
    assert np.isnan(auc_score(np.ones(5), np.arange(5)))


def test_ece_is_zero_for_calibrated_and_large_for_overconfident():
    rng = np.random.default_rng(1)
    p = rng.random(20000)
    y = (rng.random(20000) < p).astype(int)
    assert expected_calibration_error(y, p) < 0.02
    assert expected_calibration_error(y, np.where(p > 0.5, 0.999, 0.001)) > 0.2


def test_report_values_and_intervals_contain_point():
    rng = np.random.default_rng(2)
    y = np.array([0] * 40 + [1] * 20)
    p = np.clip(0.3 * y + rng.random(60) * 0.7, 0, 1)
    rep = classification_report(y, p, n_boot=300)
    assert rep["n"] == 60 and rep["n_positive"] == 20
    assert rep["balanced_accuracy"]["value"] == pytest.approx(balanced_accuracy_score(y, p >= 0.5))
    assert rep["auc"]["value"] == pytest.approx(roc_auc_score(y, p))
    for name in ("accuracy", "balanced_accuracy", "auc", "sensitivity", "specificity", "brier", "ece"):
        lo, hi = rep[name]["ci"]
        assert lo <= rep[name]["value"] + 1e-12 and rep[name]["value"] <= hi + 1e-12, name
    assert rep["sensitivity"]["count"].endswith("/20")


def test_temperature_scaling_recovers_the_true_temperature():
    rng = np.random.default_rng(3)
    true_logits = rng.normal(0, 2, 5000)
    y = (rng.random(5000) < sigmoid(true_logits)).astype(int)
    overconfident = true_logits * 3.0  # a model 3x too sure of itself
    assert fit_temperature(overconfident, y) == pytest.approx(3.0, rel=0.1)
    assert fit_temperature(np.array([1.0]), np.array([1])) == 1.0


def test_cross_fitting_never_uses_a_folds_own_labels():
    logits = np.array([5.0, 5.0, -5.0, -5.0, 1.0, -1.0])
    y = np.array([1, 1, 0, 0, 0, 1])
    folds = np.array([0, 0, 0, 0, 1, 1])
    for method in ("temperature", "balanced"):
        probs, fitted = cross_fitted_probabilities(logits, y, folds, method)
        # fold 1's calibration comes from fold 0 alone (perfectly separated -> sharp; Platt's smoothed
        # targets for 2 + 2 infants keep it within 1/4..3/4 there); fold 1's own, wrongly signed points did
        # not soften it
        assert fitted[1] == fit_calibration(logits[:4], y[:4], method)
        assert probs[4] > (0.9 if method == "temperature" else 0.5) > probs[5], method


def test_balanced_platt_recovers_the_likelihood_ratio_of_shifted_logits():
    """Class-conditional N(+1, 1) / N(-1, 1) scores have log likelihood ratio 2z. A model reporting 3z + 4
    (overconfident and shifted, as a pre-trained network on a new cohort) at prevalence 0.2: balanced Platt
    scaling maps it back to 2z (T = 1.5, b = -8/3), so 0.5 is the likelihood-ratio-1 cut; temperature alone
    keeps the shifted cut and calls most typical infants at risk."""
    rng = np.random.default_rng(0)
    z = np.concatenate([rng.normal(1, 1, 2000), rng.normal(-1, 1, 8000)])
    y = np.concatenate([np.ones(2000, int), np.zeros(8000, int)])
    reported = 3 * z + 4
    t, b = fit_balanced_platt(reported, y)
    assert t == pytest.approx(1.5, rel=0.05) and b == pytest.approx(-8 / 3, abs=0.1)
    balanced = fit_calibration(reported, y, "balanced").probability(reported)
    scaled = fit_calibration(reported, y, "temperature").probability(reported)
    specificity = lambda p: float((p[y == 0] < 0.5).mean())  # noqa: E731
    assert specificity(balanced) == pytest.approx(0.84, abs=0.02)  # Phi(1): the cut at z = 0
    assert specificity(scaled) == pytest.approx(0.37, abs=0.02)  # Phi(-1/3): the cut at z = -4/3


def test_balanced_platt_stays_finite_on_separated_logits_and_rejects_unknown_methods():
    logits, y = np.array([-3.0, -2.0, -1.5, 2.0, 4.0]), np.array([0, 0, 0, 1, 1])
    t, b = fit_balanced_platt(logits, y)
    assert 0.05 < t < 50 and abs(b) < 20  # Platt's smoothed targets: no infinite slope
    assert fit_balanced_platt(np.array([1.0]), np.array([1])) == (1.0, 0.0)
    with pytest.raises(InputError, match="calibration"):
        fit_calibration(logits, y, "isotonic")
