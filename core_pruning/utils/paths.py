"""Where the project's own shipped weights live (``weights/`` at the top of the checkout).

``PRUNELAB_WEIGHTS`` overrides the folder (e.g. for an installed, non-editable copy).
"""

from __future__ import annotations

import os
from pathlib import Path

WEIGHTS_ENV_VAR = "PRUNELAB_WEIGHTS"


def weights_dir() -> Path:
    """The folder holding shipped weights and their JSON cards."""
    env = os.environ.get(WEIGHTS_ENV_VAR)
    return Path(env).expanduser() if env else Path(__file__).resolve().parents[2] / "weights"


def weights_file(name: str) -> Path:
    """Path of a shipped weights file; raises ``FileNotFoundError`` with a clear message when missing."""
    path = weights_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} not found (set {WEIGHTS_ENV_VAR} or re-run its training command)")
    return path
