"""Where prunelab finds its files: shipped weights (``weights/``) and the development data (``../shared``).

``PRUNELAB_WEIGHTS`` overrides the weights folder (e.g. for an installed, non-editable copy).
The project never copies the development data into the repository: code reads it from the path in
``PRUNELAB_SHARED`` or, when unset, from ``../shared`` next to the checkout (or next to the current working
directory). A fresh user machine has neither, so callers ask :func:`shared_root` (``None`` when absent) or
:func:`shared_path` (raises a clear error).
"""

from __future__ import annotations

import os
from pathlib import Path

WEIGHTS_ENV_VAR = "PRUNELAB_WEIGHTS"


def weights_dir() -> Path:
    """The folder holding shipped weights and their JSON cards."""
    env = os.environ.get(WEIGHTS_ENV_VAR)
    return Path(env).expanduser() if env else Path(__file__).resolve().parents[1] / "weights"


def weights_file(name: str) -> Path:
    """Path of a shipped weights file; raises ``FileNotFoundError`` with a clear message when missing."""
    path = weights_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} not found (set {WEIGHTS_ENV_VAR} or re-run its training command)")
    return path


ENV_VAR = "PRUNELAB_SHARED"
SHARED_ENV_VAR = ENV_VAR


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
