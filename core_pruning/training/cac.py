"""CAC — dynamical channel pruning by conditional accuracy change (Chen et al., IEEE TNNLS 2021), and DCPH."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from core_pruning.counting import count_flops_params
from core_pruning.training import distributed
from core_pruning.training.base import TrainingPruner, check_fraction
from core_pruning.training.gates import ChannelGates
from core_pruning.training.selection import select_global
from prunelab.errors import InputError

CRITERIA = ("accuracy", "loss")
GATE_MODES = ("sample", "batch")
# rows of the running statistics kept per root channel
ACC_ON, ACC_OFF, LOSS_ON, LOSS_OFF, N_ON, N_OFF = range(6)


class CAC(TrainingPruner):
    """Prune channels during training by the accuracy they are seen to carry (CAC).

    Reading: random gates disable each kept channel with probability ``drop_prob`` while the network trains, and
    running sums (factor ``decay`` per iteration) estimate accuracy and loss with the channel on and off;
    ``criterion="accuracy"`` ranks by ``acc(on) - acc(off)``, ``"loss"`` (default, smoother) by
    ``loss(off) - loss(on)``, one network-wide list. From ``start`` to ``end`` (fractions of training), every
    ``interval`` iterations the lowest-CAC channels are removed until that moment's budget, falling linearly from
    100% to ``target_flops``; channels seen off fewer than ``min_off`` times go last. ``gate_per``: ``"sample"``
    (default) or ``"batch"`` gates. Under DDP the sums are added over processes, so all remove the same channels.
    Full reading: docs/notes/core_pruning.md.
    """

    name = "cac"

    def __init__(self, model: nn.Module, example_inputs: Any, target_flops: float = 0.5, *,
                 criterion: str = "loss", drop_prob: float = 0.1, gate_per: str = "sample", decay: float = 0.99,
                 start: float = 0.05, end: float = 0.5, interval: int | None = None, min_off: float = 5.0,
                 seed: int = 0, ignored_layers: Iterable[nn.Module | str] | None = None, min_channels: int = 1,
                 tolerance: float = 0.02, unwrapped_parameters: Mapping[str, int] | None = None) -> None:
        super().__init__(model, example_inputs, target_flops, ignored_layers=ignored_layers,
                         min_channels=min_channels, tolerance=tolerance,
                         unwrapped_parameters=unwrapped_parameters)
        if criterion not in CRITERIA:
            raise InputError(f"unknown CAC criterion {criterion!r}; choose from {', '.join(CRITERIA)}")
        if gate_per not in GATE_MODES:
            raise InputError(f"unknown gate mode {gate_per!r}; choose from {', '.join(GATE_MODES)}")
        if not 0.0 < drop_prob < 1.0 or not 0.0 < decay <= 1.0:
            raise InputError("need 0 < drop_prob < 1 and 0 < decay <= 1")
        if not 0.0 <= start < end <= 1.0:
            raise InputError(f"need 0 <= start < end <= 1, got {start}, {end}")
        if interval is not None and interval < 1:
            raise InputError("interval must be >= 1 iteration")
        self.criterion, self.drop_prob, self.gate_per, self.decay = criterion, drop_prob, gate_per, decay
        self.start, self.end, self.interval, self.min_off, self.seed = start, end, interval, min_off, seed
        self.stats = [torch.zeros(6, g.size, dtype=torch.float64) for g in self.masks.groups]
        self.searching = True
        self.generator = torch.Generator().manual_seed(seed)
        self._gates: list[torch.Tensor] | None = None  # this batch's open/shut gates, per group
        self.gates = ChannelGates(self.masks, self._gate_values)

    def options(self) -> dict[str, Any]:
        return {**super().options(), "criterion": self.criterion, "drop_prob": self.drop_prob,
                "gate_per": self.gate_per, "decay": self.decay, "start": self.start, "end": self.end,
                "interval": self.interval, "seed": self.seed}

    # -- gates ------------------------------------------------------------------------------------------
    def _gate_values(self, gi: int, output: torch.Tensor) -> torch.Tensor | None:
        keep = self.masks.keep[gi]
        if self._gates is not None and self.model.training:
            return (self._gates[gi] & keep.to(self._gates[gi].device)).float()
        if bool(keep.all()):
            return None
        return keep.float()

    def on_fit_start(self, trainer: Any) -> None:
        self.gates.attach()
        self.generator.manual_seed(self.seed + 7919 * trainer.dist.rank)
        steps = trainer.steps_per_epoch
        self.total_steps = max(1, trainer.config.epochs * steps)
        self.every = self.interval or max(1, steps // 2)

    def on_batch_start(self, trainer: Any, inputs: Any, targets: torch.Tensor) -> None:
        if not self.searching:
            self._gates = None
            return
        shape = (len(targets),) if self.gate_per == "sample" else (1,)
        self._gates = [(torch.rand(*shape, g.size, generator=self.generator) >= self.drop_prob).to(targets.device)
                       for g in self.masks.groups]

    @torch.no_grad()
    def on_step_end(self, trainer: Any, batch: Any) -> None:
        if self._gates is not None:
            self._accumulate(batch.outputs, batch.targets)
        self._gates = None
        step = trainer.global_step
        first, last = int(self.start * self.total_steps), int(self.end * self.total_steps)
        if self.searching and step >= first and (step - first) % self.every == 0:
            progress = min(1.0, (step - first) / max(1, last - first))
            self.prune_to(1.0 - (1.0 - self.target_flops) * progress)

    def _accumulate(self, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        correct = (outputs.argmax(1) == targets).double()
        loss = F.cross_entropy(outputs.float(), targets, reduction="none").double()
        for gi, gate in enumerate(self._gates):
            on = gate.double().expand(len(targets), -1)  # (B, C)
            off = 1.0 - on
            batch = torch.stack([correct @ on, correct @ off, loss @ on, loss @ off, on.sum(0), off.sum(0)])
            self.stats[gi].mul_(self.decay).add_(batch.cpu())

    # -- the criteria and the pruning events ------------------------------------------------------------
    def scores(self) -> list[torch.Tensor]:
        """CAC of every root channel (higher = more important; not-yet-estimable channels are +inf)."""
        scores = []
        for stats in self.stats:
            s = distributed.all_reduce_sum(stats.clone())
            n_on, n_off = s[N_ON].clamp(min=1e-12), s[N_OFF].clamp(min=1e-12)
            if self.criterion == "accuracy":
                cac = s[ACC_ON] / n_on - s[ACC_OFF] / n_off
            else:
                cac = s[LOSS_OFF] / n_off - s[LOSS_ON] / n_on
            scores.append(cac.masked_fill(s[N_OFF] < self.min_off, float("inf")))
        return scores

    def prune_to(self, keep_fraction: float) -> None:
        """Remove the lowest-CAC channels until the masked network keeps ``keep_fraction`` of the FLOPs."""
        self.masks.keep = select_global(self.masks, self.scores(), keep_fraction, self.tolerance)
        self.masks.zero_(hard=True)
        if self.masks.flops_fraction() <= self.target_flops:
            self.searching = False

    def on_fit_end(self, trainer: Any) -> None:
        if self.masks.flops_fraction() > self.target_flops:  # training ended before ``end``: finish now
            self.prune_to(self.target_flops)

    def prepare_removal(self) -> None:
        self.gates.detach()
        self._gates = None

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "stats": [s.clone() for s in self.stats], "searching": self.searching,
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.stats = [s.clone() for s in state["stats"]]
        self.searching = bool(state["searching"])
        self.generator.set_state(state["generator"])


def dcph_target_flops(build: Any, example_inputs: Any) -> float:
    """DCPH's FLOPs target: the baseline-width network's FLOPs as a fraction of the 2x-wide network's.

    DCPH (the same paper): build the network with *D*ouble the *C*hannels, train it with CAC, and *P*rune
    *H*alf of them back to the baseline's size. We read "back to the baseline's counterpart" as equal
    FLOPs, so the pruned wide network is compared with the baseline at the same cost. ``build(width)``
    returns a fresh model of that width.
    """
    base, _ = count_flops_params(build(1.0).eval(), example_inputs)
    wide, _ = count_flops_params(build(2.0).eval(), example_inputs)
    return check_fraction(base / wide, "DCPH target")
