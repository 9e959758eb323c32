"""Arguments and output checks shared by the ``python -m cp_predict`` commands (validated once, here)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prunelab.cli import positive_int
from prunelab.errors import InputError
from prunelab.io import check_output_path

DEFAULT_MODEL = "weights/cp_attention.pt"


def add_command_parser(subparsers: Any, name: str, help_text: str) -> argparse.ArgumentParser:
    """The sub-command's parser, its one-line help also its description."""
    return subparsers.add_parser(name, help=help_text, description=help_text.replace("%%", "%"))


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads (default 1)")


def add_force_argument(parser: argparse.ArgumentParser, what: str = "--out") -> None:
    parser.add_argument("--force", action="store_true", help=f"overwrite an existing {what}")


def add_json_argument(parser: argparse.ArgumentParser, what: str = "the result") -> None:
    parser.add_argument("--json", action="store_true", help=f"print {what} as one JSON document")


def add_trust_pickle_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trust-pickle", action="store_true", help="allow pyskl .pkl inputs (unpickling runs code)")


def image_size(text: str) -> tuple[int, int]:
    """``argparse`` type: ``WIDTHxHEIGHT`` (e.g. ``640x480``), both positive."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT like 640x480, got {text!r}") from None
    if w <= 0 or h <= 0:
        raise argparse.ArgumentTypeError("image size must be positive")
    return w, h


def progress_printer(enabled: bool) -> Callable[[str], None] | None:
    """A callback printing progress lines on stderr, or ``None`` (e.g. under ``--json``)."""
    return (lambda msg: print(msg, file=sys.stderr, flush=True)) if enabled else None


def npz_output(args: argparse.Namespace) -> Path:
    """``--out`` checked: an ``.npz`` name, not overwriting an existing file unless ``--force``."""
    out = Path(args.out)
    if out.suffix.lower() != ".npz":
        raise InputError(f"--out must end in .npz, got {out.name}")
    check_output_path(out, args.force)
    return out
