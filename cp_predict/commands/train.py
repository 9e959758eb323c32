"""``python -m cp_predict train``: cross-validate, calibrate and save a model.

Writes a model directory ``--out`` with ``model.pt``, ``report.json`` (the subject-disjoint evaluation) and
``card.json`` (data, command, seeds, split, metrics, machine). ``--init`` fine-tunes a saved model instead of
training from scratch.
"""

from __future__ import annotations

import argparse
import platform
from dataclasses import replace
from typing import Any

from cp_predict import RESEARCH_NOTICE
from cp_predict.calibration import CALIBRATION_CHOICES, DEFAULT_CALIBRATION
from cp_predict.commands.common import (
    add_command_parser,
    add_force_argument,
    add_json_argument,
    add_threads_argument,
    add_trust_pickle_argument,
    progress_printer,
)
from prunelab.cli import command_text, positive_int, print_json
from prunelab.device import set_threads
from prunelab.errors import InputError
from prunelab.io import check_output_path

MODEL_CHOICES = ("attention", "stgcn", "logreg", "speed")
METRIC_NAMES = ("accuracy", "balanced_accuracy", "auc", "sensitivity", "specificity", "brier", "ece")


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    p = add_command_parser(subparsers, name, "cross-validate, calibrate and save a model")
    p.add_argument("--data", required=True, help="training data set (.npz with data and labels)")
    p.add_argument("--out", required=True, help="output model directory")
    p.add_argument("--model", default="attention", choices=MODEL_CHOICES)
    p.add_argument("--cv", default="auto", choices=("auto", "loso", "kfold"),
                   help="subject-disjoint evaluation: leave-one-subject-out, stratified k-fold, or auto "
                        "(LOSO up to 30 subjects)")
    p.add_argument("--folds", type=positive_int, default=5, help="k for --cv kfold (default 5)")
    p.add_argument("--test", help="optional held-out labelled .npz evaluated with the final model")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="training epochs for neural models (default: 30, and at least 300 optimisation steps on "
                        "small sets); an explicit value is used as given")
    p.add_argument("--no-velocity", action="store_true", help="positions only (no velocity channels)")
    p.add_argument("--rotate", action="store_true", help="rotate each recording so the trunk is vertical")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--calibration", default=DEFAULT_CALIBRATION, choices=CALIBRATION_CHOICES,
                   help="how out-of-fold logits become probabilities: balanced (Platt scaling, classes weighted "
                        "equally: the risk at equal priors, 0.5 = likelihood ratio 1; default) or temperature "
                        "(scale only; keeps the network's own cut)")
    add_threads_argument(p)
    add_force_argument(p, "non-empty --out")
    add_json_argument(p, "the evaluation report")
    add_trust_pickle_argument(p)
    p.add_argument("--init", metavar="MODEL_DIR",
                   help="fine-tune this model (directory or .pt, e.g. weights/cp_attention.pt) on --data instead of "
                        "training from scratch; same --model kind; its pre-processing and network are kept")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from cp_predict.formats import load_skeletons
    from cp_predict.models import TrainConfig
    from cp_predict.predictor import load_model, save_model
    from cp_predict.preprocess import PreprocessConfig
    from cp_predict.training import train

    out = check_output_path(args.out, args.force)
    if out.exists() and out.is_file():
        raise InputError(f"--out {out} is a file; give a directory")
    data = load_skeletons(args.data, trust_pickle=args.trust_pickle)
    test = load_skeletons(args.test, trust_pickle=args.trust_pickle) if args.test else None
    set_threads(args.threads)
    init = load_model(args.init) if args.init else None
    base = init.final.train_config if init is not None and hasattr(init.final, "train_config") else TrainConfig()
    cfg = base if args.epochs is None else replace(base, epochs=args.epochs, min_steps=0)
    trained = train(data, args.model, cv=args.cv, k=args.folds, seed=args.seed, train_config=cfg,
                    preprocess_config=PreprocessConfig(rotate=args.rotate),
                    net_config={"velocity": not args.no_velocity}, test=test, progress=progress_printer(not args.json),
                    init=init, init_source=args.init, calibration=args.calibration)
    save_model(trained, out, model_card(trained.report, args))
    if args.json:
        print_json({"notice": RESEARCH_NOTICE, "out": str(out), **trained.report})
    else:
        print(summary_text(trained.report))
        print(f"saved {out}/model.pt, report.json, card.json\n{RESEARCH_NOTICE}")
    return 0


def model_card(report: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The JSON card saved beside a model: data, the command that made it, seeds, split, metrics, machine."""
    return {
        "notice": RESEARCH_NOTICE,
        "model": report["model"],
        "data": {"file": str(args.data), **report["data"]},
        "command": command_text(args),
        "seed": args.seed,
        "seeds": report.get("seeds"),
        "split": {"scheme": report["cv"]["scheme"], "folds": report["cv"]["folds"],
                  "fold_sizes": report["cv"].get("fold_sizes"), "seed": report["cv"]["seed"]},
        "init": report.get("init"),
        "conformal": report.get("conformal"),
        "cv": {k: v for k, v in report["cv"].items() if k != "out_of_fold"},
        "test": report.get("test"),
        "calibration": report["calibration"],
        "train_config": report.get("train_config"),
        "net_config": report.get("net_config"),
        "machine": platform.platform(),
    }


def summary_text(report: dict[str, Any]) -> str:
    """The text report: cross-validation (and held-out test) metrics with 95 % intervals, then notes."""
    from cp_predict.metrics import format_metric

    lines = [f"model {report['model']}: {report['cv']['scheme']} cross-validation on {report['data']['n']} infants"]
    for title, block in (("cross-validation", report["cv"]["metrics"]),
                         ("held-out test", report.get("test", {}).get("metrics"))):
        if block:
            lines.append(f"  {title} (95% intervals):")
            lines += [f"    {name:18s} {format_metric(block[name])}" for name in METRIC_NAMES]
    lines += [f"  note: {note}" for note in report.get("notes", [])]
    return "\n".join(lines)
