"""``python -m cp_predict evaluate``: metrics (95 % intervals) of a saved model on labelled data.

``--explain`` adds the explanation checks of :mod:`cp_predict.explain`: deletion/insertion against random orders,
the model-randomisation check and planted-joint recovery.
"""

from __future__ import annotations

import argparse
from typing import Any

from cp_predict import RESEARCH_NOTICE
from cp_predict.commands.common import add_command_parser, add_json_argument, add_threads_argument
from prunelab.cli import positive_int, print_json
from prunelab.device import set_threads


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    p = add_command_parser(subparsers, name, "metrics (95%% intervals) of a saved model on labelled data; "
                                             "optionally the explanation checks")
    p.add_argument("--model", help="model directory or .pt file (default: shipped weights)")
    p.add_argument("--data", required=True, help="labelled .npz")
    p.add_argument("--explain", action="store_true",
                   help="also run deletion/insertion vs random orders, randomisation check, planted-joint recovery")
    p.add_argument("--random-orders", type=positive_int, default=100)
    p.add_argument("--max-infants", type=positive_int, default=100,
                   help="infants used by the deletion/insertion check (default 100)")
    p.add_argument("--seed", type=int, default=0)
    add_threads_argument(p)
    add_json_argument(p, "the evaluation report")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from cp_predict.evaluation import evaluate_with_explanations, evaluation_text
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
        print(evaluation_text(report))
        print(RESEARCH_NOTICE)
    return 0
