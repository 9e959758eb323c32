"""cp_predict: skeleton-based cerebral-palsy risk prediction with joint channel attention.

Research use only — not a diagnostic device.

Public API::

    from cp_predict import load_skeletons, load_model, predict, train, generate, GeneratorConfig
    model = load_model()                      # the shipped default (weights/cp_attention.pt)
    results = predict(model, load_skeletons("infants.npz"))
"""

from __future__ import annotations

__version__ = "0.1.0"
RESEARCH_NOTICE = "Research use only — not a diagnostic device"

_EXPORTS = {
    "SkeletonSet": "cp_predict.data",
    "validate_skeletons": "cp_predict.data",
    "load_skeletons": "cp_predict.formats",
    "save_npz": "cp_predict.formats",
    "GeneratorConfig": "cp_predict.simulate",
    "generate": "cp_predict.simulate",
    "PreprocessConfig": "cp_predict.preprocess",
    "prepare": "cp_predict.preprocess",
    "TrainConfig": "cp_predict.models",
    "create_model": "cp_predict.models",
    "train": "cp_predict.training",
    "evaluate": "cp_predict.training",
    "TrainedModel": "cp_predict.training",
    "Prediction": "cp_predict.predictor",
    "load_model": "cp_predict.predictor",
    "save_model": "cp_predict.predictor",
    "predict": "cp_predict.predictor",
    "JOINT_NAMES": "cp_predict.skeleton",
}

__all__ = ["RESEARCH_NOTICE", "__version__", *_EXPORTS]


def __getattr__(name: str):
    """Import lazily so ``import cp_predict`` stays cheap (no torch until a model is needed)."""
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'cp_predict' has no attribute {name!r}")
