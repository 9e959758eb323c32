"""One way to write a command line for every prunelab package.

A package's ``__main__`` lists its commands; each command is a module with ``add_parser(subparsers, name)``
(which sets ``run`` as the parser's default) and a ``run(args) -> int`` function. :func:`command_line` builds the
parser and dispatches. Bad input gives one line on stderr (``error: ...``) and exit code 2, never a traceback
(:func:`cli_entry`).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import shlex
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from prunelab.errors import InputError, error_message

EXIT_BAD_INPUT = 2


def cli_entry(main: Callable[..., int | None]) -> Callable[..., int]:
    """Wrap a CLI ``main`` so input, file-system and memory errors, and a training run whose loss diverged
    (``FloatingPointError`` from :class:`prunelab.training.StepLoop`), print ``error: <message>`` and return 2."""

    @functools.wraps(main)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        try:
            code = main(*args, **kwargs)
        except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading: not an error of ours
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
            return 141
        except (InputError, OSError, MemoryError, FloatingPointError) as exc:  # the last: a diverged training run
            print(f"error: {error_message(exc, for_cli=True)}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        return 0 if code is None else int(code)

    return wrapper


class _Parser(argparse.ArgumentParser):
    """``argparse`` with one-line errors: ``error: <message>`` and exit code 2, usage kept for ``--help``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see {self.prog} --help)\n")


def build_parser(prog: str, description: str, commands: Mapping[str, str]) -> argparse.ArgumentParser:
    """A parser with one sub-command per ``{name: module path}``; each module's ``add_parser`` fills its own."""
    parser = _Parser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for name, module_name in commands.items():
        importlib.import_module(module_name).add_parser(sub, name)
    return parser


def command_line(prog: str, description: str, commands: Mapping[str, str]) -> Callable[[list[str] | None], int]:
    """The ``main(argv)`` of a package: parse, run the chosen command's ``run(args)``, report errors in one line."""

    @cli_entry
    def main(argv: list[str] | None = None) -> int:
        args = build_parser(prog, description, commands).parse_args(argv)
        args.prog = prog
        args.argv = list(sys.argv[1:] if argv is None else argv)  # [command, *arguments], for cards and reports
        return args.run(args)

    return main


def command_text(args: argparse.Namespace) -> str:
    """The command that made an output, recorded in weight and model cards: ``python -m <package> <arguments>``.

    Uses what :func:`command_line` recorded (``args.prog``, ``args.argv``), so a ``main([...])`` called in-process
    (tests, notebooks) records its own arguments, not the host's ``sys.argv``.
    """
    prog = getattr(args, "prog", None) or Path(sys.argv[0]).name
    argv = getattr(args, "argv", None)
    return f"{prog} " + shlex.join(sys.argv[1:] if argv is None else argv)


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
