"""Run folders and atomic, resumable checkpoints.

A checkpoint holds everything a run needs to continue bit-for-bit: weights, optimiser and schedule state,
step counters, the logged history, callback or sampler state, and the random-number generator states
(Python, NumPy, torch CPU and CUDA). It is written with ``atomic_save`` (a crash never leaves half a file)
and read with ``torch.load(weights_only=True)``, so only plain data is stored: NumPy's generator state is
converted to a tensor and back.

A :class:`RunDir` is the folder of one resumable run: ``checkpoint.pt``, ``config.json`` (the settings, checked
when the run is resumed: a run is never continued with a different schedule) and ``log.jsonl`` (one JSON record
per logged step, readable while the run goes on); a run of several phases (e.g. training with pruning, then
fine-tuning) keeps one checkpoint per phase, ``<phase>.pt``. The training engine (:class:`prunelab.training.StepLoop`)
is what writes and reads them.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from prunelab.errors import InputError, clean_message
from prunelab.io import atomic_save, atomic_write_text, ensure_folder

CHECKPOINT_FORMAT = "prunelab-train/1"
#: Settings that may change between a run and its resumption: they do not change the maths done so far.
RESUMABLE_SETTINGS = frozenset({"threads", "device", "checkpoint_every", "export", "card", "progress"})


def rng_state() -> dict[str, Any]:
    """The Python, NumPy, torch CPU (and CUDA) generator states as plain data."""
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
    """Restore what :func:`rng_state` returned (CUDA states only onto the same number of devices)."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` plus the format tag and the RNG states to ``path`` atomically."""
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


class RunDir:
    """The folder of one resumable run: ``checkpoint.pt``, ``config.json`` and ``log.jsonl``.

    ``config``: the run's settings (JSON-serialisable). When the folder already holds a checkpoint, every setting
    but ``resumable`` ones must equal the saved ``config.json``; otherwise :class:`InputError` (parameter
    ``option``, default ``run``): a run is never continued with a different schedule or objective.
    ``phases``: names of the phases of a run that has several (e.g. training, then fine-tuning), each with its own
    checkpoint :meth:`phase_checkpoint`; any of them existing counts as a checkpoint for the check above.
    """

    def __init__(self, path: str | Path, config: Mapping[str, Any],
                 resumable: Iterable[str] = RESUMABLE_SETTINGS, option: str = "run",
                 phases: Iterable[str] = ()) -> None:
        self.path = Path(path)
        ensure_folder(self.path)
        self.checkpoint = self.path / "checkpoint.pt"
        self.log = self.path / "log.jsonl"
        self.phases = tuple(phases)
        self.config = dict(config)
        config_file = self.path / "config.json"
        started = self.checkpoint.exists() or any(self.phase_checkpoint(p).exists() for p in self.phases)
        if config_file.exists() and started:
            try:
                old = json.loads(config_file.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise InputError(f"{config_file} is not a readable run configuration ({exc.__class__.__name__}); "
                                 "use another {option} folder or delete it", option=option) from None
            if not isinstance(old, dict):
                raise InputError(f"{config_file} is not a run configuration (a JSON {type(old).__name__}); "
                                 "use another {option} folder or delete it", option=option)
            allowed = set(resumable)
            changed = sorted(k for k in self.config if k in old and old[k] != self.config[k] and k not in allowed)
            if changed:
                raise InputError(f"{self.path} holds a run with different settings ({', '.join(changed)}); "
                                 "use another {option} folder or delete it", option=option)
        atomic_write_text(json.dumps(self.config, indent=2), config_file)

    def phase_checkpoint(self, phase: str) -> Path:
        """The checkpoint of one phase of a run of several phases: ``<phase>.pt``."""
        return self.path / f"{phase}.pt"

    def append_log(self, record: Mapping[str, Any]) -> None:
        """Append one JSON line to ``log.jsonl``."""
        with self.log.open("a") as handle:
            handle.write(json.dumps(dict(record)) + "\n")
