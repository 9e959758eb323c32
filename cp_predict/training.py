"""Subject-disjoint evaluation, calibration and the final model: what ``cp_predict train`` does.

1. Split the infants subject-disjointly: leave-one-subject-out for small sets (``auto``: up to
   :data:`LOSO_MAX_SUBJECTS` subjects), stratified group k-fold otherwise. Recordings that share a
   ``subject`` never straddle train and test.
2. Fit a fresh model per fold; collect out-of-fold logits.
3. Calibrate them, cross-fitted (:mod:`cp_predict.calibration`: class-balanced Platt scaling by default,
   or temperature only), and compute the metrics with 95 % intervals (:mod:`cp_predict.metrics`).
4. Fit the final model on all infants; its calibration is fitted on all out-of-fold logits. The fold
   models are kept: their spread gives each prediction's uncertainty band.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.model_selection import LeaveOneGroupOut, StratifiedGroupKFold

from cp_predict.calibration import (
    DEFAULT_CALIBRATION,
    Calibration,
    check_method,
    cross_fitted_probabilities,
    fit_calibration,
)
from cp_predict.data import SkeletonSet
from cp_predict.interval import conformal_calibration
from cp_predict.metrics import classification_report
from cp_predict.models import RiskModel, TrainConfig, create_model
from cp_predict.models.neural import FINE_TUNE_LR_FACTOR
from cp_predict.preprocess import PreprocessConfig, prepare
from cp_predict.quality import require_frame_rate
from cp_predict.simulate import planted_joints_of
from cp_predict.skeleton import JOINT_NAMES
from prunelab.errors import InputError

LOSO_MAX_SUBJECTS = 30
CV_CHOICES = ("auto", "loso", "kfold")


@dataclass
class TrainedModel:
    """Everything prediction needs, plus how it was evaluated (saved by :mod:`cp_predict.predictor`)."""

    model_name: str
    preprocess: PreprocessConfig
    final: RiskModel
    calibration: Calibration
    folds: list[RiskModel] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)


def split_folds(labels: np.ndarray, subjects: list[str], cv: str = "auto", k: int = 5, seed: int = 0
                ) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(train_idx, test_idx), ...]`` with no subject in both; see the module docstring for ``cv``."""
    if cv not in CV_CHOICES:
        raise InputError(f"unknown {{option}} {cv!r} (choose from {', '.join(CV_CHOICES)})", option="cv")
    groups = np.unique(np.asarray(subjects), return_inverse=True)[1]
    n_groups = int(groups.max()) + 1
    if cv == "auto":
        cv = "loso" if n_groups <= LOSO_MAX_SUBJECTS else "kfold"
    if n_groups < 2:
        raise InputError("cross-validation needs at least 2 subjects")
    dummy = np.zeros(len(labels))
    if cv == "loso":
        return list(LeaveOneGroupOut().split(dummy, labels, groups))
    counts = np.bincount(labels, minlength=2)
    if counts.min() < k:
        raise InputError(f"{{option}} kfold with k={k} needs at least {k} infants per class, found {counts.tolist()}",
                         option="cv")
    return list(StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(dummy, labels, groups))


def train_config_for(skeletons: SkeletonSet, base: TrainConfig | None = None) -> tuple[TrainConfig, list[str]]:
    """The training settings, unchanged whatever the data (no special case for generated files), with notes.

    The note says when left/right flip augmentation is on, because then the joint explanation cannot tell
    the sides apart (:mod:`cp_predict.augment`).
    """
    cfg = base or TrainConfig()
    notes = []
    if cfg.augment.flip:
        notes.append("left/right flip augmentation on: joint importance cannot tell a joint from its mirror "
                     "image (see cp_predict.augment)")
    return cfg, notes


def train(
    skeletons: SkeletonSet,
    model_name: str = "attention",
    cv: str = "auto",
    k: int = 5,
    seed: int = 0,
    train_config: TrainConfig | None = None,
    preprocess_config: PreprocessConfig | None = None,
    net_config: dict[str, Any] | None = None,
    test: SkeletonSet | None = None,
    progress: Callable[[str], None] | None = None,
    init: TrainedModel | None = None,
    init_source: str | None = None,
    calibration: str = DEFAULT_CALIBRATION,
) -> TrainedModel:
    """Cross-validate, calibrate and fit the final model; optionally evaluate on a held-out ``test`` set.

    ``init``: fine-tune instead of training from scratch -- every fold model and the final model start from
    ``init``'s final network (same architecture and pre-processing; learning rate times
    :data:`FINE_TUNE_LR_FACTOR`), so a user's own recordings adapt a shipped or trained model.
    ``calibration``: ``balanced`` or ``temperature`` (:data:`~cp_predict.calibration.CALIBRATION_CHOICES`; why
    ``balanced`` is the default: :mod:`cp_predict.calibration`).
    """
    say = progress or (lambda _msg: None)
    check_method(calibration)
    labels = skeletons.require_labels()
    if len(np.unique(labels)) < 2:
        raise InputError("training needs infants of both classes (labels 0 and 1)")
    require_frame_rate(skeletons.fps, "training data")
    pre = preprocess_config or PreprocessConfig()
    start_from = None
    if init is not None:
        if init.model_name != model_name or not hasattr(init.final, "net"):
            raise InputError(f"{{option}} needs a neural model of the same kind ({init.model_name}); "
                             f"fine-tuning a {model_name!r} model from it is not possible", option="init")
        pre = init.preprocess
        net_config = dict(init.final.net_config)
        train_config = train_config or init.final.train_config
        start_from = init.final
    cfg, notes = train_config_for(skeletons, train_config)
    fit_extra = {} if start_from is None else {"init": start_from}
    if start_from is not None:
        notes.append(f"fine-tuned from {init_source or 'a given model'} (learning rate x {FINE_TUNE_LR_FACTOR:g})")
    x = prepare(skeletons, pre)
    folds = split_folds(labels, skeletons.subjects, cv, k, seed)
    oof = np.zeros(len(labels))
    fold_of = np.zeros(len(labels), dtype=int)
    fold_models: list[RiskModel] = []
    started = time.time()
    for f, (tr, te) in enumerate(folds):
        say(f"fold {f + 1}/{len(folds)}: train {len(tr)}, test {len(te)}")
        model = create_model(model_name, cfg, net_config).fit(x[tr], labels[tr], pre.fps, seed=seed + 1000 * (f + 1),
                                                              **fit_extra)
        oof[te] = model.decision_function(x[te], pre.fps)
        fold_of[te] = f
        fold_models.append(model)
    probs, fold_calibrations = cross_fitted_probabilities(oof, labels, fold_of, calibration)
    final_calibration = fit_calibration(oof, labels, calibration)
    say("final model on all infants")
    final = create_model(model_name, cfg, net_config).fit(x, labels, pre.fps, seed=seed, **fit_extra)
    scheme = "loso" if len(folds) == len(set(skeletons.subjects)) and cv != "kfold" else f"stratified {len(folds)}-fold"
    report: dict[str, Any] = {
        "model": model_name,
        "data": {"n": len(skeletons), "n_at_risk": int(labels.sum()), "frames": skeletons.num_frames,
                 "fps": skeletons.fps, "planted_joints": planted_joints_of(skeletons)},
        "cv": {"scheme": scheme, "folds": len(folds), "seed": seed,
               "fold_sizes": [{"train": len(tr), "test": len(te)} for tr, te in folds],
               "metrics": classification_report(labels, probs, seed=seed),
               "fold_calibrations": [c.to_dict() for c in fold_calibrations],
               "out_of_fold": [{"name": n, "label": int(y), "probability": float(p), "logit": float(z)}
                               for n, y, p, z in zip(skeletons.names, labels, probs, oof, strict=True)]},
        "calibration": final_calibration.to_dict(),
        "train_config": cfg.to_dict() if model_name in ("attention", "stgcn") else {},
        # the network's own settings, defaults included (e.g. which attention module), as its state records them
        "net_config": (dict(getattr(final, "net_config", None) or net_config or {})
                       if model_name in ("attention", "stgcn") else {}),
        "preprocess": pre.to_dict(),
        "seeds": {"split": seed, "folds": [seed + 1000 * (f + 1) for f in range(len(folds))], "final": seed},
        "init": init_source if start_from is not None else None,
        "conformal": conformal_calibration(labels, probs),
        "cohort_importance": _cohort_importance(final, x, pre.fps),
        "notes": notes,
        "train_seconds": round(time.time() - started, 1),
    }
    trained = TrainedModel(model_name, pre, final, final_calibration, fold_models, report)
    if test is not None:
        report["test"] = evaluate(trained, test, seed=seed)
    return trained


def _cohort_importance(model: RiskModel, x: np.ndarray, fps: float) -> dict[str, float] | None:
    """Mean per-joint importance (each infant's normalised to sum 1) over the training infants, or None.

    Shown beside each infant's own importance so a reader sees what is specific to that infant.
    """
    if not getattr(model, "cheap_importance", False):
        return None
    imp = model.joint_importance(x, fps)
    mean = (imp / np.maximum(imp.sum(axis=1, keepdims=True), 1e-12)).mean(axis=0)
    return {j: round(float(w), 5) for j, w in zip(JOINT_NAMES, mean, strict=True)}


def calibrated_probabilities(trained: TrainedModel, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Final-model probabilities ``(N,)`` and fold-model probabilities ``(K, N)``, all calibrated."""
    probs, folds, _ = calibrated_outputs(trained, x, with_importance=False)
    return probs, folds


def calibrated_outputs(trained: TrainedModel, x: np.ndarray, with_importance: bool = True
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Final and fold probabilities as :func:`calibrated_probabilities`, plus the joint importance ``(N, 18)``.

    The importance is the mean, over the final model and every fold model, of each model's per-infant
    importance normalised to sum 1 -- where it comes with the forward pass (``cheap_importance``); otherwise
    (e.g. ST-GCN's Grad-CAM) the final model's alone. Why: one network's joint ranking depends on its seed
    (on generated infants with two planted joints, 2 of 5 seeds put a non-planted joint in the top two), and
    the cross-validation models are already there for the uncertainty band.
    """
    fps = trained.preprocess.fps

    def outputs(model, importance: bool) -> tuple[np.ndarray, np.ndarray | None]:
        return model.decision_and_importance(x, fps) if importance else (model.decision_function(x, fps), None)

    logits, importance = outputs(trained.final, with_importance)
    members = [] if importance is None else [importance]
    fold_logits = []
    for model in trained.folds:
        fold_logit, fold_importance = outputs(model, bool(members) and trained.final.cheap_importance
                                              and model.cheap_importance)
        fold_logits.append(fold_logit)
        if fold_importance is not None:
            members.append(fold_importance)
    probs = trained.calibration.probability(logits)
    folds = np.array([trained.calibration.probability(f) for f in fold_logits]).reshape(len(trained.folds), len(x))
    if not members:
        return probs, folds, None
    normalised = [m / np.maximum(m.sum(axis=1, keepdims=True), 1e-12) for m in members]
    return probs, folds, np.mean(normalised, axis=0)


def evaluate(trained: TrainedModel, skeletons: SkeletonSet, seed: int = 0) -> dict[str, Any]:
    """Metrics with 95 % intervals of the final calibrated model on a labelled set."""
    labels = skeletons.require_labels()
    x = prepare(skeletons, trained.preprocess)
    probs, _ = calibrated_probabilities(trained, x)
    return {"n": len(skeletons), "metrics": classification_report(labels, probs, seed=seed),
            "planted_joints": planted_joints_of(skeletons)}
