"""Command-line conventions shared by all prunelab CLIs.

Bad input must give one line on stderr (``error: ...``) and exit code 2, never a traceback.
Code raises :class:`InputError` at the boundary where it validates input; :func:`cli_entry`
turns that (and missing files/shared data) into the one-line message.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXIT_BAD_INPUT = 2


class InputError(ValueError):
    """Invalid user input (file, option, shape, value). Reported as one line with exit code 2."""


class UnreachableTarget(InputError):
    """A pruning budget the per-layer floors (``min_channels``, ``round_to``, ``max_layer_ratio``) cannot reach."""


def cli_entry(main: Callable[..., int | None]) -> Callable[..., int]:
    """Wrap a CLI ``main`` so input errors print ``error: <message>`` and return exit code 2."""

    @functools.wraps(main)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        try:
            code = main(*args, **kwargs)
        except (InputError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            print(f"error: {message}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading: not an error of ours
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
            return 141
        return 0 if code is None else int(code)

    return wrapper


def check_output_path(path: str | Path, force: bool = False) -> Path:
    """Refuse to overwrite an existing file unless ``force``; make sure the parent folder exists."""
    out = Path(path)
    if out.exists() and not force and (out.is_file() or any(out.iterdir())):
        raise InputError(f"{out} already exists (use --force to overwrite)")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def print_json(obj: Any) -> None:
    """Print machine-readable output (``--json``) on stdout, one document."""
    print(json.dumps(obj, indent=2, sort_keys=False, default=_json_default))


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def positive_int(text: str) -> int:
    """``argparse`` type: a strictly positive integer, with a readable message otherwise."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value
