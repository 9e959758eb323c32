"""Atomic, resumable training checkpoints (one file, rewritten after every epoch).

A checkpoint holds everything a run needs to continue bit-for-bit: weights, optimizer and schedule
state, the epoch and step counters, the metric history, every callback's state and the random-number
generator states (Python, NumPy, torch CPU and CUDA). It is written with ``atomic_save`` (a crash never
leaves half a file) and read with ``torch.load(weights_only=True)``, so only plain data is stored:
NumPy's generator state is converted to a tensor and back.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from prunelab.errors import InputError, clean_message
from prunelab.io import atomic_save

CHECKPOINT_FORMAT = "prunelab-train/1"


def rng_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {"name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    return atomic_save({"format": CHECKPOINT_FORMAT, **payload, "rng": rng_state()}, path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (tensors mapped to CPU)."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # corrupt, truncated or foreign file
        raise InputError(f"cannot read checkpoint {path}: {clean_message(str(exc)) or type(exc).__name__}") from exc
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{path} is not a prunelab training checkpoint")
    return data
