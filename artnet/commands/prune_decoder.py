"""``python -m artnet prune-decoder``: zero-channel prune the trained decoder (core_pruning, criterion ``zero``).

Writes the pruned decoder weights ``--out`` with its card and plan beside it (:func:`artnet.pruning_run.
run_decoder_pruning`), and reports the largest pixel difference to the unpruned decoder on the calibration inputs
and on held-out test pairs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from artnet.commands.common import add_pruning_output_arguments, run_pruning_command
from prunelab.cli import command_text


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name, help="zero-channel prune the trained decoder (core_pruning, criterion zero)",
        description="Calibrate on the decoder's inputs (content features and AdaIN/WCT/S2 results) for the stylisation "
                    "split's train and validation pairs, remove channels that are zero after ReLU on all of them, and "
                    "measure the pixel difference on its test pairs (artnet.prune).")
    parser.add_argument("--decoder", required=True, help="unpruned decoder weights (e.g. from train-decoder --export)")
    parser.add_argument("--encoder", help="encoder weights the decoder reads (default: the shipped pruned encoder)")
    add_pruning_output_arguments(parser, "decoder")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from artnet.pruning_run import format_decoder_report, run_decoder_pruning

    encoder = Path(args.encoder) if args.encoder else None
    return run_pruning_command(args, lambda out: run_decoder_pruning(Path(args.decoder), out, encoder,
                                                                     command=command_text(args)),
                               format_decoder_report)
