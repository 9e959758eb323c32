"""Saved models and predictions: the Python API behind ``cp_predict predict`` and the demo tab.

A model directory holds ``model.pt`` (weights_only-loadable: pre-processing settings, the final model,
its calibration and the cross-validation fold models), ``report.json`` (how it was evaluated) and
``card.json``. :func:`load_model` also accepts a single ``.pt`` file (the shipped default is
``weights/cp_attention.pt`` beside ``weights/cp_attention.json``).

Each :class:`Prediction` carries the quality gate's verdict (:func:`cp_predict.quality.assessability`;
a recording that is not assessable gets no probability), the calibrated risk probability with a 90 %
**split-conformal interval** (:mod:`cp_predict.interval`: it contains the true label for at least 90 % of
infants like the training infants; coverage measured in docs/cp_predict.md), the per-joint importance (attention,
mean of the final and fold models) beside the cohort average and a per-infant occlusion importance, their
rank agreement, the left/right asymmetry of importance and movement, a joint x time Grad-CAM map and the
data-quality report. Everything is labelled research use only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cp_predict import RESEARCH_NOTICE
from cp_predict.calibration import Calibration
from cp_predict.data import SkeletonSet
from cp_predict.interval import conformal_calibration, conformal_interval, prediction_set
from cp_predict.models import model_from_state
from cp_predict.preprocess import PreprocessConfig, prepare
from cp_predict.quality import assessability, quality_report, require_frame_rate
from cp_predict.skeleton import JOINT_NAMES
from cp_predict.training import TrainedModel, calibrated_outputs
from prunelab.errors import InputError
from prunelab.io import atomic_save, atomic_write_text
from prunelab.paths import weights_file

FORMAT = "cp_predict-model/1"
MODEL_FILE = "model.pt"
DEFAULT_WEIGHTS = "cp_attention.pt"


@dataclass
class Prediction:
    """One infant's result; :meth:`to_json` gives the CLI's ``--json`` record."""

    name: str
    probability: float | None  # None when the recording is not assessable
    interval: tuple[float, float] | None
    joint_importance: dict[str, float] | None
    joint_time_importance: np.ndarray | None  # (T, 18) at the model's frame rate, max 1
    quality: dict[str, Any]
    fps: float = 25.0
    notice: str = RESEARCH_NOTICE
    extra: dict[str, Any] = field(default_factory=dict)
    assessment: dict[str, Any] = field(default_factory=lambda: {"assessable": True, "verdict": "assessable",
                                                                "reasons": []})

    @property
    def assessable(self) -> bool:
        return bool(self.assessment.get("assessable", True))

    def to_json(self, include_map: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "assessment": self.assessment,
            "probability": None if self.probability is None else round(self.probability, 4),
            "interval": None if self.interval is None else [round(self.interval[0], 4), round(self.interval[1], 4)],
            "joint_importance": None if self.joint_importance is None
            else {k: round(v, 4) for k, v in self.joint_importance.items()},
            "quality": self.quality,
            **self.extra,
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
        "temperature": float(trained.calibration.temperature),
        "intercept": float(trained.calibration.intercept),
        "calibration": trained.calibration.method,
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
    except PermissionError:
        raise
    except Exception as exc:  # corrupt zip, truncated or legacy pickle (IndexError on a 1-byte file), not torch
        # PyTorch's own text is left out: it advises weakening weights_only, which we never do
        raise InputError(f"{p}: not a readable cp_predict model (damaged, or not a PyTorch checkpoint: "
                         f"{type(exc).__name__})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise InputError(f"{p}: not a cp_predict model file (format {FORMAT!r} expected)")
    try:
        return TrainedModel(
            model_name=ckpt["model_name"],
            preprocess=PreprocessConfig.from_dict(ckpt["preprocess"]),
            final=model_from_state(ckpt["final"]),
            # files before the intercept existed were temperature-scaled only
            calibration=Calibration(float(ckpt["temperature"]), float(ckpt.get("intercept", 0.0)),
                                    str(ckpt.get("calibration", "temperature"))),
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


def conformal_q(trained: TrainedModel) -> float:
    """The model's conformal quantile (from its report; recomputed from the stored out-of-fold results of models
    saved before intervals were conformal; 1.0 when neither is there)."""
    stored = trained.report.get("conformal")
    if stored and "q" in stored:
        return float(stored["q"])
    oof = trained.report.get("cv", {}).get("out_of_fold") or []
    if not oof:
        return 1.0
    return conformal_calibration(np.array([r["label"] for r in oof]), np.array([r["probability"] for r in oof]))["q"]


def cohort_importance(trained: TrainedModel) -> tuple[dict[str, float] | None, str]:
    """Mean joint importance of the model's training infants (from its report) and where it comes from.

    Models saved before the report recorded it get the mean over 40 freshly generated infants (fixed seed) and
    say so.
    """
    stored = trained.report.get("cohort_importance")
    if stored:
        return dict(stored), "mean over the model's training infants"
    if not trained.final.cheap_importance:
        return None, ""
    from cp_predict.simulate import GeneratorConfig, generate

    x = prepare(generate(GeneratorConfig(n=40, seed=COHORT_SEED)), trained.preprocess)
    imp = trained.final.joint_importance(x, trained.preprocess.fps)
    mean = (imp / np.maximum(imp.sum(axis=1, keepdims=True), 1e-12)).mean(axis=0)
    return ({j: float(w) for j, w in zip(JOINT_NAMES, mean, strict=True)},
            f"mean over 40 generated infants (seed {COHORT_SEED}); the model's report does not record its own")


COHORT_SEED = 4242
AGREEMENT_NOTE = ("attention = the weights the model gives each joint, computed from this infant's movement "
                  "(per-joint attention: from that joint's own movement, plus a learned per-joint prior); "
                  "occlusion (freeze one joint) and Grad-CAM = where this infant's input changed the score. They "
                  "measure different things, so their rank correlation is reported rather than assumed. Freezing "
                  "is no neutral reference for an at-risk prediction (a still joint itself looks abnormal), so "
                  "occlusion is the weaker guide; on generated infants it found the planted joints less often "
                  "than the attention (docs/cp_predict.md)")


def predict(trained: TrainedModel, skeletons: SkeletonSet, with_map: bool = True,
            check_explanations: bool = False) -> list[Prediction]:
    """Predictions for every infant of ``skeletons``, in input order.

    Refuses (``InputError``) a frame rate below :data:`cp_predict.quality.MIN_ASSESSABLE_FPS`; an infant the
    quality gate finds not assessable gets ``probability = interval = None`` and the gate's reasons.
    ``check_explanations`` adds per-infant deletion/insertion areas (attention and occlusion orders vs 20
    random orders; 2 x 19 x 22 forward passes).
    """
    from cp_predict.explain import occlusion_importance, per_infant_deletion_insertion, rank_agreement, side_asymmetry

    require_frame_rate(skeletons.fps, skeletons.names[0] if len(skeletons) == 1 else "input")
    pre = trained.preprocess
    x = prepare(skeletons, pre)
    probs, _fold_probs, importance = calibrated_outputs(trained, x)  # importance: mean over the CV models
    maps = trained.final.joint_time_map(x, pre.fps) if with_map else None
    q = conformal_q(trained)
    occlusion = occlusion_importance(trained.final, x, pre.fps) if importance is not None else None
    cohort, cohort_source = cohort_importance(trained) if importance is not None else (None, "")
    asymmetry = side_asymmetry(importance, x, pre.fps)
    agree_occ = rank_agreement(importance, occlusion) if importance is not None else None
    agree_map = rank_agreement(importance, maps.mean(axis=1)) if importance is not None and maps is not None else None
    checks = None
    if check_explanations and importance is not None:
        checks = per_infant_deletion_insertion(trained.final, x, pre.fps,
                                               {"attention": importance, "occlusion": occlusion})
    gaps = skeletons.meta.get("frame_gaps")
    out = []
    for i, name in enumerate(skeletons.names):
        imp = None
        if importance is not None:
            total = float(importance[i].sum()) or 1.0
            imp = {joint: float(w) / total for joint, w in zip(JOINT_NAMES, importance[i], strict=True)}
        quality = quality_report(skeletons.data[i], skeletons.fps, pre.conf_threshold)
        if gaps is not None:
            quality["frame_gaps"] = json.loads(str(np.asarray(gaps).reshape(-1)[i] if np.ndim(gaps) else gaps))
            if quality["frame_gaps"].get("inserted_frames"):
                quality["warnings"].append(f"{quality['frame_gaps']['inserted_frames']} missing frame numbers "
                                           "filled by interpolation")
        gate = assessability(skeletons.data[i], skeletons.fps, pre.conf_threshold)
        quality["gate"] = gate
        extra: dict[str, Any] = {"asymmetry": asymmetry[i]}
        if importance is not None:
            extra["joint_importance_cohort"] = None if cohort is None else {k: round(v, 4) for k, v in cohort.items()}
            extra["joint_importance_cohort_source"] = cohort_source
            extra["joint_occlusion"] = {j: round(float(w), 4) for j, w in zip(JOINT_NAMES, occlusion[i], strict=True)}
            extra["explanation_agreement"] = {
                "spearman_attention_occlusion": _round_or_none(agree_occ[i]),
                "spearman_attention_gradcam": None if agree_map is None else _round_or_none(agree_map[i]),
                "note": AGREEMENT_NOTE}
            if checks is not None:
                extra["explanation_checks"] = checks[i]
        p = float(probs[i])
        interval = conformal_interval(p, q)
        if gate["assessable"]:
            extra["interval_meaning"] = (f"90% split-conformal interval (q = {q:.3f}): contains the true label "
                                         "(0 = not at risk, 1 = at risk) for at least 90% of infants like the "
                                         "training infants")
            extra["prediction_set"] = prediction_set(interval)
        out.append(Prediction(
            name=name,
            probability=p if gate["assessable"] else None,
            interval=interval if gate["assessable"] else None,
            joint_importance=imp,
            joint_time_importance=None if maps is None else maps[i].astype(np.float32),
            quality=quality,
            fps=pre.fps,
            extra=extra,
            assessment=gate,
        ))
    return out


def _round_or_none(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 4)
