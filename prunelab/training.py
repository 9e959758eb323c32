"""The one training engine of prunelab: optimiser step, learning rate, checkpoint, resume and log.

Every package trains through :class:`StepLoop`, so "zero_grad / backward / step / lr / checkpoint / resume /
log" is written once, here:

- ``core_pruning.training.Trainer`` (epochs over a ``Dataset``, callbacks, DDP) calls :meth:`StepLoop.optimise`
  once per batch and saves or restores the loop with its model and callbacks after every epoch;
- artnet's distillation and decoder training call :meth:`StepLoop.run`: a fixed number of steps, each on a batch
  drawn from an infinite sampler, losses logged to a :class:`~prunelab.runs.RunDir`, a checkpoint every N steps;
- cp_predict's ``TorchRiskModel.train_steps`` calls :meth:`StepLoop.optimise` per batch of its epochs.

The learning-rate ``schedule`` is either a function ``step -> lr`` (set on every parameter group before the
step, e.g. :func:`cosine_lr`) or a torch ``LRScheduler`` (stepped after the optimiser, its state checkpointed).
A checkpoint stores the optimiser, scheduler, step, elapsed seconds, history, the RNG states and the caller's
``parts`` (anything with ``state_dict``/``load_state_dict``: modules, samplers, ...), so a resumed run continues
exactly as if it had never stopped.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler
from tqdm.auto import tqdm

from prunelab.errors import InputError, clean_message
from prunelab.runs import RunDir, load_checkpoint, save_checkpoint, set_rng_state

#: A learning rate per step, or a torch scheduler that the loop steps after each optimiser step.
Schedule = Callable[[int], float] | LRScheduler


class Stateful(Protocol):
    """Anything a checkpoint can hold: ``nn.Module``, optimisers, samplers with a state."""

    def state_dict(self) -> Any: ...

    def load_state_dict(self, state: Any) -> Any: ...


def cosine_lr(step: int, total: int, base: float, warmup: int = 100, floor: float = 0.02) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay from ``base`` to ``floor * base`` at ``total``."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def schedule_factor(name: str, step: int, total: int, warmup: int = 0) -> float:
    """Multiplier of the base rate at ``step`` of ``total``: linear warm-up, then ``name``.

    ``"cosine"``: half a cosine to 0; ``"step"``: x0.1 at 50% and again at 75% of the steps after warm-up;
    ``"constant"``: 1.
    """
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    if name == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
    if name == "step":
        return 0.1 ** ((progress >= 0.5) + (progress >= 0.75))
    return 1.0


def smoothed(history: list[dict[str, Any]], key: str, last: int = 50) -> float:
    """Mean of ``key`` over the last ``last`` logged records that have it (NaN when none)."""
    values = [h[key] for h in history[-last:] if key in h]
    return float(sum(values) / len(values)) if values else float("nan")


class StepLoop:
    """Optimiser steps with a learning-rate schedule, gradient clipping, a history, checkpoints and resume.

    ``optimizer``: the optimiser to step. ``schedule``: see :data:`Schedule` (None: the optimiser's own rate).
    ``grad_clip``: clip the gradient norm of ``clip_module``'s parameters (default: the optimised ones) to it.
    ``step`` counts optimiser steps, ``history`` holds the logged records and ``seconds`` the training time,
    all carried across resumptions.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, schedule: Schedule | None = None, *,
                 grad_clip: float | None = None, clip_module: nn.Module | None = None) -> None:
        self.optimizer = optimizer
        self.schedule = schedule
        self.grad_clip = grad_clip
        self.clip_module = clip_module
        self.step = 0
        self.history: list[dict[str, Any]] = []
        self._seconds_before = 0.0
        self._started = time.monotonic()

    @property
    def seconds(self) -> float:
        """Training seconds, including those of the runs this one resumed."""
        return self._seconds_before + time.monotonic() - self._started

    # -- one step ---------------------------------------------------------------------------------
    def optimise(self, loss: torch.Tensor, after_backward: Callable[[], None] | None = None) -> None:
        """One optimisation step minimising ``loss``; ``after_backward`` runs between backward and the step.

        Raises ``FloatingPointError`` on a non-finite loss (before touching the weights).
        """
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss is {float(loss.detach())} at step {self.step}: lower the learning rate")
        if self.schedule is not None and not isinstance(self.schedule, LRScheduler):
            lr = self.schedule(self.step)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if after_backward is not None:
            after_backward()
        if self.grad_clip:
            params = (self.clip_module.parameters() if self.clip_module is not None
                      else [p for group in self.optimizer.param_groups for p in group["params"]])
            nn.utils.clip_grad_norm_(params, self.grad_clip)
        self.optimizer.step()
        if isinstance(self.schedule, LRScheduler):
            self.schedule.step()
        self.step += 1

    # -- the log ----------------------------------------------------------------------------------
    def log(self, record: dict[str, Any], run_dir: RunDir | None = None) -> None:
        """Append ``record`` to the history (and to ``run_dir``'s ``log.jsonl``)."""
        self.history.append(record)
        if run_dir is not None:
            run_dir.append_log(record)

    def annotate(self, values: dict[str, Any], run_dir: RunDir | None = None) -> None:
        """Add ``values`` (e.g. a held-out evaluation) to the last record; logged as its own line with the step."""
        self.history[-1].update(values)
        if run_dir is not None:
            run_dir.append_log({"step": self.step, **values})

    # -- checkpoints ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        scheduler = self.schedule.state_dict() if isinstance(self.schedule, LRScheduler) else None
        return {"optimizer": self.optimizer.state_dict(), "scheduler": scheduler, "step": self.step,
                "seconds": self.seconds, "history": self.history}

    def save(self, path: str | Path, parts: Mapping[str, Stateful] | None = None,
             extra: dict[str, Any] | None = None) -> Path:
        """Write the loop, each of ``parts`` (under its key) and ``extra`` (plain data) atomically to ``path``."""
        payload = {**{key: part.state_dict() for key, part in (parts or {}).items()}, **(extra or {}),
                   "loop": self.state_dict()}
        return save_checkpoint(path, payload)

    @staticmethod
    def read(path: str | Path) -> dict[str, Any] | None:
        """The checkpoint at ``path``, or None when there is none yet (:class:`InputError` when unreadable)."""
        return load_checkpoint(path) if Path(path).is_file() else None

    def restore(self, saved: dict[str, Any], parts: Mapping[str, Stateful] | None = None,
                source: str | Path = "checkpoint") -> None:
        """Load a checkpoint read by :meth:`read` into ``parts`` and the loop, and restore the RNG states."""
        for key, part in (parts or {}).items():
            try:
                part.load_state_dict(saved[key])
            except (KeyError, RuntimeError, ValueError) as exc:
                reason = clean_message(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                raise InputError(f"checkpoint {source} does not fit this {key}: {reason}") from exc
        loop = saved.get("loop")
        if not isinstance(loop, dict):
            raise InputError(f"checkpoint {source} holds no training-loop state (written by an older prunelab or "
                             "by something else): start a new run")
        try:
            self.optimizer.load_state_dict(loop["optimizer"])
        except (KeyError, ValueError) as exc:
            raise InputError(f"checkpoint {source} does not fit this optimiser: {clean_message(str(exc))}") from exc
        if isinstance(self.schedule, LRScheduler) and loop["scheduler"] is not None:
            self.schedule.load_state_dict(loop["scheduler"])
        self.step, self.history = int(loop["step"]), list(loop["history"])
        self._seconds_before, self._started = float(loop["seconds"]), time.monotonic()
        set_rng_state(saved["rng"])

    def resume(self, path: str | Path, parts: Mapping[str, Stateful] | None = None) -> dict[str, Any] | None:
        """:meth:`read` then :meth:`restore`; returns the checkpoint (None: nothing to resume, nothing changed)."""
        saved = self.read(path)
        if saved is not None:
            self.restore(saved, parts, path)
        return saved

    # -- a step-based run -------------------------------------------------------------------------
    def run(self, steps: int, next_batch: Callable[[], Any], compute_losses: Callable[[Any], dict[str, torch.Tensor]],
            run_dir: RunDir, checkpoint_every: int, parts: Mapping[str, Stateful] | None = None,
            on_checkpoint: Callable[[StepLoop], None] | None = None, name: str = "train",
            progress: bool = True) -> None:
        """Step until ``self.step == steps``: ``compute_losses(next_batch())["loss"]`` is minimised.

        Every loss is logged per step (rounded to 6 decimals). Every ``checkpoint_every`` steps and at the end,
        ``on_checkpoint(self)`` runs (e.g. a held-out evaluation, :meth:`annotate`), then the loop and ``parts``
        are saved to ``run_dir.checkpoint``. Call :meth:`resume` first to continue an interrupted run.
        """
        if checkpoint_every < 1:
            raise InputError("{option} must be >= 1", option="checkpoint_every")
        bar = tqdm(total=steps, initial=self.step, desc=name, disable=not progress, smoothing=0.05)
        while self.step < steps:
            losses = compute_losses(next_batch())
            self.optimise(losses["loss"])
            self.log({"step": self.step, **{k: round(float(v.detach()), 6) for k, v in losses.items()}}, run_dir)
            bar.update(1)
            bar.set_postfix(loss=f"{smoothed(self.history, 'loss'):.4f}")
            if self.step % checkpoint_every == 0 or self.step == steps:
                if on_checkpoint is not None:
                    on_checkpoint(self)
                self.save(run_dir.checkpoint, parts)
        bar.close()
