"""How artnet's two training scripts (distill, train-decoder) drive the shared engine.

Both train for a fixed number of steps on batches drawn from an infinite crop sampler
(:class:`artnet.data.RandomCrops` or :class:`artnet.data.PairCrops`), with a linear warm-up and cosine decay of
the learning rate (:func:`prunelab.training.cosine_lr`), in a run folder (:class:`prunelab.runs.RunDir`). Training
on a 2-core CPU takes hours, so runs must survive interruption: every ``checkpoint_every`` steps the modules, the
optimiser, the sampler's generator, the step and the loss history are written atomically to
``<run>/checkpoint.pt``, and starting the same command again resumes from it. Each step's losses are appended to
``<run>/log.jsonl``. The loop itself is :class:`prunelab.training.StepLoop`, the one every package uses.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

import torch
from torch import Tensor

from prunelab.runs import RunDir
from prunelab.training import StepLoop, cosine_lr


class CropSampler(Protocol):
    """An infinite sampler of image batches with a checkpointable generator state."""

    def batch(self, size: int) -> Tensor: ...

    def state(self) -> Tensor: ...

    def set_state(self, state: Tensor) -> None: ...


class SamplerState:
    """A :class:`CropSampler` seen as a checkpoint part (``state_dict``/``load_state_dict``)."""

    def __init__(self, sampler: CropSampler) -> None:
        self.sampler = sampler

    def state_dict(self) -> Tensor:
        return self.sampler.state()

    def load_state_dict(self, state: Tensor) -> None:
        self.sampler.set_state(state)


def train_steps(name: str, run_dir: RunDir, *, steps: int, lr: float, batch: int, checkpoint_every: int,
                modules: dict[str, torch.nn.Module], optimizer: torch.optim.Optimizer, sampler: CropSampler,
                device: torch.device, compute_losses: Callable[[Tensor], dict[str, Tensor]],
                on_checkpoint: Callable[[StepLoop], Any] | None = None, progress: bool = True) -> StepLoop:
    """Resume ``run_dir``'s checkpoint if there is one, then train until step ``steps``; returns the loop.

    ``modules`` (in training mode) and the sampler are checkpointed under their keys; ``compute_losses(batch)``
    returns a dict whose ``"loss"`` is minimised (every entry is logged); ``on_checkpoint(loop)`` runs before each
    checkpoint (e.g. a held-out evaluation added with ``loop.annotate``). The loop's ``history``, ``step`` and
    ``seconds`` give the summary.
    """
    loop = StepLoop(optimizer, partial(cosine_lr, total=steps, base=lr))
    parts = {**modules, "sampler": SamplerState(sampler)}
    loop.resume(run_dir.checkpoint, parts)
    loop.run(steps, lambda: sampler.batch(batch).to(device), compute_losses, run_dir, checkpoint_every, parts,
             on_checkpoint, name=name, progress=progress)
    return loop
