"""Command-line conventions shared by all prunelab CLIs.

Bad input must give one line on stderr (``error: ...``) and exit code 2, never a traceback.
Code raises :class:`InputError` at the boundary where it validates input; :func:`cli_entry`
turns that, any ``OSError`` (missing, unreadable or unwritable files, read-only or full disks, a path through a
file) and ``MemoryError`` into the one-line message. Messages never show our temporary file names, and never
repeat PyTorch's advice to load a file with ``weights_only=False`` (:func:`clean_message`).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXIT_BAD_INPUT = 2


class InputError(ValueError):
    """Invalid user input (file, option, shape, value). Reported as one line with exit code 2."""


class OutputError(InputError):
    """An output that cannot be written (read-only or full disk, a folder in the way, a dangling link)."""


class UnreachableTarget(InputError):
    """A pruning budget the per-layer floors (``min_channels``, ``round_to``, ``max_layer_ratio``) cannot reach."""


def cli_entry(main: Callable[..., int | None]) -> Callable[..., int]:
    """Wrap a CLI ``main`` so input, file-system and memory errors print ``error: <message>`` and return 2."""

    @functools.wraps(main)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        try:
            code = main(*args, **kwargs)
        except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading: not an error of ours
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
            return 141
        except (InputError, OSError, MemoryError) as exc:
            print(f"error: {error_message(exc)}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        return 0 if code is None else int(code)

    return wrapper


#: Sentences of PyTorch's ``torch.load`` errors that recommend weakening ``weights_only`` (never repeated).
_TORCH_ADVICE = re.compile(r"weights_only|Weights only load failed|can still be loaded|trusted source"
                           r"|Check the documentation of torch\.load"
                           r"|arbitrary code execution|torch\.serialization\.(add_safe_globals|safe_globals)",
                           re.IGNORECASE)
#: Our temporary files (``.<name>.<random>.tmp`` beside the output): shown as the output they become.
_TEMP_NAME = re.compile(r"(^|/)\.([^/]+?)\.[A-Za-z0-9_]{6,}\.tmp$")


def clean_message(text: str, limit: int = 300) -> str:
    """One line: whitespace collapsed, PyTorch's ``weights_only`` advice removed, at most ``limit`` characters.

    What the advice stood for is said instead ("refused by the safe weights-only loader"), so a message like
    ``cannot read X: <advice>`` still says why.
    """
    text = " ".join(str(text).split())
    if _TORCH_ADVICE.search(text):
        text = re.sub(r"Weights only load failed\.?|This file can still be loaded[^.]*\."
                      r"|In PyTorch 2\.\d+,.*?(trusted source\.?|$)"
                      r"|\(\d\) [^()]*?weights_only.*?(?=\(\d\)|WeightsUnpickler error:|$)"
                      r"|Check the documentation of torch\.load.*?(\.html\.?|$)", " ", text, flags=re.IGNORECASE)
        sentences = re.split(r"(?<=[.!?])\s+", " ".join(text.split()))
        text = " ".join(s for s in sentences if not _TORCH_ADVICE.search(s)).strip()
        if not re.search(r"unsupported GLOBAL|Unsupported global|not trusted|not allowed", text):
            text = text.rstrip(" (:;,-")
            text = f"{text}: refused by the safe weights-only loader" if text else \
                "refused by the safe weights-only loader"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def public_path(path: str | os.PathLike[str]) -> str:
    """``path``, with one of our temporary names (``.<name>.<random>.tmp``) replaced by the final ``<name>``."""
    return _TEMP_NAME.sub(r"\1\2", os.fspath(path))


def os_error_message(exc: OSError) -> str:
    """``<path>: <problem>`` for an ``OSError`` (no ``[Errno N]``, no temporary names)."""
    reason = exc.strerror or clean_message(str(exc)) or type(exc).__name__
    if exc.strerror is None or exc.filename is None:
        return clean_message(str(exc)) or reason
    where = public_path(exc.filename)
    if exc.filename2 is not None and public_path(exc.filename2) != where:
        where += f" -> {public_path(exc.filename2)}"
    return clean_message(f"{where}: {reason}")


def error_message(exc: BaseException) -> str:
    """The one-line message :func:`cli_entry` prints (and the demos show) for an error."""
    if isinstance(exc, OSError):
        return os_error_message(exc)
    if isinstance(exc, MemoryError):
        detail = clean_message(str(exc))
        return f"out of memory{': ' + detail if detail else ''} (try a smaller input)"
    return clean_message(str(exc)) or type(exc).__name__


def check_output_path(path: str | Path, force: bool = False) -> Path:
    """Refuse to overwrite an existing file unless ``force``; make sure the parent folder exists.

    Also refused, with or without ``force``: a dangling symbolic link (writing would silently replace the link,
    not create its target) and a path that runs through a file (``file.txt/out.png``).
    """
    out = Path(path)
    if out.is_symlink() and not out.exists():
        raise OutputError(f"{out} is a symbolic link to {os.readlink(out)}, which does not exist; remove the link "
                          "or choose another output")
    if out.exists() and not force and (out.is_file() or any(out.iterdir())):
        raise InputError(f"{out} already exists (use --force to overwrite)")
    ensure_folder(out.parent)
    return out


def ensure_folder(folder: str | Path) -> Path:
    """Create ``folder`` (and its parents) for an output; :class:`OutputError` naming the problem otherwise."""
    folder = Path(folder)
    if folder.is_dir():
        return folder
    for above in (folder, *folder.parents):
        if above.is_symlink() and not above.exists():
            raise OutputError(f"cannot create folder {folder}: {above} is a symbolic link to {os.readlink(above)}, "
                              "which does not exist")
        if above.exists():
            if not above.is_dir():
                raise OutputError(f"cannot create folder {folder}: {above} is a file, not a folder")
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create folder {folder}: {exc.strerror or clean_message(str(exc))}") from None
    return folder


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
