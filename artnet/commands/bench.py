"""``python -m artnet bench``: ms per image (style features cached and not) and peak memory, in one process.

Rows for ArtNet and the baselines of :mod:`artnet.bench`; ``--json`` prints ``{device, rows: [...]}`` with the
command that produced it. On the CPU the process keeps freed memory (:func:`artnet.runtime.retain_freed_memory`),
as the commands that stylise do, so the rows time what ``stylize`` runs.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from artnet.bench import DEFAULT_SIZES, MODELS
from artnet.commands.common import add_precision_argument, add_transform_argument, size_arg
from prunelab.cli import command_text, positive_int, print_json
from prunelab.errors import InputError


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name, help="time ArtNet against the VGG19 AdaIN network and the teacher",
        description="Speed benchmark (artnet.bench): ms per image with cached and uncached style features, and peak "
                    "memory, in one process.")
    parser.add_argument("--sizes", default=",".join(DEFAULT_SIZES),
                        help=f"comma-separated WxH (default {','.join(DEFAULT_SIZES)})")
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated subset of {','.join(MODELS)}")
    parser.add_argument("--repeats", type=positive_int, default=3, help="timed runs per row up to 1024x1024 (3)")
    add_transform_argument(parser, "adain", what="transform for the artnet rows")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda ...")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (default: torch's choice)")
    parser.add_argument("--tile", type=positive_int, default=1024, help="tile side in pixels (default 1024)")
    add_precision_argument(parser)
    parser.add_argument("--style-size", type=size_arg, default=512, help="style image side (default 512)")
    parser.add_argument("--json", action="store_true", help="print {device, rows: [...]} as JSON")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from artnet.bench import format_table, run_bench
    from artnet.runtime import retain_freed_memory
    from prunelab.device import resolve_device, set_threads

    set_threads(args.threads)
    device = resolve_device(args.device)
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if not sizes or not models:
        raise InputError("give at least one size and one model")
    if device.type == "cpu":
        retain_freed_memory()
    log = None if args.json else (lambda line: print(line, file=sys.stderr, flush=True))
    result = run_bench(sizes, models, device, args.repeats, args.tile, transform=args.transform,
                       style_size=args.style_size or 512, progress=log, precision=args.precision)
    result["command"] = command_text(args)
    if args.json:
        print_json(result)
    else:
        print(format_table(result))
    return 0
