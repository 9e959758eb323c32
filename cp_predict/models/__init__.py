"""Risk models behind one interface (:class:`RiskModel`): the joint-attention CNN, ST-GCN and baselines.

``create_model(name)`` builds an unfitted model; ``model_from_state(state)`` rebuilds a fitted one.
"""

from __future__ import annotations

from typing import Any

from cp_predict.models.base import RiskModel
from cp_predict.models.baselines import KinematicLogReg, SpeedThreshold
from cp_predict.models.neural import ARCHITECTURES, TorchRiskModel, TrainConfig

MODEL_NAMES: tuple[str, ...] = ("attention", "stgcn", "logreg", "speed")


def create_model(name: str, train_config: TrainConfig | None = None, net_config: dict[str, Any] | None = None
                 ) -> RiskModel:
    """An unfitted model by name (one of :data:`MODEL_NAMES`)."""
    if name in ARCHITECTURES:
        return TorchRiskModel(name, net_config, train_config)
    if name == "logreg":
        return KinematicLogReg()
    if name == "speed":
        return SpeedThreshold()
    raise ValueError(f"unknown model {name!r} (choose from {', '.join(MODEL_NAMES)})")


def model_from_state(state: dict[str, Any]) -> RiskModel:
    """Rebuild a fitted model from :meth:`RiskModel.state`."""
    name = state["name"]
    if name in ARCHITECTURES:
        return TorchRiskModel.from_state(state)
    if name == "logreg":
        return KinematicLogReg.from_state(state)
    if name == "speed":
        return SpeedThreshold.from_state(state)
    raise ValueError(f"unknown model {name!r} in checkpoint")


__all__ = ["MODEL_NAMES", "KinematicLogReg", "RiskModel", "SpeedThreshold", "TorchRiskModel", "TrainConfig",
           "create_model", "model_from_state"]
