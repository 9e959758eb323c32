"""One interface for every risk model, from the mean-speed threshold to ST-GCN.

A model takes pre-processed positions ``(N, 2, T, 18)`` (trunk lengths, fixed fps; see
:mod:`cp_predict.preprocess`), is fitted with :meth:`RiskModel.fit` and returns *uncalibrated* logits
from :meth:`RiskModel.decision_function` (probabilities are calibrated outside, by temperature scaling,
so every model is calibrated the same way). Explanations are optional: :meth:`joint_importance` gives
``(N, 18)`` non-negative per-joint weights and :meth:`joint_time_map` an ``(N, T, 18)`` map; models
that cannot explain return ``None``. :meth:`state` / :func:`cp_predict.models.model_from_state` round-trip
through plain tensors and numbers, so checkpoints load with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np


class RiskModel(ABC):
    """Base class: scikit-learn style (configuration in the constructor, ``fit`` learns)."""

    name: str = "base"

    @abstractmethod
    def fit(self, x: np.ndarray, y: np.ndarray, fps: float, seed: int = 0) -> RiskModel:
        """Learn from positions ``x`` ``(N, 2, T, 18)`` and labels ``y`` (1 = at risk)."""

    @abstractmethod
    def decision_function(self, x: np.ndarray, fps: float) -> np.ndarray:
        """Uncalibrated logits ``(N,)``; larger means more at risk."""

    def joint_importance(self, x: np.ndarray, fps: float) -> np.ndarray | None:
        """Per-infant, per-joint importance ``(N, 18)`` (non-negative), or ``None`` if unsupported."""
        return None

    #: True when :meth:`joint_importance` costs nothing beyond the forward pass (attention weights, a linear
    #: model's contributions): then the importance of every cross-validation model is averaged for free.
    cheap_importance: bool = False

    def decision_and_importance(self, x: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray | None]:
        """:meth:`decision_function` and :meth:`joint_importance` together (one pass where a model can)."""
        return self.decision_function(x, fps), self.joint_importance(x, fps)

    def joint_time_map(self, x: np.ndarray, fps: float) -> np.ndarray | None:
        """Per-infant joint x time importance ``(N, T, 18)`` (non-negative), or ``None`` if unsupported."""
        return None

    @abstractmethod
    def state(self) -> dict[str, Any]:
        """Everything needed to rebuild the fitted model: config, tensors, numbers (weights_only-safe)."""

    @classmethod
    @abstractmethod
    def from_state(cls, state: dict[str, Any]) -> RiskModel:
        """Rebuild a fitted model from :meth:`state`."""
