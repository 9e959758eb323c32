"""Saved models and predictions: the Python API behind ``cp_predict predict`` and the demo tab.

A model directory holds ``model.pt`` (weights_only-loadable: pre-processing settings, the final model,
its temperature and the cross-validation fold models), ``report.json`` (how it was evaluated) and
``card.json``. :func:`load_model` also accepts a single ``.pt`` file (the shipped default is
``weights/cp_attention.pt`` beside ``weights/cp_attention.json``).

Each :class:`Prediction` carries the calibrated risk probability, an **uncertainty band** - the 2.5-97.5 %
range of the probabilities given by the cross-validation fold models (each trained without some infants),
i.e. how much the answer depends on which infants the model was trained on; it is not a confidence interval
for the infant's true risk - the per-joint importance, a joint x time importance map and the data-quality
report. Everything is labelled research use only.
"""

from __future__ import annotations

import json
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core_pruning.utils import InputError, atomic_save, atomic_write_text, weights_file
from cp_predict import RESEARCH_NOTICE
from cp_predict.data import SkeletonSet
from cp_predict.models import model_from_state
from cp_predict.preprocess import PreprocessConfig, prepare
from cp_predict.quality import quality_report
from cp_predict.skeleton import JOINT_NAMES
from cp_predict.training import TrainedModel, calibrated_outputs

FORMAT = "cp_predict-model/1"
MODEL_FILE = "model.pt"
DEFAULT_WEIGHTS = "cp_attention.pt"


@dataclass
class Prediction:
    """One infant's result; :meth:`to_json` gives the CLI's ``--json`` record."""

    name: str
    probability: float
    interval: tuple[float, float]
    joint_importance: dict[str, float] | None
    joint_time_importance: np.ndarray | None  # (T, 18) at the model's frame rate, max 1
    quality: dict[str, Any]
    fps: float = 25.0
    notice: str = RESEARCH_NOTICE
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self, include_map: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "probability": round(self.probability, 4),
            "interval": [round(self.interval[0], 4), round(self.interval[1], 4)],
            "joint_importance": None if self.joint_importance is None
            else {k: round(v, 4) for k, v in self.joint_importance.items()},
            "quality": self.quality,
        }
        if include_map and self.joint_time_importance is not None:
            out["joint_time_importance"] = {"fps": self.fps, "joints": list(JOINT_NAMES),
                                            "values": np.round(self.joint_time_importance, 3).tolist()}
        return out


def save_model(trained: TrainedModel, out_dir: str | Path, card: dict[str, Any] | None = None) -> Path:
    """Write ``model.pt``, ``report.json`` and ``card.json`` into ``out_dir`` (atomically, file by file)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    atomic_save(checkpoint_of(trained), out / MODEL_FILE)
    atomic_write_text(json.dumps(trained.report, indent=2, ensure_ascii=False) + "\n", out / "report.json")
    if card is not None:
        atomic_write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", out / "card.json")
    return out / MODEL_FILE


def checkpoint_of(trained: TrainedModel) -> dict[str, Any]:
    """The ``model.pt`` payload: plain tensors, numbers, strings (loads with ``weights_only=True``)."""
    return {
        "format": FORMAT,
        "model_name": trained.model_name,
        "preprocess": trained.preprocess.to_dict(),
        "final": trained.final.state(),
        "temperature": float(trained.temperature),
        "folds": [m.state() for m in trained.folds],
        "report": json.dumps(trained.report),
    }


def load_model(path: str | Path | None = None) -> TrainedModel:
    """Load a model directory or ``.pt`` file (default: the shipped ``weights/cp_attention.pt``)."""
    p = Path(path) if path is not None else _default_weights()
    if p.is_dir():
        p = p / MODEL_FILE
    if not p.is_file():
        raise InputError(f"model file {p} not found (train one with: python -m cp_predict train --data ... --out DIR)")
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, zipfile.BadZipFile, EOFError, ValueError, OSError) as exc:
        raise InputError(f"{p}: not a readable cp_predict model ({str(exc).strip().splitlines()[0][:120]})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise InputError(f"{p}: not a cp_predict model file (format {FORMAT!r} expected)")
    try:
        return TrainedModel(
            model_name=ckpt["model_name"],
            preprocess=PreprocessConfig.from_dict(ckpt["preprocess"]),
            final=model_from_state(ckpt["final"]),
            temperature=float(ckpt["temperature"]),
            folds=[model_from_state(s) for s in ckpt["folds"]],
            report=json.loads(ckpt.get("report", "{}")),
        )
    except (KeyError, ValueError, RuntimeError, TypeError) as exc:
        raise InputError(f"{p}: damaged cp_predict model ({str(exc).strip().splitlines()[0][:120]})") from None


def _default_weights() -> Path:
    try:
        return weights_file(DEFAULT_WEIGHTS)
    except FileNotFoundError as exc:
        raise InputError(str(exc)) from None


def predict(trained: TrainedModel, skeletons: SkeletonSet, with_map: bool = True) -> list[Prediction]:
    """Predictions for every infant of ``skeletons``, in input order."""
    pre = trained.preprocess
    x = prepare(skeletons, pre)
    probs, fold_probs, importance = calibrated_outputs(trained, x)  # importance: mean over the CV models
    maps = trained.final.joint_time_map(x, pre.fps) if with_map else None
    out = []
    for i, name in enumerate(skeletons.names):
        samples = np.append(fold_probs[:, i], probs[i])
        lo, hi = np.percentile(samples, [2.5, 97.5])
        imp = None
        if importance is not None:
            total = float(importance[i].sum()) or 1.0
            imp = {joint: float(w) / total for joint, w in zip(JOINT_NAMES, importance[i], strict=True)}
        out.append(Prediction(
            name=name,
            probability=float(probs[i]),
            interval=(float(min(lo, probs[i])), float(max(hi, probs[i]))),
            joint_importance=imp,
            joint_time_importance=None if maps is None else maps[i].astype(np.float32),
            quality=quality_report(skeletons.data[i], skeletons.fps, pre.conf_threshold),
            fps=pre.fps,
        ))
    return out
