"""``cp_predict evaluate``: a saved model's calibrated metrics on labelled data, plus explanation checks.

The explanation checks (:mod:`cp_predict.explain`) run on the final model's per-joint importance:
deletion/insertion against random orders on up to ``max_infants`` infants (a seeded, class-stratified
subset, because each random order costs 2 x 19 forward passes), the cascading weight-randomisation check,
and, when the file records planted joints, planted-joint precision@k.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cp_predict.data import SkeletonSet
from cp_predict.explain import deletion_insertion, planted_recovery, randomisation_check
from cp_predict.metrics import format_metric
from cp_predict.preprocess import prepare
from cp_predict.simulate import planted_joints_of
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
    report["explanations"] = explanations
    return report


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
    elif exp:
        lines.append(f"  explanations: {exp['reason']}")
    return "\n".join(lines)
