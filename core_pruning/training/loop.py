"""Epoch-based training of a model on a ``Dataset``: ``fit`` and ``evaluate`` with callbacks, progress and DDP.

Every training-time pruning method in prunelab is a :class:`~core_pruning.training.callbacks.Callback`
on this trainer, and other packages use it for plain training and fine-tuning::

    result = core_pruning.train(model, data.train, data.test, epochs=5, lr=0.05, checkpoint="run/ckpt.pt")

The optimiser step, learning-rate schedule, checkpoint and resume are those of the one training engine,
:class:`prunelab.training.StepLoop`; this module adds epochs, data loading, callbacks, metrics and DDP.
Design choices, and why:

- ``batch_size`` is the *global* batch. Under ``torchrun`` each of the N processes takes ``batch_size / N``
  samples of one shared permutation per epoch (``DistributedSampler`` with the run's seed), and DDP
  averages the gradients, so the same command optimises the same objective on 1 or N processes.
- Data order depends only on ``(seed, epoch)`` and the RNG states are checkpointed, so a run resumed
  from its end-of-epoch checkpoint continues exactly as if it had never stopped.
- The learning-rate schedule is per step (cosine by default), so it does not depend on the epoch count
  being a multiple of anything.
- Only the main process shows progress and writes checkpoints; every process evaluates its shard of the
  validation set and the sums are reduced, so metrics are exact and identical on every rank.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset
from tqdm.auto import tqdm

from core_pruning.training import distributed
from core_pruning.training.callbacks import BatchResult, Callback
from prunelab.errors import InputError
from prunelab.seed import seed_everything
from prunelab.training import StepLoop, schedule_factor

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "step", "constant")


@dataclass
class TrainConfig:
    """Hyper-parameters and run settings of one ``fit`` (validated by :meth:`validate`)."""

    epochs: int = 10
    batch_size: int = 64  # global: split over DDP processes
    eval_batch_size: int = 256
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    nesterov: bool = False
    schedule: str = "cosine"  # per-step cosine to 0; "step": x0.1 at 50% and 75%; "constant"
    warmup_epochs: float = 0.0
    label_smoothing: float = 0.0
    grad_clip: float | None = None
    steps_per_epoch: int | None = None  # cap on batches per epoch (tiny runs and tests)
    seed: int = 0
    device: str = "auto"
    num_workers: int = 0
    progress: bool = True
    checkpoint: str | None = None  # resumable checkpoint file, rewritten after every epoch
    resume: bool = True  # continue from ``checkpoint`` when it exists
    eval_every: int = 1

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> TrainConfig:
        """Build from a dict of field values; unknown names raise :class:`InputError`."""
        unknown = sorted(set(options) - set(cls.__dataclass_fields__))
        if unknown:
            raise InputError(f"unknown training option {unknown[0]!r}")
        return cls(**options).validate()

    def validate(self) -> TrainConfig:
        checks = [
            (isinstance(self.epochs, int) and self.epochs >= 0, f"epochs must be an integer >= 0, got {self.epochs!r}"),
            (self.batch_size >= 1 and self.eval_batch_size >= 1, "batch sizes must be >= 1"),
            (self.optimizer in OPTIMIZERS,
             f"unknown optimizer {self.optimizer!r}; choose from {', '.join(OPTIMIZERS)}"),
            (self.schedule in SCHEDULES, f"unknown schedule {self.schedule!r}; choose from {', '.join(SCHEDULES)}"),
            (math.isfinite(self.lr) and self.lr > 0, f"lr must be a positive number, got {self.lr!r}"),
            (self.weight_decay >= 0 and self.momentum >= 0, "weight_decay and momentum must be >= 0"),
            (self.warmup_epochs >= 0 and 0 <= self.label_smoothing < 1,
             "need warmup_epochs >= 0 and 0 <= label_smoothing < 1"),
            (self.steps_per_epoch is None or self.steps_per_epoch >= 1, "steps_per_epoch must be >= 1"),
            (self.grad_clip is None or self.grad_clip > 0, "grad_clip must be > 0"),
            (self.eval_every >= 1, "eval_every must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(message)
        return self


@dataclass
class TrainResult:
    """What ``fit`` returns: one metrics dict per epoch (``epoch``, ``train_loss``, ``val_accuracy``, ...)."""

    history: list[dict[str, float]] = field(default_factory=list)

    @property
    def final(self) -> dict[str, float]:
        return self.history[-1] if self.history else {}


def _split_batch(batch: Any) -> tuple[Any, torch.Tensor]:
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise InputError("training data must yield (inputs, targets) pairs")
    return batch[0], batch[1]


def _to_device(x: Any, device: torch.device) -> Any:
    if isinstance(x, torch.Tensor):
        return x.to(device, non_blocking=True)
    if isinstance(x, (tuple, list)):
        return type(x)(_to_device(v, device) for v in x)
    if isinstance(x, dict):
        return {k: _to_device(v, device) for k, v in x.items()}
    return x


def _forward(model: nn.Module, inputs: Any) -> torch.Tensor:
    if isinstance(inputs, dict):
        return model(**inputs)
    if isinstance(inputs, (tuple, list)):
        return model(*inputs)
    return model(inputs)


def _count_correct(outputs: torch.Tensor, targets: torch.Tensor) -> int:
    if outputs.dim() < 2 or targets.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
        return 0  # not a classification output: accuracy is not defined
    return int((outputs.argmax(1) == targets).sum())


class Trainer:
    """Trains ``model`` with callbacks; see the module docstring for the conventions.

    ``params``: the parameters the optimizer updates (default: all of ``model``'s). ``loss_fn``: default
    cross-entropy with ``config.label_smoothing``. The model is moved to the configured device and, under
    ``torchrun``, wrapped in ``DistributedDataParallel`` (``trainer.net``); ``trainer.model`` is always
    the plain module, which callbacks edit. ``trainer.loop`` is the :class:`~prunelab.training.StepLoop` that
    steps the optimiser; ``optimizer``, ``scheduler``, ``global_step`` and ``history`` are read from it.
    """

    def __init__(self, model: nn.Module, config: TrainConfig | None = None, callbacks: Sequence[Callback] = (),
                 loss_fn: LossFn | None = None, params: Iterable[torch.nn.Parameter] | None = None) -> None:
        self.config = (config or TrainConfig()).validate()
        self.dist, self.device = distributed.setup(self.config.device)
        if self.config.batch_size % self.dist.world_size:
            raise InputError(f"batch_size {self.config.batch_size} is not divisible by the {self.dist.world_size} "
                             "processes")
        self.model = model.to(self.device)
        self.net: nn.Module = self.model
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = DistributedDataParallel(self.model, device_ids=ids)
        self.loss_fn = loss_fn or nn.CrossEntropyLoss(label_smoothing=self.config.label_smoothing)
        self.callbacks = list(callbacks)
        optimizer = self._build_optimizer(list(params) if params is not None else list(self.model.parameters()))
        #: the engine doing the optimiser steps, schedule, checkpoints and resume; its history is one record per epoch
        self.loop = StepLoop(optimizer, grad_clip=self.config.grad_clip, clip_module=self.model)
        self.epoch = 0  # completed epochs
        self.steps_per_epoch = 0
        self.should_stop = False  # a callback may set it to end training after the current epoch

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        return self.loop.optimizer

    @property
    def scheduler(self) -> torch.optim.lr_scheduler.LRScheduler | None:
        schedule = self.loop.schedule
        return schedule if isinstance(schedule, torch.optim.lr_scheduler.LRScheduler) else None

    @property
    def global_step(self) -> int:
        """Optimiser steps done so far (counting those of a resumed checkpoint)."""
        return self.loop.step

    @property
    def history(self) -> list[dict[str, float]]:
        """One metrics dict per completed epoch."""
        return self.loop.history

    # -- set-up ---------------------------------------------------------------------------------
    def _build_optimizer(self, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
        c = self.config
        if c.optimizer == "sgd":
            return torch.optim.SGD(params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay,
                                   nesterov=c.nesterov and c.momentum > 0)
        cls = torch.optim.Adam if c.optimizer == "adam" else torch.optim.AdamW
        return cls(params, lr=c.lr, weight_decay=c.weight_decay)

    def _build_scheduler(self) -> torch.optim.lr_scheduler.LRScheduler:
        c = self.config
        factor = partial(schedule_factor, c.schedule, total=max(1, c.epochs * self.steps_per_epoch),
                         warmup=int(c.warmup_epochs * self.steps_per_epoch))
        return torch.optim.lr_scheduler.LambdaLR(self.optimizer, factor)

    def _loader(self, data: Dataset, epoch: int) -> DataLoader:
        sampler = DistributedSampler(data, num_replicas=self.dist.world_size, rank=self.dist.rank, shuffle=True,
                                     seed=self.config.seed)
        sampler.set_epoch(epoch)
        return DataLoader(data, batch_size=self.config.batch_size // self.dist.world_size, sampler=sampler,
                          num_workers=self.config.num_workers, pin_memory=self.device.type == "cuda")

    # -- checkpoints ----------------------------------------------------------------------------
    def save_checkpoint(self, path: str | Path | None = None) -> None:
        """Write the resumable state (main process only; the others wait)."""
        target = path or self.config.checkpoint
        if target is None:
            return
        if self.dist.is_main:
            self.loop.save(target, {"model": self.model}, {
                "epoch": self.epoch,
                "callbacks": [{"type": type(cb).__name__, "state": cb.state_dict()} for cb in self.callbacks],
                "config": asdict(self.config),
            })
        distributed.barrier()

    def load_checkpoint(self, path: str | Path) -> None:
        """Continue from a checkpoint written by :meth:`save_checkpoint` with the same callbacks."""
        state = self.loop.read(path)
        if state is None:
            raise FileNotFoundError(f"no checkpoint at {path}")
        if not isinstance(state.get("callbacks"), list) or "epoch" not in state:
            raise InputError(f"checkpoint {path} was not written by this trainer")
        saved = [c["type"] for c in state["callbacks"]]
        if saved != [type(cb).__name__ for cb in self.callbacks]:
            raise InputError(f"checkpoint {path} was written with callbacks {saved}, not "
                             f"{[type(cb).__name__ for cb in self.callbacks]}")
        self.loop.restore(state, {"model": self.model}, path)
        self.epoch = state["epoch"]
        for cb, saved_cb in zip(self.callbacks, state["callbacks"]):
            cb.load_state_dict(saved_cb["state"])

    # -- training -------------------------------------------------------------------------------
    def fit(self, train_data: Dataset, val_data: Dataset | None = None) -> TrainResult:
        """Train for ``config.epochs`` epochs (counting those already done in a resumed checkpoint)."""
        c = self.config
        if len(train_data) == 0:
            raise InputError("training data is empty")
        seed_everything(c.seed + self.dist.rank)
        batches = len(self._loader(train_data, 0))
        self.steps_per_epoch = min(batches, c.steps_per_epoch) if c.steps_per_epoch else batches
        self.loop.schedule = self._build_scheduler()
        for cb in self.callbacks:
            cb.on_fit_start(self)
        if c.checkpoint and c.resume and Path(c.checkpoint).is_file():
            self.load_checkpoint(c.checkpoint)
        while self.epoch < c.epochs and not self.should_stop:
            metrics = self._train_epoch(train_data)
            for cb in self.callbacks:
                cb.on_train_epoch_end(self)
            self.epoch += 1
            if val_data is not None and (self.epoch % c.eval_every == 0 or self.epoch == c.epochs):
                metrics.update({f"val_{k}": v for k, v in self.evaluate(val_data).items() if k != "n"})
            metrics["epoch"] = self.epoch
            for cb in self.callbacks:
                cb.on_epoch_end(self, metrics)
            self.loop.log(metrics)
            self._show(metrics)
            self.save_checkpoint()
        for cb in self.callbacks:
            cb.on_fit_end(self)
        return TrainResult(list(self.history))

    def _train_epoch(self, train_data: Dataset) -> dict[str, float]:
        c = self.config
        self.net.train()
        for cb in self.callbacks:
            cb.on_epoch_start(self)
        sums = torch.zeros(3, dtype=torch.float64)  # loss * n, correct, n
        start = time.perf_counter()
        lr = self.optimizer.param_groups[0]["lr"]  # logged: the rate the epoch started with
        bar = tqdm(total=self.steps_per_epoch, desc=f"epoch {self.epoch + 1}/{c.epochs}", leave=False,
                   disable=not (c.progress and self.dist.is_main))
        for i, batch in enumerate(self._loader(train_data, self.epoch)):
            if i >= self.steps_per_epoch:
                break
            inputs, targets = _split_batch(batch)
            inputs, targets = _to_device(inputs, self.device), _to_device(targets, self.device)
            result = self.train_step(inputs, targets)
            n = len(targets)
            sums += torch.tensor([float(result.loss) * n, result.correct, n], dtype=torch.float64)
            bar.update(1)
            if i % 10 == 0:
                bar.set_postfix(loss=f"{float(result.loss):.3f}")
        bar.close()
        distributed.all_reduce_sum(sums)
        n = max(float(sums[2]), 1.0)
        return {"train_loss": float(sums[0]) / n, "train_accuracy": float(sums[1]) / n, "lr": lr,
                "seconds": time.perf_counter() - start}

    def train_step(self, inputs: Any, targets: torch.Tensor) -> BatchResult:
        """One optimisation step on one batch, with every callback hook around it."""
        for cb in self.callbacks:
            cb.on_batch_start(self, inputs, targets)
        outputs = _forward(self.net, inputs)
        loss = self.loss_fn(outputs, targets)
        total = loss
        for cb in self.callbacks:
            extra = cb.extra_loss(self, outputs)
            if extra is not None:
                total = total + extra
        self.loop.optimise(total, after_backward=self._after_backward)
        result = BatchResult(inputs, targets, outputs.detach(), loss.detach(),
                             _count_correct(outputs.detach(), targets))
        for cb in self.callbacks:
            cb.on_step_end(self, result)
        return result

    def _after_backward(self) -> None:
        for cb in self.callbacks:
            cb.on_after_backward(self)

    def evaluate(self, data: Dataset) -> dict[str, float]:
        """Loss and accuracy of the (plain) model on ``data``, each process scoring its shard."""
        return evaluate(self.model, data, batch_size=self.config.eval_batch_size, loss_fn=self.loss_fn,
                        device=self.device)

    def _show(self, metrics: dict[str, float]) -> None:
        if not (self.config.progress and self.dist.is_main):
            return
        shown = " ".join(f"{k}={v:.4g}" for k, v in metrics.items() if k not in ("epoch", "seconds"))
        tqdm.write(f"epoch {int(metrics['epoch'])}/{self.config.epochs}: {shown} ({metrics['seconds']:.1f}s)")


@torch.no_grad()
def evaluate(model: nn.Module, data: Dataset, batch_size: int = 256, loss_fn: LossFn | None = None,
             device: str | torch.device | None = None) -> dict[str, float]:
    """``{"loss", "accuracy", "n"}`` of ``model`` on ``data`` in eval mode (exact under DDP: shards are summed)."""
    info = distributed.current()
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    shard = Subset(data, range(info.rank, len(data), info.world_size)) if info.enabled else data
    was_training = model.training
    model.eval()
    sums = torch.zeros(3, dtype=torch.float64)
    try:
        for batch in DataLoader(shard, batch_size=batch_size, shuffle=False):
            inputs, targets = _split_batch(batch)
            inputs, targets = _to_device(inputs, dev), _to_device(targets, dev)
            outputs = _forward(model, inputs)
            n = len(targets)
            sums += torch.tensor([float(loss_fn(outputs, targets)) * n, _count_correct(outputs, targets), n],
                                 dtype=torch.float64)
    finally:
        model.train(was_training)
    distributed.all_reduce_sum(sums)
    n = max(float(sums[2]), 1.0)
    return {"loss": float(sums[0]) / n, "accuracy": float(sums[1]) / n, "n": int(sums[2])}


def train(model: nn.Module, train_data: Dataset, val_data: Dataset | None = None, *,
          callbacks: Sequence[Callback] = (), loss_fn: LossFn | None = None, **config: Any) -> TrainResult:
    """Train ``model`` in place; ``config`` are :class:`TrainConfig` fields (``epochs=5, lr=0.05, ...``)."""
    return Trainer(model, TrainConfig.from_options(config), callbacks, loss_fn).fit(train_data, val_data)
