"""Channel masks over the engine's coupled groups: what every training-time method prunes.

A training-time method never edits shapes while it trains; it keeps a boolean *keep* vector per
:class:`~core_pruning.groups.ChannelGroup` (one entry per root channel), so coupled channels (a residual
stage, a conv with its BatchNorm and its consumers) are always pruned as one unit. This module turns
those vectors into the three things the methods need:

- **edits of the weights** that make a masked channel exactly zero (:meth:`ChannelMasks.zero_`): its
  filter rows and biases in every coupled output layer, the BatchNorm shift, and the BatchNorm running
  mean. Then the channel's output is 0 in training *and* evaluation mode, so the masked network computes
  exactly what the physically pruned one will. ``hard=True`` also zeroes the BatchNorm scale.
- **exact FLOPs** of the masked network (:meth:`ChannelMasks.flops`): the engine's FLOPs formula
  (:meth:`~core_pruning.counting.LayerShapes.layer_macs`) at the kept channel counts. The same formula, given soft keep
  values in [0, 1], is the differentiable *expected* FLOPs that DAIS penalises.
- **a pruning plan step** (:meth:`ChannelMasks.plan_step`) that the engine's ``apply_plan`` replays to
  remove the masked channels physically.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from core_pruning import custom_layers
from core_pruning.counting import LayerShapes
from core_pruning.groups import ChannelGroup, Member, collect_groups, output_layers, resolve_layers
from core_pruning.plan import PlanStep, build_graph
from prunelab.errors import InputError


@dataclass
class ChannelSlice:
    """Entries ``local`` along ``dim`` of ``tensor`` belong to root channels ``root`` of a group."""

    tensor: torch.Tensor
    dim: int
    local: torch.Tensor
    root: torch.Tensor

    def view(self) -> torch.Tensor:
        return self.tensor.data.index_select(self.dim, self.local.to(self.tensor.device))

    def write(self, values: torch.Tensor) -> None:
        self.tensor.data.index_copy_(self.dim, self.local.to(self.tensor.device), values)

    def scale_(self, factors: torch.Tensor) -> None:
        """Multiply each entry by the factor of its root channel (``factors``: one per root channel)."""
        f = factors.to(self.tensor.device, self.tensor.dtype)[self.root.to(self.tensor.device)]
        shape = [1] * self.tensor.dim()
        shape[self.dim] = -1
        self.write(self.view() * f.view(shape))


def _out_dim(module: nn.Module) -> int:
    return 1 if getattr(module, "transposed", False) else 0


def _slices(member: Member, names: tuple[str, ...], dim: int = 0) -> list[ChannelSlice]:
    local = torch.as_tensor(member.idxs, dtype=torch.long)
    root = torch.as_tensor(member.root_idxs, dtype=torch.long)
    return [ChannelSlice(t, dim, local, root) for n in names if isinstance(t := getattr(member.module, n, None),
                                                                          torch.Tensor)]


class ChannelMasks:
    """Keep masks per root channel of every prunable group of ``model`` (see module docstring).

    ``ignored_layers`` (modules, names, glob patterns) are never pruned, nor are layers producing the
    model output. ``min_channels``: the fewest channels any group may keep. ``unwrapped_parameters``: loose
    parameters' channel dimensions, as in :func:`core_pruning.prune`.
    """

    def __init__(self, model: nn.Module, example_inputs: Any, ignored_layers: Iterable[nn.Module | str] | None = None,
                 min_channels: int = 1, unwrapped_parameters: Mapping[str, int] | None = None) -> None:
        if min_channels < 1:
            raise InputError("min_channels must be >= 1")
        try:
            ignored = resolve_layers(model, ignored_layers)
        except KeyError as exc:
            raise InputError(exc.args[0]) from exc
        self.model = model
        self.example_inputs = example_inputs
        self.min_channels = min_channels
        self.dg = build_graph(model, example_inputs, unwrapped_parameters)
        self.groups: list[ChannelGroup] = collect_groups(self.dg, [*ignored, *output_layers(model, example_inputs)])
        if not self.groups:
            raise InputError("the model has no prunable channel groups")
        self.shapes = LayerShapes(model, example_inputs)
        self.base_flops = float(self.shapes.flops())
        self.keep: list[torch.Tensor] = [torch.ones(g.size, dtype=torch.bool) for g in self.groups]
        self._out_members: dict[nn.Module, list[tuple[int, Member]]] = {}
        self._in_members: dict[nn.Module, list[tuple[int, Member]]] = {}
        self._attention_members: dict[nn.Module, list[tuple[int, Member]]] = {}
        for gi, g in enumerate(self.groups):
            for m in g.outputs:
                self._out_members.setdefault(m.module, []).append((gi, m))
            for m in g.inputs:
                self._in_members.setdefault(m.module, []).append((gi, m))
            for m in g.attention:
                self._attention_members.setdefault(m.module, []).append((gi, m))

    # -- bookkeeping ------------------------------------------------------------------------------
    def floor(self, gi: int) -> int:
        return min(self.min_channels, self.groups[gi].size)

    def removed(self, gi: int) -> torch.Tensor:
        """Root indices of the masked channels of group ``gi``."""
        return torch.nonzero(~self.keep[gi]).flatten()

    def num_masked(self) -> int:
        return int(sum(int((~k).sum()) for k in self.keep))

    def state_dict(self) -> dict[str, Any]:
        return {"keep": [k.clone() for k in self.keep]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        keep = state["keep"]
        if [len(k) for k in keep] != [g.size for g in self.groups]:
            raise InputError("saved channel masks do not fit this model's groups")
        self.keep = [k.clone().bool() for k in keep]

    # -- weights ---------------------------------------------------------------------------------
    def filter_slices(self, gi: int, scale: bool = True) -> list[ChannelSlice]:
        """The parameters that make up group ``gi``'s channels: filter rows and biases of every coupled
        output layer, BatchNorm shifts and (``scale=True``) BatchNorm scales."""
        g, slices = self.groups[gi], []
        for m in g.outputs:
            slices += _slices(m, ("weight",), _out_dim(m.module)) + _slices(m, ("bias",))
        for m in g.norms:
            slices += _slices(m, ("weight", "bias") if scale else ("bias",))
        return slices

    @torch.no_grad()
    def zero_(self, hard: bool = False) -> None:
        """Zero every masked channel so that its output is exactly 0 (see module docstring).

        The BatchNorm scale is left alone unless ``hard``: a zero scale would also zero the gradient
        reaching the filter, and soft methods (SFP) need that gradient so pruned filters can revive.
        """
        for gi in range(len(self.groups)):
            roots = self.removed(gi)
            if len(roots) == 0:
                continue
            factors = self.keep[gi].double()
            for s in self.filter_slices(gi, scale=hard):
                s.scale_(factors)
            for m in self.groups[gi].norms:  # a zero input then gives exactly 0 in evaluation mode too
                for s in _slices(m, ("running_mean",)):
                    s.scale_(factors)

    # -- FLOPs -------------------------------------------------------------------------------------
    def flops(self, values: list[torch.Tensor] | None = None) -> torch.Tensor:
        """MACs of the network with channels kept per ``values`` (default: the masks).

        Each counted layer's MACs are :meth:`~core_pruning.counting.LayerShapes.layer_macs` (the engine's FLOPs
        formula) at its kept output and input widths, so all-kept masks give the engine's count and 0/1 masks the
        count of the physically pruned network. ``values`` may be soft (floats in [0, 1]): a layer then counts
        ``sum(values)`` channels, the expected width when channel c is kept with probability ``values[c]``, and
        the result is differentiable in ``values``.
        """
        vals = [(v if v.is_floating_point() else v.double()) for v in (values if values is not None else self.keep)]
        total = torch.zeros((), dtype=torch.float64, device=vals[0].device)
        for module in self.shapes.layers():
            if isinstance(module, nn.MultiheadAttention) or custom_layers.is_window_attention(module):
                full = module.embed_dim if isinstance(module, nn.MultiheadAttention) else \
                    custom_layers.attention_width(module)
                width = self._kept(module, full, self._attention_members, vals)
                total = total + self.shapes.layer_macs(module, out_channels=width)
                continue
            n_out, n_in = (module.out_features, module.in_features) if isinstance(module, nn.Linear) \
                else (module.out_channels, module.in_channels)
            out = self._kept(module, n_out, self._out_members, vals)
            inp = self._kept(module, n_in, self._in_members, vals)
            total = total + self.shapes.layer_macs(module, out_channels=out, in_channels=inp)
        return total

    @staticmethod
    def _kept(module: nn.Module, n: int, members: dict, vals: list[torch.Tensor]) -> torch.Tensor | float:
        kept: torch.Tensor | float = float(n)
        for gi, m in members.get(module, ()):
            v = vals[gi].to(torch.float64)
            kept = kept - (1.0 - v[torch.as_tensor(m.root_idxs, device=v.device)]).sum()
        return kept

    def flops_fraction(self, values: list[torch.Tensor] | None = None) -> float:
        return float(self.flops(values)) / self.base_flops

    # -- plans -------------------------------------------------------------------------------------
    def plan_step(self) -> PlanStep:
        """One engine plan step removing every masked channel (indices are root channels of each group)."""
        return PlanStep(prunes=[{"layer": g.root_name, "idxs": self.removed(gi).tolist()}
                                for gi, g in enumerate(self.groups) if not bool(self.keep[gi].all())])

    def removed_per_layer(self) -> dict[str, list[int]]:
        """Removed output-channel indices of every conv/linear layer that loses channels."""
        removed: dict[str, list[int]] = {}
        for gi, g in enumerate(self.groups):
            masked = set(self.removed(gi).tolist())
            for m in g.outputs:
                idxs = sorted(i for i, r in zip(m.idxs, m.root_idxs) if r in masked)
                if idxs:
                    removed[m.name] = idxs
        return removed
