"""``cp_predict evaluate``: a saved model's calibrated metrics on labelled data, plus explanation checks.

The explanation checks (:mod:`cp_predict.explain`) run on the final model's per-joint importance:
deletion/insertion against random orders on up to ``max_infants`` infants (a seeded, class-stratified
subset, because each random order costs 2 x 19 forward passes), the cascading weight-randomisation check,
and, when the file records planted joints, planted-joint precision@k; and per infant
(:func:`per_infant_summary`): the spread of the explanations across infants, the agreement of attention,
occlusion and Grad-CAM, and deletion/insertion against random orders infant by infant.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cp_predict.data import SkeletonSet
from cp_predict.explain import (
    deletion_insertion,
    occlusion_importance,
    per_infant_deletion_insertion,
    planted_recovery,
    randomisation_check,
    rank_agreement,
)
from cp_predict.metrics import format_metric
from cp_predict.preprocess import prepare
from cp_predict.simulate import planted_joints_of
from cp_predict.skeleton import JOINT_NAMES
from cp_predict.training import TrainedModel, evaluate

METRIC_NAMES = ("accuracy", "balanced_accuracy", "auc", "sensitivity", "specificity", "brier", "ece")


def stratified_subset(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Up to ``size`` indices keeping the class ratio (all of them when the set is small enough)."""
    if len(labels) <= size:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    n_pos = int(round(size * len(pos) / len(labels)))
    chosen = [rng.choice(pos, n_pos, replace=False), rng.choice(neg, size - n_pos, replace=False)]
    return np.sort(np.concatenate(chosen))


def evaluate_with_explanations(trained: TrainedModel, data: SkeletonSet, explain: bool = False, n_random: int = 100,
                               max_infants: int = 100, seed: int = 0) -> dict[str, Any]:
    report: dict[str, Any] = {"model": trained.model_name, **evaluate(trained, data, seed=seed)}
    if not explain:
        return report
    fps = trained.preprocess.fps
    labels = data.require_labels()
    x = prepare(data, trained.preprocess)
    importance = trained.final.joint_importance(x, fps)
    if importance is None:
        reason = f"model {trained.model_name!r} gives no joint importance"
        report["explanations"] = {"supported": False, "reason": reason}
        return report
    subset = stratified_subset(labels, max_infants, seed)
    explanations: dict[str, Any] = {"supported": True}
    explanations["deletion_insertion"] = deletion_insertion(trained.final, x[subset], fps, importance[subset],
                                                            n_random=n_random, seed=seed)
    explanations["randomisation"] = randomisation_check(trained.final, x[subset], fps, seed=seed)
    planted = planted_joints_of(data)
    if planted:
        explanations["planted"] = planted_recovery(importance, labels, planted)
    explanations["per_infant"] = per_infant_summary(trained, x[subset], importance[subset], seed=seed)
    report["explanations"] = explanations
    return report


def per_infant_summary(trained: TrainedModel, x: np.ndarray, importance: np.ndarray, seed: int = 0
                       ) -> dict[str, Any]:
    """How much the explanation is about *this* infant, and whether its kinds agree (issue 18).

    Spread: per joint, the standard deviation across infants of its share of importance (each infant's normalised
    to sum 1), for the attention and the occlusion importance. Agreement: mean per-infant Spearman correlation of
    attention with occlusion and with Grad-CAM averaged over time. Deletion/insertion per infant: the fraction of
    infants whose attention (occlusion) order deletes faster / inserts faster than the mean of 20 random orders.
    """
    fps = trained.preprocess.fps
    occ = occlusion_importance(trained.final, x, fps)
    att = importance / np.maximum(importance.sum(axis=1, keepdims=True), 1e-12)
    cam_map = trained.final.joint_time_map(x, fps)
    out: dict[str, Any] = {"n_infants": int(len(x))}
    for name, imp in (("attention", att), ("occlusion", occ)):
        sd = imp.std(axis=0)
        out[f"{name}_spread"] = {"max_sd": round(float(sd.max()), 4), "mean_sd": round(float(sd.mean()), 4),
                                 "joint_with_max_sd": JOINT_NAMES[int(sd.argmax())],
                                 "distinct_top_joints": sorted({JOINT_NAMES[i] for i in imp.argmax(axis=1)})}
    out["spearman_attention_occlusion"] = round(float(np.nanmean(rank_agreement(att, occ))), 4)
    if cam_map is not None:
        out["spearman_attention_gradcam"] = round(float(np.nanmean(rank_agreement(att, cam_map.mean(axis=1)))), 4)
    checks = per_infant_deletion_insertion(trained.final, x, fps, {"attention": att, "occlusion": occ}, seed=seed)
    for name in ("attention", "occlusion"):
        out[f"{name}_deletion_beats_random"] = round(float(np.mean(
            [c["deletion"][name] < c["deletion"]["random_mean"] for c in checks])), 4)
        out[f"{name}_insertion_beats_random"] = round(float(np.mean(
            [c["insertion"][name] > c["insertion"]["random_mean"] for c in checks])), 4)
    return out


def evaluation_text(report: dict[str, Any]) -> str:
    lines = [f"model {report['model']} on {report['n']} infants (95% intervals):"]
    lines += [f"  {name:18s} {format_metric(report['metrics'][name])}" for name in METRIC_NAMES]
    exp = report.get("explanations")
    if exp and exp.get("supported"):
        for kind in ("deletion", "insertion"):
            d = exp["deletion_insertion"][kind]
            lines.append(f"  {kind} area {d['area']:.3f} vs random {d['random_mean']:.3f} +- {d['random_sd']:.3f} "
                         f"({100 * d['fraction_random_better']:.0f}% of {exp['deletion_insertion']['n_random']} "
                         "random orders do better)")
        for step in exp["randomisation"]:
            lines.append(f"  randomised {'+'.join(step['layers'])}: Spearman with trained importance "
                         f"{step['spearman']:.2f}")
        if "planted" in exp:
            p = exp["planted"]
            lines.append(f"  planted {','.join(p['planted_joints'])}: precision@{p['k']} "
                         f"{p['precision_at_k_mean_importance']:.2f} (mean importance), "
                         f"{p['precision_at_k_per_at_risk_infant']:.2f} (per at-risk infant)")
        if "per_infant" in exp:
            q = exp["per_infant"]
            lines.append(f"  per infant ({q['n_infants']}): attention spread max sd "
                         f"{q['attention_spread']['max_sd']:.3f}, "
                         f"occlusion {q['occlusion_spread']['max_sd']:.3f}; Spearman attention-occlusion "
                         f"{q['spearman_attention_occlusion']:.2f}, attention-Grad-CAM "
                         f"{q.get('spearman_attention_gradcam', float('nan')):.2f}; deletion beats random for "
                         f"{100 * q['attention_deletion_beats_random']:.0f}% (attention) / "
                         f"{100 * q['occlusion_deletion_beats_random']:.0f}% (occlusion) of infants")
    elif exp:
        lines.append(f"  explanations: {exp['reason']}")
    return "\n".join(lines)
