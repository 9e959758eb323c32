"""Checks that the explanations mean something (they are tested, not just drawn).

* **Deletion / insertion curves** (Petsiuk et al., 2018, adapted to joints): joints are "deleted" by
  freezing them at their mean position (their movement is removed, the posture kept), in the order of
  the explanation's importance; the score is the model's probability for the class it predicted on the
  intact input. A faithful ranking makes the deletion curve fall faster (smaller area) and the insertion
  curve (start with every joint frozen, unfreeze the most important first) rise faster (larger area)
  than random orders: we compare with 100 random orders and report the fraction that do better.
* **Model-randomisation sanity check** (Adebayo et al., 2018): layers are re-initialised top-down
  (cascading); an explanation that does not change (high Spearman rank correlation with the trained
  model's) does not depend on what the model learned there. Note that attention weights cannot react to
  randomising the layers *after* the attention module - the check makes that visible.
* **Planted-joint recovery**: on generated data whose abnormal dynamics were planted in known joints,
  precision@k of the top-k joints (k = number of planted joints).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import spearmanr

from cp_predict.calibration import sigmoid
from cp_predict.models.base import RiskModel
from cp_predict.skeleton import JOINT_INDEX, NUM_JOINTS


def freeze_joints(x: np.ndarray, frozen: np.ndarray) -> np.ndarray:
    """Copy of ``x`` ``(N, 2, T, V)`` with joints where ``frozen`` ``(N, V)`` is True held at their mean position."""
    out = x.copy()
    mean = np.broadcast_to(x.mean(axis=2, keepdims=True), x.shape)
    mask = np.broadcast_to(frozen[:, None, None, :], x.shape)
    out[mask] = mean[mask]
    return out


def _curves(model: RiskModel, x: np.ndarray, fps: float, orders: np.ndarray, predicted: np.ndarray,
            insertion: bool) -> np.ndarray:
    """Per-infant predicted-class probability ``(N, V + 1)`` after 0..V steps of deleting (inserting) joints."""
    n, v = orders.shape
    values = []
    for step in range(v + 1):
        chosen = np.zeros((n, v), dtype=bool)
        chosen[np.arange(n)[:, None], orders[:, :step]] = True
        frozen = ~chosen if insertion else chosen
        p = sigmoid(model.decision_function(freeze_joints(x, frozen), fps))
        values.append(np.where(predicted, p, 1 - p))
    return np.stack(values, axis=1)


def _curve(model: RiskModel, x: np.ndarray, fps: float, orders: np.ndarray, predicted: np.ndarray,
           insertion: bool) -> np.ndarray:
    """Mean over infants of :func:`_curves`."""
    return _curves(model, x, fps, orders, predicted, insertion).mean(axis=0)


def _area(curve: np.ndarray) -> float:
    """Normalised area under a curve sampled at fractions 0, 1/V, ..., 1 (trapezoid rule)."""
    return float(((curve[1:] + curve[:-1]) / 2).mean())


def _areas(curves: np.ndarray) -> np.ndarray:
    """:func:`_area` of each row of ``(N, V + 1)``."""
    return ((curves[:, 1:] + curves[:, :-1]) / 2).mean(axis=1)


#: Most sequences per model call in :func:`occlusion_importance` (one call for a single infant's 18 joints).
OCCLUSION_BATCH = 256


def occlusion_importance(model: RiskModel, x: np.ndarray, fps: float) -> np.ndarray:
    """Per-infant joint importance ``(N, V)`` by occlusion: how much freezing each joint alone (its movement
    removed, posture kept) lowers the logit of the class the model predicts for *this* infant; clipped at 0
    and normalised to sum 1 (all zeros when no single joint matters).

    Why beside the attention: the attention is the weight the model lets each joint's movement through with
    (the pooled attention of models saved before 2026-12-04 was nearly the same for every infant; the per-joint
    attention since follows each joint's own movement), while occlusion measures where this infant's own
    movement moved the score.
    """
    base = model.decision_function(x, fps)
    sign = np.where(base >= 0, 1.0, -1.0)
    n, _, _, v = x.shape
    effect = np.zeros((n, v))
    per_call = max(1, OCCLUSION_BATCH // n)  # joints whose frozen copies go through the model in one batch
    for first in range(0, v, per_call):
        joints = range(first, min(v, first + per_call))
        copies = []
        for j in joints:
            frozen = np.zeros((n, v), dtype=bool)
            frozen[:, j] = True
            copies.append(freeze_joints(x, frozen))
        scores = model.decision_function(np.concatenate(copies), fps).reshape(len(joints), n)
        effect[:, first:first + len(joints)] = (sign * (base - scores)).T
    effect = np.clip(effect, 0.0, None)
    total = effect.sum(axis=1, keepdims=True)
    return np.where(total > 0, effect / np.maximum(total, 1e-12), 0.0)


def per_infant_deletion_insertion(model: RiskModel, x: np.ndarray, fps: float, rankings: dict[str, np.ndarray],
                                  n_random: int = 20, seed: int = 0) -> list[dict[str, Any]]:
    """Per infant: deletion and insertion areas for each ranking ``(N, V)`` of ``rankings`` and the mean of
    ``n_random`` random orders (a faithful ranking: deletion below, insertion above the random mean)."""
    rng = np.random.default_rng(seed)
    predicted = model.decision_function(x, fps) >= 0
    out: list[dict[str, Any]] = [{} for _ in range(len(x))]
    for kind, insertion in (("deletion", False), ("insertion", True)):
        random_areas = np.mean([_areas(_curves(model, x, fps, np.argsort(rng.random((len(x), NUM_JOINTS)), axis=1),
                                               predicted, insertion)) for _ in range(n_random)], axis=0)
        per = {name: _areas(_curves(model, x, fps, np.argsort(-imp, axis=1), predicted, insertion))
               for name, imp in rankings.items()}
        for i in range(len(x)):
            out[i][kind] = {**{name: round(float(a[i]), 4) for name, a in per.items()},
                            "random_mean": round(float(random_areas[i]), 4)}
    return out


def side_asymmetry(importance: np.ndarray | None, x: np.ndarray, fps: float) -> list[dict[str, Any]]:
    """Per infant: left vs right share of joint importance and of limb movement, each as ``(R - L) / (R + L)``
    in [-1, 1] (positive: the right side dominates), plus the side each points to.

    Movement: mean speed (trunk lengths / s) of the elbows, wrists, knees and ankles of each side; fidgety:
    their velocity power in the 1-4 Hz band. Unilateral problems show as asymmetry, so both are reported.
    """
    right = [JOINT_INDEX[f"r_{p}"] for p in ("elbow", "wrist", "knee", "ankle")]
    left = [JOINT_INDEX[f"l_{p}"] for p in ("elbow", "wrist", "knee", "ankle")]
    lateral_r = [JOINT_INDEX[n] for n in JOINT_INDEX if n.startswith("r_")]
    lateral_l = [JOINT_INDEX[n] for n in JOINT_INDEX if n.startswith("l_")]
    vel = np.diff(x, axis=2) * fps  # (N, 2, T-1, V)
    speed = np.linalg.norm(vel, axis=1)  # (N, T-1, V)
    spec = np.abs(np.fft.rfft(vel, axis=2)) ** 2
    freqs = np.fft.rfftfreq(vel.shape[2], d=1.0 / fps)
    band = (freqs >= 1.0) & (freqs <= 4.0)
    power = spec[:, :, band].sum(axis=(1, 2))  # (N, V)

    def index(r: float, lft: float) -> float:
        return float((r - lft) / (r + lft)) if r + lft > 0 else 0.0

    def side(value: float, margin: float = 0.1) -> str:
        return "right" if value > margin else "left" if value < -margin else "neither"

    out = []
    for i in range(len(x)):
        entry: dict[str, Any] = {}
        if importance is not None:
            imp = index(float(importance[i, lateral_r].sum()), float(importance[i, lateral_l].sum()))
            entry["importance"] = round(imp, 4)
            entry["importance_side"] = side(imp)
        mov = index(float(speed[i][:, right].mean()), float(speed[i][:, left].mean()))
        fid = index(float(power[i, right].sum()), float(power[i, left].sum()))
        entry.update({"movement": round(mov, 4), "movement_side": side(mov), "fidgety_power": round(fid, 4),
                      "meaning": "(right - left) / (right + left); > 0: right side dominates"})
        out.append(entry)
    return out


def rank_agreement(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-infant Spearman rank correlation of two ``(N, V)`` importances (NaN where one is constant)."""
    return np.array([_spearman(a[i], b[i]) for i in range(len(a))])


def deletion_insertion(model: RiskModel, x: np.ndarray, fps: float, importance: np.ndarray,
                       n_random: int = 100, seed: int = 0) -> dict[str, Any]:
    """Deletion/insertion areas for the ranking ``importance`` ``(N, V)`` versus ``n_random`` random rankings."""
    rng = np.random.default_rng(seed)
    predicted = model.decision_function(x, fps) >= 0
    order = np.argsort(-importance, axis=1)
    result: dict[str, Any] = {"n_infants": int(len(x)), "n_random": n_random}
    for kind, insertion in (("deletion", False), ("insertion", True)):
        curve = _curve(model, x, fps, order, predicted, insertion)
        random_areas = np.array([
            _area(_curve(model, x, fps, np.argsort(rng.random((len(x), NUM_JOINTS)), axis=1), predicted, insertion))
            for _ in range(n_random)
        ])
        area = _area(curve)
        better = random_areas > area if insertion else random_areas < area
        result[kind] = {
            "area": area,
            "random_mean": float(random_areas.mean()),
            "random_sd": float(random_areas.std()),
            "fraction_random_better": float(better.mean()),
            "curve": curve.round(4).tolist(),
        }
    return result


def randomisation_check(model: RiskModel, x: np.ndarray, fps: float, seed: int = 0) -> list[dict[str, Any]]:
    """Cascading randomisation: Spearman correlation of per-joint importance, trained vs randomised.

    Returns one entry per cascade step (``layers`` = the groups re-initialised so far, top-down), with the
    mean over infants of the rank correlation. Needs a model with ``layer_groups``/``randomised``.
    """
    base = model.joint_importance(x, fps)
    if base is None or not hasattr(model, "layer_groups"):
        return []
    groups = model.layer_groups()
    out = []
    for depth in range(1, len(groups) + 1):
        twin = model.randomised(seed, groups[:depth])
        imp = twin.joint_importance(x, fps)
        rhos = [_spearman(base[i], imp[i]) for i in range(len(x))]
        out.append({"layers": list(groups[:depth]), "spearman": float(np.nanmean(rhos))})
    return out


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def precision_at_k(importance: np.ndarray, planted: list[str]) -> float:
    """Fraction of the top-k joints (k = len(planted)) of a ``(V,)`` importance vector that were planted."""
    k = len(planted)
    if k == 0:
        raise ValueError("no planted joints")
    top = np.argsort(-np.asarray(importance))[:k]
    return float(len(set(top.tolist()) & {JOINT_INDEX[j] for j in planted}) / k)


def planted_recovery(importance: np.ndarray, labels: np.ndarray, planted: list[str]) -> dict[str, Any]:
    """precision@k of the data-set mean importance, and the mean over at-risk infants of per-infant precision@k."""
    at_risk = np.asarray(labels) == 1
    per_infant = [precision_at_k(importance[i], planted) for i in np.flatnonzero(at_risk)]
    return {
        "planted_joints": list(planted),
        "k": len(planted),
        "precision_at_k_mean_importance": precision_at_k(importance.mean(axis=0), planted),
        "precision_at_k_per_at_risk_infant": float(np.mean(per_infant)) if per_infant else float("nan"),
    }
