"""Held-out test on generated infants: every model side by side, the speed baseline, explanation checks.

Trains each model on generated infants (stratified 5-fold CV for calibration, then a final model) and
evaluates the final calibrated model on a separately generated held-out set. Then, for the attention
model: deletion/insertion against random orders and the cascading randomisation check on the held-out
set, and planted-joint recovery (precision@k) on data whose abnormal dynamics were planted in 2 joints
(the distal left side) and in 4 joints (the whole left arm and leg).

    python benchmarks/cp_generator_eval.py [--models attention,stgcn,logreg,speed] [--work runs/cp_bench]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from cp_common import cell, generated, header, save_json, table

from cp_predict.evaluation import evaluate_with_explanations
from cp_predict.explain import planted_recovery
from cp_predict.features import mean_limb_speed
from cp_predict.metrics import auc_score
from cp_predict.models import TrainConfig
from cp_predict.predictor import load_model
from cp_predict.preprocess import prepare
from cp_predict.skeleton import JOINT_NAMES
from cp_predict.training import calibrated_outputs, evaluate, train

PLANTS = (("l_wrist", "l_ankle"), ("l_elbow", "l_wrist", "l_knee", "l_ankle"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="attention,stgcn,logreg,speed")
    parser.add_argument("--n-train", type=int, default=600)
    parser.add_argument("--n-test", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--random-orders", type=int, default=100)
    parser.add_argument("--explain-infants", type=int, default=100)
    parser.add_argument("--skip-planted", action="store_true")
    parser.add_argument("--planted-only", action="store_true", help="only the planted-joint recovery table")
    parser.add_argument("--attention-model", help="evaluate this saved attention model (e.g. weights/cp_attention.pt, "
                                                  "trained on the same generated set) instead of training one")
    parser.add_argument("--stgcn-epochs", type=int, default=None, help="epochs for ST-GCN (default: --epochs)")
    parser.add_argument("--folds", type=int, default=5, help="stratified k-fold CV for calibration (default 5)")
    parser.add_argument("--tag", default="generator_eval", help="name of the JSON results file")
    parser.add_argument("--work", default="runs/cp_bench")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(args.work)
    train_set = generated(work, args.n_train, 1)
    test_set = generated(work, args.n_test, 2)
    cfg = TrainConfig(epochs=args.epochs)
    print(header("cp_predict: generated infants, held-out test (final model, temperature-scaled)"))
    x_test = prepare(test_set)
    speed_auc = auc_score(test_set.labels, mean_limb_speed(x_test, 25.0))
    rows, results = [], {"speed_feature_auc_test": speed_auc}
    for name in [] if args.planted_only else args.models.split(","):
        started = time.time()
        epochs = args.stgcn_epochs if name == "stgcn" and args.stgcn_epochs else args.epochs
        if name == "attention" and args.attention_model:
            trained = load_model(args.attention_model)
            trained.report["test"] = evaluate(trained, test_set, seed=args.seed)
            epochs = trained.report.get("train_config", {}).get("epochs", "?")
        else:
            trained = train(train_set, name, cv="kfold", k=args.folds, seed=args.seed,
                            train_config=TrainConfig(epochs=epochs), test=test_set,
                            progress=lambda m, n=name: print(f"[{n}] {m}", file=sys.stderr, flush=True))
        m = trained.report["test"]["metrics"]
        rows.append({"model": name, "test AUC": cell(m["auc"]), "accuracy": cell(m["accuracy"]),
                     "balanced acc.": cell(m["balanced_accuracy"]), "sensitivity": cell(m["sensitivity"]),
                     "specificity": cell(m["specificity"]), "Brier": cell(m["brier"], 3), "ECE": cell(m["ece"], 3),
                     "CV AUC": cell(trained.report["cv"]["metrics"]["auc"]),
                     "epochs": epochs if name in ("attention", "stgcn") else "-",
                     "CV folds": trained.report["cv"]["folds"],
                     "train s": trained.report.get("train_seconds", f"{time.time() - started:.0f}")})
        results[name] = trained.report
        if name == "attention":
            results["attention_explanations"] = evaluate_with_explanations(
                trained, test_set, explain=True, n_random=args.random_orders, max_infants=args.explain_infants,
                seed=args.seed)["explanations"]
    print(f"train: {args.n_train} generated infants (seed 1), held-out test: {args.n_test} (seed 2); "
          "95% intervals (Wilson for proportions, stratified bootstrap otherwise)\n")
    if rows:
        print(table(rows, list(rows[0])))
    print(f"\nmean-limb-speed feature alone, AUC on the held-out test: {speed_auc:.3f} "
          f"(max(AUC, 1-AUC) = {max(speed_auc, 1 - speed_auc):.3f}; target <= 0.70)")
    exp = results.get("attention_explanations")
    if exp:
        print("\n### Attention explanations on the held-out test")
        di = exp["deletion_insertion"]
        rows = [{"curve": k, "area (attention order)": f"{di[k]['area']:.3f}",
                 "random orders (mean +- sd)": f"{di[k]['random_mean']:.3f} +- {di[k]['random_sd']:.3f}",
                 "random orders doing better": f"{100 * di[k]['fraction_random_better']:.0f}% of {di['n_random']}"}
                for k in ("deletion", "insertion")]
        print(f"{di['n_infants']} infants\n")
        print(table(rows, list(rows[0])))
        rows = [{"randomised (top-down)": "+".join(s["layers"]), "Spearman with trained": f"{s['spearman']:.2f}"}
                for s in exp["randomisation"]]
        print()
        print(table(rows, list(rows[0])))
    if not args.skip_planted:
        print("\n### Planted-joint recovery (attention weights, held-out planted test)")
        rows = []
        for planted in PLANTS:
            tr = generated(work, args.n_train, 1, planted)
            te = generated(work, args.n_test, 2, planted)
            trained = train(tr, "attention", cv="kfold", k=5, seed=args.seed, train_config=cfg, test=te,
                            progress=lambda m, p=planted: print(f"[planted {p}] {m}", file=sys.stderr, flush=True))
            x_te = prepare(te, trained.preprocess)
            for source, imp in (("final model", trained.final.joint_importance(x_te, 25.0)),
                                ("final + 5 fold models (predict)", calibrated_outputs(trained, x_te)[2])):
                rec = planted_recovery(imp, te.labels, list(planted))
                order = imp[te.labels == 1].mean(axis=0).argsort()[::-1][: len(planted) + 2]
                rows.append({"planted joints": ", ".join(planted), "k": rec["k"], "attention of": source,
                             "precision@k (mean importance)": f"{rec['precision_at_k_mean_importance']:.2f}",
                             "precision@k (per at-risk infant)": f"{rec['precision_at_k_per_at_risk_infant']:.2f}",
                             "top joints (at-risk mean)": ", ".join(JOINT_NAMES[i] for i in order),
                             "test AUC": cell(trained.report["test"]["metrics"]["auc"])})
                results[f"planted_{'-'.join(planted)}_{source.split()[0]}"] = rec
            results[f"planted_{'-'.join(planted)}"] = {"test": trained.report["test"]}
        print(table(rows, list(rows[0])))
    save_json(results, work / f"{args.tag}.json")
    print(f"\nfull results: {work / (args.tag + '.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
