"""Trivial baselines that every deep model must be compared with.

* :class:`SpeedThreshold` - one feature, the mean end-effector (wrist/ankle) speed; a 1-D logistic
  regression on its logarithm, i.e. a threshold on speed with a calibrated slope. On MINI-RGBD this
  alone separates the 12 infants, which is why it sits beside every reported number.
* :class:`KinematicLogReg` - L2 logistic regression on the standardised kinematic features of
  :mod:`cp_predict.features` (speeds, variability, acceleration, range, fidgety-band power, synchrony).
  Its per-joint importance is the magnitude of each feature's contribution, given to the joints the
  feature is computed from.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

from cp_predict.features import FEATURE_NAMES, LIMB_NAMES, kinematic_features, mean_limb_speed
from cp_predict.models.base import RiskModel
from cp_predict.skeleton import JOINT_INDEX, LIMBS, NUM_JOINTS


def _fit_logreg(features: np.ndarray, y: np.ndarray, c: float, seed: int) -> tuple[np.ndarray, float]:
    if len(np.unique(y)) < 2:
        # One class only (possible inside a tiny fold): predict its log-odds with a small prior.
        p = (y.sum() + 0.5) / (len(y) + 1.0)
        return np.zeros(features.shape[1]), float(np.log(p / (1 - p)))
    clf = LogisticRegression(C=c, max_iter=2000, random_state=seed).fit(features, y)
    return clf.coef_[0].astype(np.float64), float(clf.intercept_[0])


class SpeedThreshold(RiskModel):
    """Mean limb speed -> risk, via a 1-D logistic regression on log speed (a soft threshold)."""

    name = "speed"

    def __init__(self) -> None:
        self.mean, self.std, self.coef, self.intercept = 0.0, 1.0, 0.0, 0.0

    def _feature(self, x: np.ndarray, fps: float) -> np.ndarray:
        return np.log(np.maximum(mean_limb_speed(x, fps), 1e-6))

    def fit(self, x: np.ndarray, y: np.ndarray, fps: float, seed: int = 0) -> SpeedThreshold:
        f = self._feature(x, fps)
        self.mean, self.std = float(f.mean()), float(f.std() + 1e-9)
        coef, self.intercept = _fit_logreg(((f - self.mean) / self.std)[:, None], y, c=100.0, seed=seed)
        self.coef = float(coef[0])
        return self

    def decision_function(self, x: np.ndarray, fps: float) -> np.ndarray:
        return self.coef * (self._feature(x, fps) - self.mean) / self.std + self.intercept

    @property
    def threshold(self) -> float:
        """The speed (trunk lengths / s) at which the predicted risk crosses 50 %."""
        if self.coef == 0:
            return float("nan")
        return float(np.exp(self.mean - self.intercept * self.std / self.coef))

    def state(self) -> dict[str, Any]:
        return {"name": self.name, "mean": self.mean, "std": self.std, "coef": self.coef, "intercept": self.intercept}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SpeedThreshold:
        model = cls()
        model.mean, model.std = float(state["mean"]), float(state["std"])
        model.coef, model.intercept = float(state["coef"]), float(state["intercept"])
        return model


def _feature_joints() -> list[list[int]]:
    """For each kinematic feature, the joints it is computed from."""
    joints: list[list[int]] = []
    for limb in LIMB_NAMES:
        chain = list(LIMBS[limb])
        joints += [chain] * 5
    ends = [chain[-1] for chain in LIMBS.values()]
    joints += [ends, ends, [JOINT_INDEX["nose"]]]
    assert len(joints) == len(FEATURE_NAMES)
    return joints


class KinematicLogReg(RiskModel):
    """Logistic regression on standardised kinematic features."""

    cheap_importance = True  # contributions come from the same features as the logit

    name = "logreg"

    def __init__(self, c: float = 1.0) -> None:
        self.c = c
        self.mean = self.std = self.coef = None
        self.intercept = 0.0

    def _z(self, x: np.ndarray, fps: float) -> np.ndarray:
        return (kinematic_features(x, fps) - self.mean) / self.std

    def fit(self, x: np.ndarray, y: np.ndarray, fps: float, seed: int = 0) -> KinematicLogReg:
        f = kinematic_features(x, fps)
        self.mean, self.std = f.mean(axis=0), f.std(axis=0) + 1e-9
        self.coef, self.intercept = _fit_logreg((f - self.mean) / self.std, y, c=self.c, seed=seed)
        return self

    def decision_function(self, x: np.ndarray, fps: float) -> np.ndarray:
        return self._z(x, fps) @ self.coef + self.intercept

    def joint_importance(self, x: np.ndarray, fps: float) -> np.ndarray:
        contrib = np.abs(self._z(x, fps) * self.coef)  # (N, F)
        out = np.zeros((len(x), NUM_JOINTS))
        for f, joints in enumerate(_feature_joints()):
            out[:, joints] += contrib[:, [f]] / len(joints)
        return out

    def state(self) -> dict[str, Any]:
        return {"name": self.name, "c": self.c, "mean": self.mean.tolist(), "std": self.std.tolist(),
                "coef": self.coef.tolist(), "intercept": self.intercept}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> KinematicLogReg:
        model = cls(c=float(state["c"]))
        model.mean, model.std = np.asarray(state["mean"]), np.asarray(state["std"])
        model.coef, model.intercept = np.asarray(state["coef"]), float(state["intercept"])
        return model
