"""Metrics with intervals and temperature scaling."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from cp_predict.calibration import cross_fitted_probabilities, fit_temperature, sigmoid
from cp_predict.metrics import auc_score, classification_report, expected_calibration_error, wilson_interval


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
    probs, temps = cross_fitted_probabilities(logits, y, folds)
    # fold 1's temperature comes from fold 0 alone (perfectly separated -> very sharp); fold 1's own,
    # wrongly signed points did not soften it
    assert temps[1] == pytest.approx(fit_temperature(logits[:4], y[:4]))
    assert probs[4] > 0.9 and probs[5] < 0.1
