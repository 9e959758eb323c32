"""DAIS — differentiable annealing indicator search (Guan et al., IEEE TNNLS 2022, arXiv:2011.02166)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from core_pruning.training import distributed
from core_pruning.training.base import TrainingPruner
from core_pruning.training.gates import ChannelGates
from core_pruning.training.selection import select_global
from prunelab.errors import InputError


class DAIS(TrainingPruner):
    """Search which channels to keep with continuous, annealed indicators, then binarise and remove (DAIS).

    Reading: each root channel gets ``alpha_c`` (initial ``alpha_init``) and a gate ``m_c = sigmoid(alpha_c / T)``;
    coupled channels share one by construction. ``T`` anneals geometrically from ``t_start`` to ``t_end``. Bi-level,
    first order: a weight step on a training batch, then an Adam step (``alpha_lr``) on the alphas with a
    ``heldout`` batch (``batch_size``) minimising
    ``CE + l1 * mean(m) + flops_weight * (E[FLOPs](m) / FLOPs_0 - target_flops) ** 2``. At the end the channels
    are ranked by ``alpha`` and kept from the top until the exact FLOPs target is met; kept indicators are folded
    into the weights. Full reading: docs/notes/core_pruning.md.
    """

    name = "dais"

    def __init__(self, model: nn.Module, example_inputs: Any, heldout: Dataset, target_flops: float = 0.5, *,
                 t_start: float = 1.0, t_end: float = 0.05, alpha_init: float = 2.0, alpha_lr: float = 0.05,
                 l1: float = 0.01, flops_weight: float = 5.0, batch_size: int = 64, seed: int = 0,
                 ignored_layers: Iterable[nn.Module | str] | None = None, min_channels: int = 1,
                 tolerance: float = 0.02, unwrapped_parameters: Mapping[str, int] | None = None) -> None:
        super().__init__(model, example_inputs, target_flops, ignored_layers=ignored_layers,
                         min_channels=min_channels, tolerance=tolerance,
                         unwrapped_parameters=unwrapped_parameters)
        if heldout is None or len(heldout) == 0:
            raise InputError("DAIS needs a non-empty held-out split for its indicator updates")
        if not 0.0 < t_end <= t_start or not math.isfinite(t_start):
            raise InputError(f"need 0 < t_end <= t_start, got {t_start}, {t_end}")
        if alpha_lr <= 0 or l1 < 0 or flops_weight < 0 or batch_size < 1:
            raise InputError("need alpha_lr > 0, l1 >= 0, flops_weight >= 0, batch_size >= 1")
        self.heldout, self.batch_size, self.seed = heldout, batch_size, seed
        self.t_start, self.t_end, self.alpha_init = t_start, t_end, alpha_init
        self.alpha_lr, self.l1, self.flops_weight = alpha_lr, l1, flops_weight
        self.alphas = [torch.full((g.size,), float(alpha_init), requires_grad=True) for g in self.masks.groups]
        self.alpha_optimizer = torch.optim.Adam(self.alphas, lr=alpha_lr, betas=(0.5, 0.999))
        self.temperature = t_start
        self.binarized = False
        self.gates = ChannelGates(self.masks, lambda gi, out: self.indicator(gi).to(out.device))
        self._batches: Iterator | None = None

    def options(self) -> dict[str, Any]:
        return {**super().options(), "t_start": self.t_start, "t_end": self.t_end, "alpha_init": self.alpha_init,
                "alpha_lr": self.alpha_lr, "l1": self.l1, "flops_weight": self.flops_weight, "seed": self.seed}

    # -- indicators ----------------------------------------------------------------------------------------
    def indicator(self, gi: int) -> torch.Tensor:
        return torch.sigmoid(self.alphas[gi] / self.temperature)

    def indicators(self) -> list[torch.Tensor]:
        return [self.indicator(gi) for gi in range(len(self.alphas))]

    def temperature_at(self, progress: float) -> float:
        return self.t_start * (self.t_end / self.t_start) ** min(max(progress, 0.0), 1.0)

    def regularizer(self, m: list[torch.Tensor]) -> torch.Tensor:
        """``l1 * mean(m) + flops_weight * (E[FLOPs](m) / FLOPs_0 - target) ** 2`` (differentiable in ``m``)."""
        l1 = torch.cat(m).mean()
        expected = self.masks.flops(m) / self.masks.base_flops
        return self.l1 * l1 + self.flops_weight * (expected - self.target_flops) ** 2

    def expected_flops(self) -> float:
        with torch.no_grad():
            return float(self.masks.flops(self.indicators())) / self.masks.base_flops

    def binariness(self) -> float:
        """Mean distance of the indicators from {0, 1}: 0.5 is undecided, 0 is binary."""
        with torch.no_grad():
            m = torch.cat(self.indicators())
            return float(torch.minimum(m, 1 - m).mean())

    # -- training hooks -------------------------------------------------------------------------------------
    def on_fit_start(self, trainer: Any) -> None:
        if not self.binarized:
            self.gates.attach()

    def on_epoch_start(self, trainer: Any) -> None:
        sampler = DistributedSampler(self.heldout, num_replicas=trainer.dist.world_size, rank=trainer.dist.rank,
                                     shuffle=True, seed=self.seed + 1)
        sampler.set_epoch(trainer.epoch)
        loader = DataLoader(self.heldout, batch_size=max(1, self.batch_size // trainer.dist.world_size),
                            sampler=sampler)
        self._batches = _cycle(loader)

    def on_batch_start(self, trainer: Any, inputs: Any, targets: torch.Tensor) -> None:
        self.temperature = self.temperature_at(self.progress(trainer))

    def on_step_end(self, trainer: Any, batch: Any) -> None:
        """The indicator half of the alternating bi-level step, on a held-out batch."""
        if self.binarized:
            return
        inputs, targets = next(self._batches)
        inputs, targets = inputs.to(trainer.device), targets.to(trainer.device)
        m = self.indicators()
        loss = F.cross_entropy(self.model(inputs), targets) + self.regularizer(m)
        grads = torch.autograd.grad(loss, self.alphas)
        world = trainer.dist.world_size
        for alpha, grad in zip(self.alphas, grads):
            alpha.grad = distributed.all_reduce_sum(grad.detach().clone()) / world
        self.alpha_optimizer.step()
        self.alpha_optimizer.zero_grad(set_to_none=True)

    def on_epoch_end(self, trainer: Any, metrics: dict[str, float]) -> None:
        super().on_epoch_end(trainer, metrics)
        metrics["temperature"] = self.temperature
        metrics["expected_flops"] = self.expected_flops()
        metrics["binariness"] = self.binariness()

    # -- the end ---------------------------------------------------------------------------------------------
    def binarize(self) -> None:
        """Keep the highest-alpha channels meeting the FLOPs target; fold kept indicators into the weights."""
        if self.binarized:
            return
        with torch.no_grad():
            final = [m.detach().cpu() for m in self.indicators()]
            self.masks.keep = [torch.ones(g.size, dtype=torch.bool) for g in self.masks.groups]
            self.masks.keep = select_global(self.masks, [a.detach().cpu() for a in self.alphas], self.target_flops,
                                            self.tolerance)
            self.gates.detach()
            self.gates.fold_([m * k for m, k in zip(final, self.masks.keep)])
            self.masks.zero_()
        self.binarized = True

    def prepare_removal(self) -> None:
        self.binarize()

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "alphas": [a.detach().clone() for a in self.alphas],
                "alpha_optimizer": self.alpha_optimizer.state_dict(), "binarized": self.binarized}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        with torch.no_grad():
            for alpha, saved in zip(self.alphas, state["alphas"]):
                alpha.copy_(saved)
        self.alpha_optimizer.load_state_dict(state["alpha_optimizer"])
        self.binarized = bool(state["binarized"])
        if self.binarized:
            self.gates.detach()


def _cycle(loader: DataLoader) -> Iterator:
    while True:
        yield from loader
