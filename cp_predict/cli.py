"""``python -m cp_predict train|predict|simulate|extract|evaluate|prune`` (``--help`` on each).

Bad input prints one ``error: ...`` line and exits with code 2; outputs are never overwritten without
``--force``; ``--json`` prints one JSON document on stdout. Every output carries the research-use notice.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cp_predict import RESEARCH_NOTICE
from prunelab.cli import cli_entry, positive_int, print_json
from prunelab.device import set_threads
from prunelab.errors import InputError
from prunelab.io import check_output_path

MODEL_CHOICES = ("attention", "stgcn", "logreg", "speed")


def _image_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT like 640x480, got {text!r}") from None
    if w <= 0 or h <= 0:
        raise argparse.ArgumentTypeError("image size must be positive")
    return w, h


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cp_predict",
        description=f"Skeleton-based cerebral-palsy risk prediction with joint channel attention. {RESEARCH_NOTICE}.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="cross-validate, calibrate and save a model")
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
    p.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--force", action="store_true", help="overwrite a non-empty --out")
    p.add_argument("--json", action="store_true", help="print the evaluation report as JSON")
    p.add_argument("--trust-pickle", action="store_true", help="allow pyskl .pkl inputs (unpickling runs code)")
    p.add_argument("--init", metavar="MODEL_DIR",
                   help="fine-tune this model (directory or .pt, e.g. weights/cp_attention.pt) on --data instead of "
                        "training from scratch; same --model kind; its pre-processing and network are kept")

    p = sub.add_parser("predict", help="risk probability with a 90%% conformal interval, joint importance, "
                                       "asymmetry, quality gate")
    p.add_argument("--model", help="model directory or .pt file (default: the shipped weights/cp_attention.pt)")
    p.add_argument("--input", required=True, help=".npz, .csv, .pkl (pyskl), an OpenPose JSON folder or a video")
    p.add_argument("--fps", type=float, help="frame rate of JSON/CSV/pyskl input (default 25)")
    p.add_argument("--image-size", type=_image_size, help="WIDTHxHEIGHT of OpenPose JSON pixel coordinates")
    p.add_argument("--trust-pickle", action="store_true", help="allow pyskl .pkl inputs (unpickling runs code)")
    p.add_argument("--no-map", action="store_true", help="leave the joint x time map out of --json output")
    p.add_argument("--check-explanations", action="store_true",
                   help="add per-infant deletion/insertion areas (attention and occlusion orders vs random orders)")
    p.add_argument("--threads", type=positive_int, default=1)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("simulate", help="generate synthetic infant skeletons (normal vs at-risk movement)")
    p.add_argument("--n", type=positive_int, required=True, help="number of infants")
    p.add_argument("--out", required=True, help="output .npz")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--frames", type=positive_int, default=300)
    p.add_argument("--fps", type=float, default=25.0)
    p.add_argument("--at-risk-fraction", type=float, default=0.5)
    p.add_argument("--plant", default="", help="comma-separated joints to plant the abnormal dynamics in "
                                               "(e.g. l_wrist,l_ankle); recorded in the file")
    p.add_argument("--force", action="store_true")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("extract", help="pose from video (BlazePose, needs: pip install prunelab[video])")
    p.add_argument("--video", required=True)
    p.add_argument("--out", required=True, help="output skeleton .npz")
    p.add_argument("--max-frames", type=positive_int, default=None, help="stop after this many frames")
    p.add_argument("--force", action="store_true")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("prune", help="prune the attention model with core_pruning (CPMC) to a FLOPs budget")
    p.add_argument("--model", help="model directory or .pt file (default: shipped weights)")
    p.add_argument("--out", required=True, help="output model directory")
    p.add_argument("--target-flops", type=float, default=0.5, help="fraction of FLOPs to keep (default 0.5)")
    p.add_argument("--data", help="labelled .npz to fine-tune on after pruning")
    p.add_argument("--fine-tune-epochs", type=int, default=0)
    p.add_argument("--test", help="labelled .npz: report metrics before and after pruning")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=positive_int, default=1)
    p.add_argument("--force", action="store_true")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("evaluate", help="metrics (95%% intervals) of a saved model on labelled data; "
                                        "optionally the explanation checks")
    p.add_argument("--model", help="model directory or .pt file (default: shipped weights)")
    p.add_argument("--data", required=True, help="labelled .npz")
    p.add_argument("--explain", action="store_true",
                   help="also run deletion/insertion vs random orders, randomisation check, planted-joint recovery")
    p.add_argument("--random-orders", type=positive_int, default=100)
    p.add_argument("--max-infants", type=positive_int, default=100,
                   help="infants used by the deletion/insertion check (default 100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=positive_int, default=1)
    p.add_argument("--json", action="store_true")
    return parser


def _progress(enabled: bool):
    return (lambda msg: print(msg, file=sys.stderr, flush=True)) if enabled else None


def cmd_train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from cp_predict.formats import load_skeletons
    from cp_predict.models import TrainConfig
    from cp_predict.predictor import save_model
    from cp_predict.training import train

    out = check_output_path(args.out, args.force)
    if out.exists() and out.is_file():
        raise InputError(f"--out {out} is a file; give a directory")
    data = load_skeletons(args.data, trust_pickle=args.trust_pickle)
    test = load_skeletons(args.test, trust_pickle=args.trust_pickle) if args.test else None
    set_threads(args.threads)
    init = None
    if args.init:
        from cp_predict.predictor import load_model

        init = load_model(args.init)
    base = init.final.train_config if init is not None and hasattr(init.final, "train_config") else TrainConfig()
    cfg = base if args.epochs is None else replace(base, epochs=args.epochs, min_steps=0)
    from cp_predict.preprocess import PreprocessConfig

    trained = train(data, args.model, cv=args.cv, k=args.folds, seed=args.seed, train_config=cfg,
                    preprocess_config=PreprocessConfig(rotate=args.rotate),
                    net_config={"velocity": not args.no_velocity}, test=test, progress=_progress(not args.json),
                    init=init, init_source=args.init)
    card = model_card(trained.report, args, args.argv)
    save_model(trained, out, card)
    if args.json:
        print_json({"notice": RESEARCH_NOTICE, "out": str(out), **trained.report})
    else:
        print(summary_text(trained.report))
        print(f"saved {out}/model.pt, report.json, card.json\n{RESEARCH_NOTICE}")
    return 0


def model_card(report: dict[str, Any], args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    """The JSON card saved beside a model: data, the command (``argv`` after ``python -m cp_predict``), seed,
    metrics."""
    import platform

    return {
        "notice": RESEARCH_NOTICE,
        "model": report["model"],
        "data": {"file": str(args.data), **report["data"]},
        "command": "python -m cp_predict " + " ".join(argv),
        "seed": args.seed,
        "seeds": report.get("seeds"),
        "split": {"scheme": report["cv"]["scheme"], "folds": report["cv"]["folds"],
                  "fold_sizes": report["cv"].get("fold_sizes"), "seed": report["cv"]["seed"]},
        "init": report.get("init"),
        "conformal": report.get("conformal"),
        "cv": {k: v for k, v in report["cv"].items() if k != "out_of_fold"},
        "test": report.get("test"),
        "temperature": report["temperature"],
        "train_config": report.get("train_config"),
        "net_config": report.get("net_config"),
        "machine": platform.platform(),
    }


def summary_text(report: dict[str, Any]) -> str:
    from cp_predict.metrics import format_metric

    lines = [f"model {report['model']}: {report['cv']['scheme']} cross-validation on {report['data']['n']} infants"]
    names = ("accuracy", "balanced_accuracy", "auc", "sensitivity", "specificity", "brier", "ece")
    for title, block in (("cross-validation", report["cv"]["metrics"]),
                         ("held-out test", report.get("test", {}).get("metrics"))):
        if block:
            lines.append(f"  {title} (95% intervals):")
            lines += [f"    {name:18s} {format_metric(block[name])}" for name in names]
    lines += [f"  note: {note}" for note in report.get("notes", [])]
    return "\n".join(lines)


def cmd_predict(args: argparse.Namespace) -> int:
    from cp_predict.formats import load_skeletons
    from cp_predict.predictor import load_model, predict

    model = load_model(args.model)
    skeletons = load_skeletons(args.input, trust_pickle=args.trust_pickle, fps=args.fps, image_size=args.image_size)
    set_threads(args.threads)
    results = predict(model, skeletons, with_map=args.json and not args.no_map,
                      check_explanations=args.check_explanations)
    if args.json:
        print_json({"notice": RESEARCH_NOTICE, "model": model.model_name,
                    "predictions": [r.to_json(include_map=not args.no_map) for r in results]})
        return 0
    for r in results:
        if not r.assessable:
            print(f"{r.name}: not assessable: {'; '.join(r.assessment['reasons'])}")
            continue
        top = ""
        if r.joint_importance:
            best = sorted(r.joint_importance.items(), key=lambda kv: -kv[1])[:3]
            top = "; most important joints: " + ", ".join(f"{k} {v:.2f}" for k, v in best)
        asym = r.extra.get("asymmetry", {})
        side = f"; asymmetry (R-L)/(R+L): importance {asym['importance']:+.2f}, movement {asym['movement']:+.2f}" \
            if "importance" in asym else ""
        print(f"{r.name}: risk {100 * r.probability:.1f}% (90% conformal interval {100 * r.interval[0]:.1f}-"
              f"{100 * r.interval[1]:.1f}%){top}{side}")
        for warning in r.quality["warnings"]:
            print(f"  quality: {warning}")
    print(RESEARCH_NOTICE)
    return 0


def _npz_output(args: argparse.Namespace) -> Path:
    """``--out`` checked: an ``.npz`` name, not overwriting an existing file unless ``--force``."""
    out = Path(args.out)
    if out.suffix.lower() != ".npz":
        raise InputError(f"--out must end in .npz, got {out.name}")
    check_output_path(out, args.force)
    return out


def cmd_simulate(args: argparse.Namespace) -> int:
    from cp_predict.formats import save_npz
    from cp_predict.simulate import GeneratorConfig, generate, parse_joint_list

    out = _npz_output(args)
    config = GeneratorConfig(n=args.n, seed=args.seed, frames=args.frames, fps=args.fps,
                             at_risk_fraction=args.at_risk_fraction, planted_joints=parse_joint_list(args.plant))
    data = generate(config)
    save_npz(data, out)
    summary = {"notice": RESEARCH_NOTICE, "out": str(out), "n": len(data), "n_at_risk": int(data.labels.sum()),
               "frames": data.num_frames, "fps": data.fps, "seed": args.seed,
               "planted_joints": list(config.planted_joints)}
    if args.json:
        print_json(summary)
    else:
        print(f"wrote {out}: {summary['n']} synthetic infants ({summary['n_at_risk']} at risk), "
              f"{data.num_frames} frames at {data.fps:g} fps")
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    from cp_predict.formats import save_npz
    from cp_predict.video import extract_skeleton

    out = _npz_output(args)
    result = extract_skeleton(args.video, max_frames=args.max_frames)
    save_npz(result.skeletons, out)
    if args.json:
        print_json({"notice": RESEARCH_NOTICE, "out": str(out), "quality": result.quality})
    else:
        q = result.quality
        print(f"wrote {out}: {q['frames']} frames, {q['duration_s']} s at {q['fps']:g} fps; infant detected in "
              f"{100 * q['detected_frame_fraction']:.0f}% of frames, low-confidence joints "
              f"{100 * q['low_confidence_fraction']:.1f}%")
        for warning in q["warnings"]:
            print(f"  quality: {warning}")
        print(RESEARCH_NOTICE)
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    from cp_predict.formats import load_skeletons
    from cp_predict.predictor import load_model, save_model
    from cp_predict.pruning import latency_ms, prune_trained
    from cp_predict.training import evaluate

    if not 0 < args.target_flops <= 1:
        raise InputError(f"--target-flops must be in (0, 1], got {args.target_flops:g}")
    if args.fine_tune_epochs < 0:
        raise InputError("--fine-tune-epochs must be >= 0")
    out = check_output_path(args.out, args.force)
    model = load_model(args.model)
    data = load_skeletons(args.data) if args.data else None
    test = load_skeletons(args.test) if args.test else None
    set_threads(args.threads)
    pruned, report = prune_trained(model, args.target_flops, data, args.fine_tune_epochs, seed=args.seed)
    report["latency_ms_before"] = latency_ms(model.final)
    report["latency_ms_after"] = latency_ms(pruned.final)
    report["threads"] = args.threads
    if test is not None:
        report["test_before"] = evaluate(model, test, seed=args.seed)["metrics"]
        report["test_after"] = evaluate(pruned, test, seed=args.seed)["metrics"]
    pruned.report["pruning"] = report
    card = {"notice": RESEARCH_NOTICE, "pruned_from": str(args.model or "weights/cp_attention.pt"),
            "command": "python -m cp_predict " + " ".join(args.argv), "pruning": report}
    save_model(pruned, out, card)
    if args.json:
        print_json({"notice": RESEARCH_NOTICE, "out": str(out), **report})
    else:
        print(f"FLOPs {report['flops_before']:,} -> {report['flops_after']:,} ({100 * report['flops_ratio']:.0f}%), "
              f"params {report['params_before']:,} -> {report['params_after']:,}; CPU latency per "
              f"{pruned.final.train_config.window}-frame window {report['latency_ms_before']:.2f} -> "
              f"{report['latency_ms_after']:.2f} ms ({args.threads} thread(s))")
        if test is not None:
            from cp_predict.metrics import format_metric

            for name in ("accuracy", "auc"):
                print(f"  test {name}: {format_metric(report['test_before'][name])} -> "
                      f"{format_metric(report['test_after'][name])}")
        print(f"saved {out}/model.pt\n{RESEARCH_NOTICE}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from cp_predict.evaluation import evaluate_with_explanations
    from cp_predict.formats import load_skeletons
    from cp_predict.predictor import load_model

    model = load_model(args.model)
    data = load_skeletons(args.data)
    data.require_labels()
    set_threads(args.threads)
    report = evaluate_with_explanations(model, data, explain=args.explain, n_random=args.random_orders,
                                        max_infants=args.max_infants, seed=args.seed)
    if args.json:
        print_json({"notice": RESEARCH_NOTICE, **report})
    else:
        from cp_predict.evaluation import evaluation_text

        print(evaluation_text(report))
        print(RESEARCH_NOTICE)
    return 0


COMMANDS = {"train": cmd_train, "predict": cmd_predict, "simulate": cmd_simulate, "extract": cmd_extract,
            "evaluate": cmd_evaluate, "prune": cmd_prune}


@cli_entry
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # recorded in model cards
    return COMMANDS[args.command](args)
