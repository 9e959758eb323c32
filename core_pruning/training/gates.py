"""Channel gates: multiply each group's channels by a factor per root channel, through forward hooks.

CAC switches channels on and off at random and DAIS scales them by a continuous indicator; both act on a
channel's *signal*, not its weights. A gate must act where the channel's signal is final, so that a
factor of 0 makes the channel exactly 0 and a factor m scales it exactly by m. For each coupled output
layer of a group (a residual stage has several, all adding into one stream), that point is the
group's BatchNorm directly after it when there is one (gating before it would be undone by the
normalisation), else the layer itself. Multiplying every such point by m multiplies their sum, the
residual stream, by m.

:meth:`ChannelGates.fold_` writes a gate into the weights (BatchNorm scale and shift, or filter rows and
bias), which is exact in training and evaluation mode; that is how DAIS turns its indicators into plain
weights before physical removal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from core_pruning import _tp_compat as tpc
from core_pruning.groups import Member
from core_pruning.training.masks import ChannelMasks, ChannelSlice

GateValues = Callable[[int, torch.Tensor], torch.Tensor | None]


@dataclass
class GatePoint:
    group: int
    member: Member
    is_norm: bool


def gate_points(masks: ChannelMasks) -> list[GatePoint]:
    """Where each group's channels are gated (see module docstring)."""
    points = []
    for gi, g in enumerate(masks.groups):
        norms = {m.module: m for m in g.norms}
        for member in g.outputs:
            after = tpc.next_modules(masks.dg, member.module)
            if len(after) == 1 and after[0] in norms:
                points.append(GatePoint(gi, norms[after[0]], True))
            else:
                points.append(GatePoint(gi, member, False))
    return points


class ChannelGates:
    """Forward hooks multiplying each group's channels by ``values(group, output)``.

    ``values`` returns, for group ``gi`` and the gated layer's output tensor, a factor per root channel
    (shape ``(C,)``, or ``(B, C)`` for a different factor per sample), or ``None`` to leave it alone.
    """

    def __init__(self, masks: ChannelMasks, values: GateValues) -> None:
        self.masks = masks
        self.values = values
        self.points = gate_points(masks)
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    def attach(self) -> None:
        if self._handles:
            return
        for point in self.points:
            self._handles.append(point.member.module.register_forward_hook(self._hook(point)))

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _hook(self, point: GatePoint):
        local = torch.as_tensor(point.member.idxs, dtype=torch.long)
        root = torch.as_tensor(point.member.root_idxs, dtype=torch.long)

        def hook(module: nn.Module, _inputs, output: torch.Tensor) -> torch.Tensor | None:
            factors = self.values(point.group, output)
            if factors is None:
                return None
            factors = factors.to(output.device, output.dtype)
            lead = factors.shape[:-1]
            picked = factors[..., root.to(output.device)]
            full = torch.ones(*lead, output.shape[1], device=output.device, dtype=output.dtype)
            full = full.index_copy(full.dim() - 1, local.to(output.device), picked)
            if full.dim() == 1:
                full = full.unsqueeze(0)
            return output * full.view(*full.shape, *([1] * (output.dim() - 2)))

        return hook

    @torch.no_grad()
    def fold_(self, factors: list[torch.Tensor]) -> None:
        """Scale the weights at every gate point by ``factors`` (one vector per group), exactly as the gate would."""
        for point in self.points:
            m = point.member
            local = torch.as_tensor(m.idxs, dtype=torch.long)
            root = torch.as_tensor(m.root_idxs, dtype=torch.long)
            dim = 1 if getattr(m.module, "transposed", False) and not point.is_norm else 0
            for name in ("weight", "bias"):
                tensor = getattr(m.module, name, None)
                if isinstance(tensor, torch.Tensor):
                    ChannelSlice(tensor, dim if name == "weight" else 0, local, root).scale_(factors[point.group])
