"""``python -m artnet distill``: train the GoogLeNet encoder on the teacher's VGG-like features.

Feature distillation from ``../shared/weights/teacher-cd16x`` (:mod:`artnet.distill`) in a run folder that the same
command resumes. ``--export`` writes the final weights and a JSON card beside them.
"""

from __future__ import annotations

import argparse
from typing import Any

from artnet.commands.common import (
    add_training_arguments,
    check_export,
    names_arg,
    print_summary,
    training_card,
)


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name, help="train the GoogLeNet encoder on the teacher's VGG-like features",
        description="Feature distillation from ../shared/weights/teacher-cd16x (see artnet.distill). Resumable: "
                    "re-run the same command.")
    add_training_arguments(parser, steps=1800, batch=8, crop=160, lr=2e-3)
    parser.add_argument("--weight-decay", type=float, default=1e-4, help="AdamW weight decay (default 1e-4)")
    parser.add_argument("--sparsity", type=float, default=1.0,
                        help="weight of the channel group-sparsity term that creates zero channels (default 1.0)")
    parser.add_argument("--levels", type=names_arg,
                        help="comma-separated student levels matched to the teacher, from conv1,conv3,inception3b "
                             "(default conv1,inception3b; see artnet.distill)")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from artnet.distill import DistillConfig, run_distillation
    from artnet.weights import write_card

    check_export(args)
    levels = {"levels": tuple(args.levels)} if args.levels else {}
    config = DistillConfig(steps=args.steps, batch=args.batch, crop=args.crop, lr=args.lr,
                           weight_decay=args.weight_decay, sparsity=args.sparsity, seed=args.seed,
                           threads=args.threads, device=args.device, use_shared=not args.no_shared, **levels)
    summary = run_distillation(config, args.run_dir, export=args.export, progress=not args.no_progress)
    if args.export:
        write_card(args.export, training_card("distilled GoogLeNet encoder (BatchNorm folded, not pruned)", summary,
                                              args, asdict(config)))
    print_summary(summary, args.json)
    return 0
