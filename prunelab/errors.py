"""The errors every prunelab package raises for bad input, and the one-line messages shown for them.

Code raises :class:`InputError` at the boundary where it validates input. Command-line front ends
(:func:`prunelab.cli.cli_entry`) and the demos turn it, any ``OSError`` (missing, unreadable or unwritable
files, read-only or full disks) and ``MemoryError`` into one line (:func:`error_message`). Messages never show our
temporary file names and never repeat PyTorch's advice to load a file with ``weights_only=False``.
"""

from __future__ import annotations

import os
import re


class InputError(ValueError):
    """Invalid user input (file, option, shape, value). Reported as one line with exit code 2.

    Library code names its *parameters*, never command-line flags: a message may hold the placeholder
    ``{option}`` for the parameter it is about (``option="force"``). ``str(exc)`` shows the Python name
    (``force``); :func:`prunelab.cli.cli_entry` shows the flag (``--force``), so each caller reads its own spelling.
    """

    def __init__(self, message: str = "", option: str | None = None) -> None:
        self.template = str(message)
        self.option = option
        super().__init__(self.render(for_cli=False))

    def render(self, for_cli: bool) -> str:
        """The message, with ``{option}`` spelt as a flag (``for_cli``) or as the Python parameter name."""
        if self.option is None:
            return self.template
        name = "--" + self.option.replace("_", "-") if for_cli else self.option
        return self.template.replace("{option}", name)


class OutputError(InputError):
    """An output that cannot be written (read-only or full disk, a folder in the way, a dangling link)."""


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


def error_message(exc: BaseException, for_cli: bool = False) -> str:
    """The one-line message :func:`prunelab.cli.cli_entry` prints (and the demos show) for an error.

    ``for_cli``: spell an :class:`InputError`'s ``{option}`` as a command-line flag.
    """
    if isinstance(exc, InputError):
        return clean_message(exc.render(for_cli)) or type(exc).__name__
    if isinstance(exc, OSError):
        return os_error_message(exc)
    if isinstance(exc, MemoryError):
        detail = clean_message(str(exc))
        return f"out of memory{': ' + detail if detail else ''} (try a smaller input)"
    return clean_message(str(exc)) or type(exc).__name__
