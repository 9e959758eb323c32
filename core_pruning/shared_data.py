"""Locate the development data folder ``shared/`` that sits beside a checkout.

The project never copies that data into the repository: code reads it from the path in the
``PRUNELAB_SHARED`` environment variable or, when unset, from ``../shared`` next to the checkout
(or next to the current working directory). A fresh user machine has neither, so callers ask
:func:`shared_root` (``None`` when absent) or :func:`shared_path` (raises a clear error).
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "PRUNELAB_SHARED"


class SharedDataMissing(FileNotFoundError):
    """Raised when development data under ``shared/`` is needed but not there."""


def _candidates() -> list[Path]:
    env = os.environ.get(ENV_VAR)
    if env:
        return [Path(env).expanduser()]
    checkout = Path(__file__).resolve().parents[1]
    return [checkout.parent / "shared", Path.cwd().resolve().parent / "shared"]


def shared_root() -> Path | None:
    """The shared data folder, or ``None`` when it is not on this machine."""
    for candidate in _candidates():
        if candidate.is_dir():
            return candidate
    return None


def has_shared(*parts: str) -> bool:
    """True when ``shared/<parts...>`` exists."""
    root = shared_root()
    return root is not None and root.joinpath(*parts).exists()


def shared_path(*parts: str) -> Path:
    """Path of ``shared/<parts...>``; raises :class:`SharedDataMissing` naming what is missing."""
    root = shared_root()
    if root is None:
        where = os.environ.get(ENV_VAR) or "../shared beside the checkout"
        raise SharedDataMissing(f"development data folder not found ({where}); set {ENV_VAR}=/path/to/shared")
    path = root.joinpath(*parts)
    if not path.exists():
        raise SharedDataMissing(f"{path} does not exist in the shared data folder")
    return path
