"""MINI-RGBD (12 real infants) leave-one-out: the attention model, ST-GCN and the trivial baselines side by side.

Needs the research-only skeletons in ``../shared/data/cp`` (never copied into the project). Each model is
trained by leave-one-subject-out (12 folds) with cross-fitted calibration; accuracy, sensitivity and
specificity come with Wilson 95 % intervals. ``attention+init`` is the attention model pre-trained on generated
infants (``--init``, default the shipped weights) and fine-tuned inside each fold on the 11 training infants
(``cp_predict train --init``); its recipe is fixed in advance, so nothing is chosen on the held-out infant.
Also reported: the shipped default model (trained on synthetic infants only) applied to the 12 real infants
without any training on them, and each row's 90 % conformal-interval coverage (leave-one-out: the interval
of infant i uses the out-of-fold scores of the other 11). With 12 infants (4 abnormal) a single infant moves
accuracy by 8 points: claim nothing beyond what the intervals show, and read every deep-model number beside
the one-feature speed threshold. The paper reports 11/12 for its model.

    python benchmarks/cp_minirgbd_loso.py [--models attention,attention+init,attention+speed,stgcn,logreg,speed] \
        [--seeds 3] [--first-seed 3] [--calibration balanced|temperature] [--nested]

Calibration (``--calibration``, default ``balanced``: class-balanced Platt scaling, cross-fitted on the other
infants' out-of-fold logits; see :mod:`cp_predict.calibration`) is what ``cp_predict train`` does. Last column:
balanced accuracy of the same out-of-fold logits temperature-scaled only (the calibration before 2026-12-04,
which cannot move the 0.5 cut). ``--first-seed`` starts the seeds elsewhere than 0 (fresh seeds for a recipe
chosen after seeing others). ``--nested``: strictly nested leave-one-out (:func:`nested_loso`; 12x the fits).
With ``--seeds N > 1`` each neural model also gets a row "(mean of N seeds)":
the mean of its seeds' out-of-fold probabilities (and logits), an ensemble fixed in advance (every member of
infant i's mean was trained without infant i).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from cp_common import cell, header, save_json, table

from cp_predict.calibration import CALIBRATION_CHOICES, DEFAULT_CALIBRATION, cross_fitted_probabilities
from cp_predict.formats import read_npz
from cp_predict.interval import conformal_calibration, conformal_interval, coverage
from cp_predict.metrics import balanced_accuracy, classification_report, wilson_interval
from cp_predict.models import TrainConfig
from cp_predict.predictor import load_model
from cp_predict.preprocess import prepare
from cp_predict.training import calibrated_probabilities, train
from prunelab.paths import shared_path

COLUMNS = ("model", "accuracy", "sensitivity", "specificity", "balanced acc.", "AUC", "Brier", "90% coverage",
           "bal. acc., temperature only")


def temperature_only_cell(labels: np.ndarray, logits: np.ndarray | None) -> str:
    """Balanced accuracy at 0.5 had the out-of-fold logits been temperature-scaled only (the calibration before
    2026-12-04; same logits, no retraining): shows what the intercept of the balanced calibration changes."""
    if logits is None:
        return ""
    probs, _ = cross_fitted_probabilities(logits, labels, np.arange(len(labels)), "temperature")
    decisions = probs >= 0.5
    sens, spec = int(decisions[labels == 1].sum()), int((~decisions[labels == 0]).sum())
    return (f"{balanced_accuracy(labels, decisions):.2f} ({sens}/{int((labels == 1).sum())} abnormal, "
            f"{spec}/{int((labels == 0).sum())} normal)")


def loo_conformal_coverage(labels: np.ndarray, probs: np.ndarray) -> str:
    """Coverage of the 90 % conformal interval when infant i's interval is calibrated on the other infants."""
    hits = []
    for i in range(len(labels)):
        others = np.arange(len(labels)) != i
        q = conformal_calibration(labels[others], probs[others])["q"]
        hits.append(coverage(labels[i:i + 1], np.array([conformal_interval(float(probs[i]), q)])))
    return f"{np.mean(hits):.2f} ({int(round(sum(hits)))}/{len(hits)})"


def row(name: str, metrics: dict, labels: np.ndarray | None = None, probs: np.ndarray | None = None,
        scores: np.ndarray | None = None) -> dict:
    return {"bal. acc., temperature only": "" if labels is None else temperature_only_cell(labels, scores),
            "model": name, "accuracy": cell(metrics["accuracy"]), "sensitivity": cell(metrics["sensitivity"]),
            "specificity": cell(metrics["specificity"]), "balanced acc.": cell(metrics["balanced_accuracy"]),
            "AUC": cell(metrics["auc"]), "Brier": cell(metrics["brier"], 3),
            "90% coverage": "" if labels is None else loo_conformal_coverage(labels, probs)}


def variant(name: str, init, init_source: str) -> tuple[str, dict]:
    """``attention[+init|+speed]``, ``stgcn``, ``logreg``, ``speed`` -> (model kind, extra ``train`` arguments).

    ``+init``: fine-tune ``init`` in every fold; ``+speed``: the attention network with the speed channel
    (``JointAttentionNet(speed_channel=True)``, from scratch). Fixed before any run: nothing is chosen per fold.
    """
    kind, *options = name.split("+")
    unknown = set(options) - {"init", "speed"}
    if unknown or (options and kind != "attention") or len(options) > 1:
        raise SystemExit(f"unknown model variant {name!r}")
    if "init" in options:
        return kind, {"init": init, "init_source": init_source}
    if "speed" in options:
        return kind, {"net_config": {"speed_channel": True}}
    return kind, {}


def plain_loso(data, kind: str, seed: int, args, extra: dict, say) -> tuple:
    """``cp_predict train --cv loso`` on all 12: out-of-fold probabilities (calibration cross-fitted on the other
    11 infants' out-of-fold logits), logits, metrics and the cv report."""
    trained = train(data, kind, cv="loso", seed=seed, train_config=TrainConfig(epochs=args.epochs),
                    calibration=args.calibration, progress=say, **extra)
    oof = trained.report["cv"]["out_of_fold"]
    return (np.array([r["probability"] for r in oof]), np.array([r["logit"] for r in oof]),
            trained.report["cv"]["metrics"], trained.report["cv"])


def nested_loso(data, kind: str, seed: int, args, extra: dict, say) -> tuple:
    """Strictly nested: for each held-out infant, ``train(cv="loso")`` on the other 11 alone -- their own inner
    leave-one-out fits the calibration -- and that final model's calibrated probability for the held-out infant.
    No number applied to infant i was computed by a model or a fit that saw infant i (the plain run's
    cross-fitted calibration uses the other infants' out-of-fold logits, whose models did see infant i).
    Also recorded (``fold_model_mean``): the mean of the 11 inner fold models' calibrated probabilities instead of
    the final model's -- the models the calibration was fitted on (the final model, trained on one infant more,
    can be more confident than they are). 12 x 12 model fits per seed."""
    probs, logits, fold_mean = np.zeros(len(data)), np.zeros(len(data)), np.zeros(len(data))
    for i in range(len(data)):
        say(f"outer fold {i + 1}/{len(data)}")
        others = np.flatnonzero(np.arange(len(data)) != i)
        trained = train(data.subset(others), kind, cv="loso", seed=seed, train_config=TrainConfig(epochs=args.epochs),
                        calibration=args.calibration, **extra)
        x = prepare(data.subset([i]), trained.preprocess)
        final, folds = calibrated_probabilities(trained, x)
        probs[i], fold_mean[i] = final[0], folds[:, 0].mean()
        logits[i] = trained.final.decision_function(x, trained.preprocess.fps)[0]
    report = {"probabilities": dict(zip(data.names, np.round(probs, 4).tolist(), strict=True)),
              "logits": dict(zip(data.names, np.round(logits, 4).tolist(), strict=True)),
              "fold_model_mean": fold_mean.tolist()}
    return probs, None, classification_report(data.labels, probs), report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="attention,stgcn,logreg,speed")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=1, help="repeat the neural models with this many seeds")
    parser.add_argument("--first-seed", type=int, default=0, help="the first of the --seeds seeds")
    parser.add_argument("--calibration", default=DEFAULT_CALIBRATION, choices=CALIBRATION_CHOICES)
    parser.add_argument("--nested", action="store_true",
                        help="strictly nested: calibrate each held-out infant's model by a leave-one-out inside its "
                             "11 training infants (12x the fits)")
    parser.add_argument("--out", default="runs/cp_bench/minirgbd_loso.json")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--init", default=None, help="pre-trained model for attention+init (default: shipped)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = read_npz(shared_path("data", "cp", "mini_rgbd_openpose18.npz"))
    print(header("cp_predict: MINI-RGBD leave-one-infant-out (12 infants, 4 abnormal)"))
    rows, results = [], {}
    init = load_model(args.init)
    for name in args.models.split(","):
        kind, extra = variant(name, init, args.init or "shipped weights")
        seeds = range(args.first_seed, args.first_seed + args.seeds) if kind in ("attention", "stgcn") else [0]
        seed_probs, seed_logits = [], []
        for seed in seeds:
            run = nested_loso if args.nested else plain_loso
            probs, logits, metrics, report = run(data, kind, seed, args, extra,
                                                 lambda m, n=name: print(f"[{n}] {m}", file=sys.stderr, flush=True))
            label = (name if len(seeds) == 1 else f"{name} (seed {seed})") + (", nested" if args.nested else "")
            seed_probs.append(probs)
            seed_logits.append(logits)
            new_rows = [row(label, metrics, data.labels, probs, logits)]
            if "fold_model_mean" in report:  # nested: the inner fold models' mean beside the final model
                ensemble = np.array(report["fold_model_mean"])
                new_rows.append(row(f"{label}, fold-model mean", classification_report(data.labels, ensemble),
                                    data.labels, ensemble))
            rows += new_rows
            results[label] = report
            for line in table(new_rows, COLUMNS).splitlines()[2:]:
                print(line, file=sys.stderr, flush=True)  # each row as it comes
            save_json(results, Path(args.out))
        if len(seed_probs) > 1:  # the seed ensemble: each infant's probability from models that never saw it
            mean = np.mean(seed_probs, axis=0)
            label = f"{name} (mean of {len(seed_probs)} seeds)"
            rows.append(row(label, classification_report(data.labels, mean), data.labels, mean,
                            None if args.nested else np.mean(seed_logits, axis=0)))
            results[label] = {"probabilities": dict(zip(data.names, np.round(mean, 4).tolist(), strict=True))}
            print(table(rows[-1:], COLUMNS).splitlines()[-1], file=sys.stderr, flush=True)
    x = prepare(data, init.preprocess)
    p = init.calibration.probability(init.final.decision_function(x, init.preprocess.fps))
    rows.append(row("shipped model (synthetic only, no MINI-RGBD training)", classification_report(data.labels, p),
                    data.labels, p))
    results["shipped"] = {"probabilities": dict(zip(data.names, np.round(p, 4).tolist(), strict=True))}
    print(f"leave-one-out; neural models: {args.epochs} epochs and at least {TrainConfig().min_steps} optimisation "
          "steps; 95% intervals: Wilson (proportions), stratified bootstrap (balanced accuracy, AUC, Brier)\n")
    print(table(rows, COLUMNS))
    lo, hi = wilson_interval(11, 12)
    print(f"\npaper (Zhu et al. 2021, its own model and protocol): 11/12 correct, Wilson 95% interval "
          f"[{lo:.2f}, {hi:.2f}]")
    save_json(results, Path(args.out))
    print(f"\nfull results: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
