"""What the two training scripts (distill, train-decoder) share: schedule and resumable checkpoints.

Training on a 2-core CPU takes hours, so runs must survive interruption: every ``checkpoint_every`` steps
the full state (model, optimiser, sampler RNG, step, loss history) is written atomically to
``<run>/checkpoint.pt``; starting the same command again resumes from it. Each step's losses are also
appended to ``<run>/log.jsonl`` for inspection while the run goes on.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from prunelab.errors import InputError
from prunelab.io import atomic_save


def cosine_lr(step: int, total: int, base: float, warmup: int = 100, floor: float = 0.02) -> float:
    """Linear warm-up then cosine decay to ``floor * base``."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


@dataclass
class RunState:
    """Progress of a training run, saved inside each checkpoint."""

    step: int = 0
    seconds: float = 0.0
    history: list[dict[str, float]] | None = None

    def __post_init__(self) -> None:
        if self.history is None:
            self.history = []


class RunDir:
    """A run folder: ``checkpoint.pt`` (atomic, resumable), ``log.jsonl`` and ``config.json``."""

    def __init__(self, path: str | Path, config: dict[str, Any]):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.checkpoint = self.path / "checkpoint.pt"
        self.log = self.path / "log.jsonl"
        self.config = config
        config_file = self.path / "config.json"
        if config_file.exists() and self.checkpoint.exists():
            old = json.loads(config_file.read_text())
            changed = {k for k in config if k in old and old[k] != config[k] and k not in _RESUMABLE_CHANGES}
            if changed:
                raise InputError(f"{self.path} holds a run with different settings ({', '.join(sorted(changed))}); "
                                 "use another --run folder or delete it")
        config_file.write_text(json.dumps(config, indent=2))

    def load(self) -> dict[str, Any] | None:
        if not self.checkpoint.exists():
            return None
        return torch.load(self.checkpoint, map_location="cpu", weights_only=True)

    def save(self, blob: dict[str, Any], state: RunState) -> None:
        atomic_save({**blob, "run_state": asdict(state)}, self.checkpoint)

    def append_log(self, record: dict[str, float]) -> None:
        with self.log.open("a") as handle:
            handle.write(json.dumps(record) + "\n")


#: Settings that may change between a run and its resumption (they do not change the maths done so far).
_RESUMABLE_CHANGES = {"threads", "device", "checkpoint_every", "export", "card", "progress"}


class Timer:
    """Wall-clock seconds, accumulated across resumptions."""

    def __init__(self, already: float = 0.0):
        self.already = already
        self.start = time.monotonic()

    @property
    def seconds(self) -> float:
        return self.already + time.monotonic() - self.start


def smoothed(history: list[dict[str, float]], key: str, last: int = 50) -> float:
    """Mean of ``key`` over the last ``last`` logged steps (NaN when none)."""
    values = [h[key] for h in history[-last:] if key in h]
    return float(sum(values) / len(values)) if values else float("nan")


def resume(run_dir: RunDir, modules: dict[str, torch.nn.Module], optimizer: torch.optim.Optimizer,
           sampler: Any) -> RunState:
    """Load ``run_dir``'s checkpoint into the modules, optimiser and sampler (if there is one)."""
    saved = run_dir.load()
    if saved is None:
        return RunState()
    for key, module in modules.items():
        module.load_state_dict(saved[key])
    optimizer.load_state_dict(saved["optimizer"])
    sampler.set_state(saved["sampler"])
    return RunState(**saved["run_state"])


@dataclass
class StepLoop:
    """The loop both trainers run: cosine lr, one optimiser step per sampled batch, resumable checkpoints.

    ``compute_losses(batch)`` returns a dict whose ``"loss"`` is minimised; every value is logged per step.
    ``modules`` are checkpointed under their keys (``resume`` reads the same keys). ``on_checkpoint`` runs
    just before each checkpoint (e.g. a held-out evaluation that appends to the history).
    """

    name: str
    steps: int
    lr: float
    batch: int
    checkpoint_every: int
    modules: dict[str, torch.nn.Module]
    optimizer: torch.optim.Optimizer
    sampler: Any
    run_dir: RunDir
    device: torch.device

    def run(self, state: RunState, compute_losses, on_checkpoint=None, progress: bool = True) -> Timer:
        from tqdm import tqdm

        timer = Timer(state.seconds)
        bar = tqdm(total=self.steps, initial=state.step, desc=self.name, disable=not progress, smoothing=0.05)
        while state.step < self.steps:
            for group in self.optimizer.param_groups:
                group["lr"] = cosine_lr(state.step, self.steps, self.lr)
            losses = compute_losses(self.sampler.batch(self.batch).to(self.device))
            self.optimizer.zero_grad(set_to_none=True)
            losses["loss"].backward()
            self.optimizer.step()
            state.step += 1
            record = {"step": state.step, **{k: round(float(v.detach()), 6) for k, v in losses.items()}}
            state.history.append(record)
            self.run_dir.append_log(record)
            bar.update(1)
            bar.set_postfix(loss=f"{smoothed(state.history, 'loss'):.4f}")
            if state.step % self.checkpoint_every == 0 or state.step == self.steps:
                if on_checkpoint is not None:
                    on_checkpoint(state)
                state.seconds = timer.seconds
                self.run_dir.save({**{k: m.state_dict() for k, m in self.modules.items()},
                                   "optimizer": self.optimizer.state_dict(), "sampler": self.sampler.state()}, state)
        bar.close()
        return timer
