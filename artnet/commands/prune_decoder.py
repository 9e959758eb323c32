"""``python -m artnet prune-decoder``: zero-channel prune the trained decoder (core_pruning, criterion ``zero``).

Writes the pruned decoder weights ``--out`` with its card and plan beside it (:func:`artnet.pruning_run.
run_decoder_pruning`), and reports the largest pixel difference to the unpruned decoder on the calibration inputs
and on held-out test pairs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from prunelab.cli import command_text, print_json
from prunelab.io import check_output_path


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name, help="zero-channel prune the trained decoder (core_pruning, criterion zero)",
        description="Calibrate on the decoder's inputs (content features and AdaIN/WCT/S2 results) for the stylisation "
                    "split's train and validation pairs, remove channels that are zero after ReLU on all of them, and "
                    "measure the pixel difference on its test pairs (artnet.prune).")
    parser.add_argument("--decoder", required=True, help="unpruned decoder weights (e.g. from train-decoder --export)")
    parser.add_argument("--encoder", help="encoder weights the decoder reads (default: the shipped pruned encoder)")
    parser.add_argument("--out", required=True, help="pruned decoder weights to write (card and plan beside it)")
    parser.add_argument("--force", action="store_true", help="overwrite --out")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from artnet.pruning_run import format_decoder_report, run_decoder_pruning
    from prunelab.device import set_threads

    out = check_output_path(args.out, force=args.force)
    set_threads(args.threads)
    report = run_decoder_pruning(Path(args.decoder), out, Path(args.encoder) if args.encoder else None,
                                 command=command_text(args))
    if args.json:
        print_json(report)
    else:
        print(format_decoder_report(report))
    return 0
