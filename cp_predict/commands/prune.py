"""``python -m cp_predict prune``: prune the attention model with core_pruning (CPMC) to a FLOPs budget.

Optionally fine-tunes on ``--data`` and reports ``--test`` metrics and CPU latency before and after; the pruned
model directory's card records the command and the pruning report.
"""

from __future__ import annotations

import argparse
from typing import Any

from cp_predict import RESEARCH_NOTICE
from cp_predict.commands.common import (
    DEFAULT_MODEL,
    add_command_parser,
    add_force_argument,
    add_json_argument,
    add_threads_argument,
)
from prunelab.cli import command_text, print_json
from prunelab.device import set_threads
from prunelab.errors import InputError
from prunelab.io import check_output_path


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    p = add_command_parser(subparsers, name, "prune the attention model with core_pruning (CPMC) to a FLOPs budget")
    p.add_argument("--model", help="model directory or .pt file (default: shipped weights)")
    p.add_argument("--out", required=True, help="output model directory")
    p.add_argument("--target-flops", type=float, default=0.5, help="fraction of FLOPs to keep (default 0.5)")
    p.add_argument("--data", help="labelled .npz to fine-tune on after pruning")
    p.add_argument("--fine-tune-epochs", type=int, default=0)
    p.add_argument("--test", help="labelled .npz: report metrics before and after pruning")
    p.add_argument("--seed", type=int, default=0)
    add_threads_argument(p)
    add_force_argument(p)
    add_json_argument(p, "the pruning report")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
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
    card = {"notice": RESEARCH_NOTICE, "pruned_from": str(args.model or DEFAULT_MODEL),
            "command": command_text(args), "pruning": report}
    save_model(pruned, out, card)
    if args.json:
        print_json({"notice": RESEARCH_NOTICE, "out": str(out), **report})
        return 0
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
