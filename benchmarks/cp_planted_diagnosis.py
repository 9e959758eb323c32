"""Why the attention misses planted joints, and what joint dropout changes: measured on a validation set.

On generated infants whose abnormal dynamics were planted in chosen joints (default: the whole left arm and
leg), two tables on a *validation* set (generator seed 3, never the held-out test set of seed 2 that docs/cp_predict.md
reports):

1. How much label information each joint carries on its own: 5-fold cross-validated logistic regression on six
   kinematic features of that joint's trajectory alone (log mean speed, speed CV, log acceleration, 1-4 Hz and
   0.1-0.8 Hz velocity power fractions, log positional spread). Planted joints should be high, the rest ~0.5.
2. The attention model trained with each joint-dropout rate and seed: validation AUC, precision@k, the top
   joints, and the margin = weight of the weakest planted joint in the top k over the strongest non-planted one
   (> 1 means all planted joints come first).

    python benchmarks/cp_planted_diagnosis.py [--dropouts 0,0.2,0.3] [--seeds 0,1,2] [--plant l_wrist,l_ankle]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from cp_common import generated, header, save_json, table
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict

from cp_predict.augment import AugmentConfig
from cp_predict.explain import planted_recovery
from cp_predict.features import band_power_fraction
from cp_predict.metrics import auc_score
from cp_predict.models import TrainConfig, create_model
from cp_predict.preprocess import prepare
from cp_predict.simulate import parse_joint_list
from cp_predict.skeleton import JOINT_INDEX, JOINT_NAMES

FPS = 25.0


def trajectory_features(xy: np.ndarray, fps: float = FPS) -> np.ndarray:
    """Six kinematic features ``(N, 6)`` of one joint's trajectory ``(N, 2, T)`` (see the module docstring)."""
    vel = np.diff(xy, axis=-1) * fps
    speed = np.linalg.norm(vel, axis=1)
    accel = np.linalg.norm(np.diff(vel, axis=-1), axis=1).mean(axis=-1) * fps
    mean_speed = np.maximum(speed.mean(axis=-1), 1e-9)
    return np.stack([np.log(mean_speed), speed.std(axis=-1) / mean_speed, np.log(np.maximum(accel, 1e-9)),
                     band_power_fraction(vel, fps, (1.0, 4.0)).mean(axis=1),
                     band_power_fraction(vel, fps, (0.1, 0.8)).mean(axis=1),
                     np.log(np.maximum(xy.std(axis=-1).sum(axis=1), 1e-9))], axis=1)


def single_joint_auc(x: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Per joint: cross-validated AUC of a logistic regression on that joint's features alone."""
    out = {}
    for name in JOINT_NAMES:
        f = trajectory_features(x[:, :, :, JOINT_INDEX[name]])
        z = (f - f.mean(axis=0)) / np.maximum(f.std(axis=0), 1e-9)
        logit = cross_val_predict(LogisticRegression(max_iter=2000, random_state=seed), z, labels, cv=5,
                                  method="decision_function")
        out[name] = auc_score(labels, logit)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plant", default="l_elbow,l_wrist,l_knee,l_ankle")
    parser.add_argument("--dropouts", default="0,0.2,0.3", help="joint-dropout rates to train with")
    parser.add_argument("--seeds", default="0,1,2", help="training seeds")
    parser.add_argument("--l1", type=float, default=TrainConfig().attention_l1, help="attention L1 penalty")
    parser.add_argument("--n-train", type=int, default=600)
    parser.add_argument("--n-val", type=int, default=400)
    parser.add_argument("--val-seed", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--work", default="runs/cp_bench")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    planted = parse_joint_list(args.plant)
    work = Path(args.work)
    train_set = generated(work, args.n_train, 1, planted)
    val_set = generated(work, args.n_val, args.val_seed, planted)
    x_train, x_val = prepare(train_set), prepare(val_set)
    print(header(f"cp_predict: planted-joint diagnosis ({', '.join(planted)} planted; validation set)"))
    print(f"train: {args.n_train} generated infants (seed 1), validation: {args.n_val} (seed {args.val_seed})\n")
    aucs = single_joint_auc(x_train, train_set.labels)
    print("### Label information of each joint alone (training set, 5-fold CV logistic regression)\n")
    print(table([{"joint": j, "planted": "yes" if j in planted else "", "AUC": f"{aucs[j]:.2f}"}
                 for j in JOINT_NAMES], ["joint", "planted", "AUC"]))
    rows, results = [], {"single_joint_auc": aucs, "runs": []}
    k = len(planted)
    planted_idx = [JOINT_INDEX[j] for j in planted]
    for rate in (float(r) for r in args.dropouts.split(",")):
        for seed in (int(s) for s in args.seeds.split(",")):
            cfg = TrainConfig(epochs=args.epochs, attention_l1=args.l1, joint_dropout=rate,
                              augment=AugmentConfig(flip=False))  # as training.train does for planted data
            print(f"[joint dropout {rate:g}, seed {seed}] training", file=sys.stderr, flush=True)
            model = create_model("attention", cfg).fit(x_train, train_set.labels, FPS, seed=seed)
            logit, imp = model.decision_and_importance(x_val, FPS)
            rec = planted_recovery(imp, val_set.labels, list(planted))
            mean = imp[val_set.labels == 1].mean(axis=0)
            others = np.delete(mean, planted_idx)
            margin = float(np.sort(mean[planted_idx])[0] / max(others.max(), 1e-12))
            top = np.argsort(-mean)[: k + 2]
            rows.append({"joint dropout": f"{rate:g}", "seed": seed,
                         "val AUC": f"{auc_score(val_set.labels, logit):.3f}",
                         f"precision@{k} (mean)": f"{rec['precision_at_k_mean_importance']:.2f}",
                         f"precision@{k} (per infant)": f"{rec['precision_at_k_per_at_risk_infant']:.2f}",
                         "weakest planted / best other": f"{margin:.2f}",
                         "top joints (at-risk mean weight)": ", ".join(f"{JOINT_NAMES[i]} {mean[i]:.2f}" for i in top)})
            results["runs"].append({"joint_dropout": rate, "seed": seed, **rec, "margin": margin,
                                    "mean_importance_at_risk": mean.tolist()})
    print(f"\n### Attention model (L1 {args.l1:g}, {args.epochs} epochs): validation set\n")
    print(table(rows, list(rows[0])))
    path = work / f"planted_diagnosis_{'-'.join(planted)}.json"
    save_json(results, path)
    print(f"\nfull results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
