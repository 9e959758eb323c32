"""Atomic file writes: a crash or Ctrl-C never leaves a half-written checkpoint or report.

The temporary file lives beside the output (``.<name>.<random>.tmp``) and is created with mode ``0o666`` minus
the umask, so the output gets the same permissions as any other file the user creates (``tempfile.mkstemp``
would make it ``0600``). A failed write (read-only or full disk, a folder in the way) removes the temporary
file and raises :class:`~prunelab.errors.OutputError` naming the output, not the temporary file.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prunelab.errors import InputError, OutputError, clean_message


def _os_error_in(exc: BaseException) -> OSError | None:
    """``exc`` or the ``OSError`` it was raised from (torch.save turns ENOSPC into a RuntimeError)."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, OSError):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def _failure(path: Path, exc: BaseException) -> OutputError:
    os_error = _os_error_in(exc)
    reason = os_error.strerror if os_error is not None and os_error.strerror else clean_message(str(exc))
    return OutputError(f"cannot write {path}: {reason or type(exc).__name__}")


def _atomic(path: Path, write: Callable[[Path], Any]) -> Path:
    ensure_folder(path.parent)
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder")
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666))
    except OSError as exc:
        raise _failure(path, exc) from None
    try:
        write(tmp)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:  # torch.save reports a failed write as RuntimeError
        tmp.unlink(missing_ok=True)
        if isinstance(exc, RuntimeError) and not _is_write_failure(exc):
            raise
        raise _failure(path, exc) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _is_write_failure(exc: RuntimeError) -> bool:
    text = str(exc).lower()
    return _os_error_in(exc) is not None or "write" in text or "space" in text or "errno" in text


def atomic_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` to a temporary file in the same folder, then rename over ``path``."""
    import torch

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())

    return _atomic(Path(path), write)


def atomic_write_bytes(payload: bytes, path: str | Path) -> Path:
    """Write bytes to a temporary file in the same folder, then rename over ``path``."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())

    return _atomic(Path(path), write)


def atomic_write_text(text: str, path: str | Path) -> Path:
    """Write UTF-8 text to a temporary file in the same folder, then rename over ``path``."""
    return atomic_write_bytes(text.encode("utf-8"), path)


def atomic_write_with(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` to fill a temporary file beside ``path``, then rename it over ``path``."""
    return _atomic(Path(path), write)


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
        raise InputError(f"{out} already exists (use {{option}} to overwrite)", option="force")
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
