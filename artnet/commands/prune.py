"""``python -m artnet prune``: zero-channel prune the distilled encoder (core_pruning, criterion ``zero``).

Writes the pruned encoder weights ``--out`` with its card and plan beside it (:mod:`artnet.pruning_run`), and
reports the identity check on the calibration images and how often removed channels fire on held-out ones.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from artnet.commands.common import add_pruning_output_arguments, run_pruning_command
from prunelab.cli import command_text


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name, help="zero-channel prune the distilled encoder (core_pruning, criterion zero)",
        description="Calibrate on all training images, remove channels that are zero on all of them, verify identical "
                    "outputs, measure firing on held-out images (artnet.prune).")
    parser.add_argument("--encoder", required=True, help="unpruned encoder weights (from distill --export)")
    parser.add_argument("--no-shared", action="store_true", help="calibrate on wheel images only")
    add_pruning_output_arguments(parser, "encoder")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from artnet.pruning_run import format_report, run_pruning

    return run_pruning_command(args, lambda out: run_pruning(Path(args.encoder), out, use_shared=not args.no_shared,
                                                             command=command_text(args)), format_report)
