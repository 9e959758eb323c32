"""``python -m artnet export``: write encoder + AdaIN + decoder as one ONNX or TorchScript graph.

Writes ``artnet_adain.{onnx,torchscript.pt}`` and its card into the folder ``--out`` (:mod:`artnet.export`); the
written file is run and compared with PyTorch before the command succeeds.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from artnet.export import FORMATS, export
from prunelab.cli import command_text, print_json
from prunelab.errors import InputError


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name, help="write encoder + AdaIN + decoder as one ONNX or TorchScript graph",
        description="Export for deployment runtimes (artnet.export): inputs content, style (images in [0, 1], sides "
                    "multiples of 8) and alpha; the written file is run and compared with PyTorch before the command "
                    "succeeds.")
    parser.add_argument("--format", required=True, choices=FORMATS, help="graph format")
    parser.add_argument("--out", required=True,
                        help="folder to write artnet_adain.{onnx,torchscript.pt} and its card to")
    parser.add_argument("--encoder", default="pruned", help="pruned (default, shipped), unpruned or a weights file")
    parser.add_argument("--decoder", help="decoder weights file (default: the shipped one)")
    parser.add_argument("--force", action="store_true", help="overwrite an earlier export in --out")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (default: torch's choice)")
    parser.add_argument("--json", action="store_true", help="print the export report as JSON")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from artnet.model import ArtNet
    from prunelab.device import set_threads

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file; --out must be a folder")
    if args.encoder == "imagenet":
        raise InputError("export the ImageNet encoder by passing its weights file and --decoder")
    set_threads(args.threads)
    net = ArtNet.load(args.encoder, args.decoder, device="cpu")
    report = export(net.encoder, net.decoder, args.format, out, force=args.force,
                    source={"encoder": args.encoder, "decoder": args.decoder or "shipped",
                            "command": command_text(args)})
    if args.json:
        print_json(report.to_dict())
    else:
        diff = "not checked" if report.max_abs_diff is None else f"max |diff| {report.max_abs_diff:.2e}"
        print(f"wrote {report.path} and {report.card}; checked with {report.checked_with}: {diff} "
              f"(tolerance {report.tolerance})")
    return 0
