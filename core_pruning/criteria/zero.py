"""Zero-channel detection: channels whose activation is zero on every calibration sample.

Reading implemented (ArtNet's zero-channel pruning): a channel is *dead* when, on every calibration
input, every layer that reads it receives exactly zero at every position — i.e. the post-activation
(after ReLU, pooling, concatenation) value it contributes downstream is always 0. Removing the
channel and the consumers' input slices then cannot change any output on that data: pruning is
lossless by construction. We observe the inputs of the consumer layers themselves (forward
pre-hooks), which is exactly what removal affects, whatever activation or pooling sits in between.

A channel whose consumers always see the same non-zero constant ``v`` is also removable losslessly
when its contribution can be moved into the consumer's bias: ``bias += v * sum(kernel slice)``. That is
exact for linear layers and for convolutions whose padding cannot create non-constant borders (no
padding, 1x1 kernels, or reflect/replicate/circular padding); other consumers keep such a channel.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from core_pruning.counting import run_model
from core_pruning.criteria.base import Criterion, ScoringContext
from core_pruning.groups import ChannelGroup, Member


@dataclass
class InputStats:
    """Per input channel of one consumer layer over all calibration data."""

    amax: torch.Tensor  # max |x|
    vmin: torch.Tensor
    vmax: torch.Tensor


def _channel_view(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(channels, everything else) view of a consumer's input."""
    if isinstance(module, nn.Linear):
        return x.detach().reshape(-1, x.shape[-1]).t()
    batched = x.dim() == module.weight.dim()
    return (x.detach().transpose(0, 1) if batched else x.detach()).reshape(x.shape[1 if batched else 0], -1)


def collect_input_stats(model: nn.Module, batches: Iterable,
                        consumers: Iterable[nn.Module]) -> dict[nn.Module, InputStats]:
    """Run ``batches`` through ``model`` and record min/max/|max| of every input channel of ``consumers``."""
    stats: dict[nn.Module, InputStats] = {}

    def hook(module: nn.Module, inputs: tuple) -> None:
        v = _channel_view(module, inputs[0]).float()
        amax, vmin, vmax = v.abs().amax(1), v.amin(1), v.amax(1)
        old = stats.get(module)
        if old is None:
            stats[module] = InputStats(amax, vmin, vmax)
        else:
            stats[module] = InputStats(torch.maximum(old.amax, amax), torch.minimum(old.vmin, vmin),
                                       torch.maximum(old.vmax, vmax))

    handles = [m.register_forward_pre_hook(hook) for m in set(consumers)]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for inputs, _ in batches:
                run_model(model, inputs)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return stats


def _foldable(module: nn.Module) -> bool:
    if isinstance(module, nn.Linear):
        return True
    if not isinstance(module, nn.modules.conv._ConvNd) or module.transposed:
        return False
    padding = module.padding
    no_padding = padding == "valid" if isinstance(padding, str) else all(p == 0 for p in padding)
    if module.groups != 1:
        return False
    return no_padding or all(k == 1 for k in module.kernel_size) or module.padding_mode != "zeros"


@dataclass
class ZeroFinding:
    """Dead and constant root channels of one group."""

    dead: list[int]
    constant: dict[int, list[tuple[Member, int, float]]]  # root idx -> [(consumer, its input idx, value)]


class ZeroActivation(Criterion):
    """Score = largest |activation| any consumer receives from the channel (0 = dead on all data)."""

    name = "zero"
    needs_data = True
    default_normalization = "none"

    def __init__(self, example_inputs=None, normalization: str | None = None, fold_constant: bool = False,
                 atol: float = 0.0) -> None:
        super().__init__(example_inputs, normalization)
        self.fold_constant = fold_constant
        self.atol = atol
        self.stats: dict[nn.Module, InputStats] = {}

    def prepare(self, ctx: ScoringContext) -> None:
        super().prepare(ctx)
        if not ctx.calib_batches:
            from prunelab.errors import InputError

            raise InputError("criterion 'zero' needs calibration data (calib_data=...) to stay lossless on")
        consumers = [m for m in ctx.model.modules() if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear))]
        self.stats = collect_input_stats(ctx.model, ctx.calib_batches, consumers)

    def score(self, group: ChannelGroup, ctx: ScoringContext) -> torch.Tensor:
        out = torch.full((group.size,), float("inf"), dtype=torch.float64)
        seen = torch.zeros(group.size, dtype=torch.bool)
        for member in group.inputs:
            st = self.stats.get(member.module)
            if st is None:
                continue
            vals = st.amax[member.idxs].double()
            idx = torch.as_tensor(member.root_idxs)
            out[idx] = torch.where(seen[idx], torch.maximum(out[idx], vals), vals)
            seen[idx] = True
        return out

    def find(self, group: ChannelGroup) -> ZeroFinding:
        """Dead channels and, with ``fold_constant``, constant ones whose consumers can absorb them."""
        if not group.inputs or any(m.module not in self.stats for m in group.inputs):
            return ZeroFinding([], {})
        dead = torch.ones(group.size, dtype=torch.bool)
        const = torch.full((group.size,), self.fold_constant, dtype=torch.bool)
        for member in group.inputs:
            st = self.stats[member.module]
            idx = torch.as_tensor(member.root_idxs)
            member_dead = st.amax[member.idxs] <= self.atol
            dead[idx] &= member_dead
            if self.fold_constant:
                flat = (st.vmax[member.idxs] - st.vmin[member.idxs]).abs() <= self.atol
                const[idx] &= flat & torch.tensor(_foldable(member.module))
        constant: dict[int, list[tuple[Member, int, float]]] = {}
        for r in torch.nonzero(const & ~dead).flatten().tolist():
            entries = []
            for member in group.inputs:
                for local, root in zip(member.idxs, member.root_idxs):
                    if root == r:
                        entries.append((member, local, float(self.stats[member.module].vmax[local])))
            constant[r] = entries
        return ZeroFinding(torch.nonzero(dead).flatten().tolist(), constant)


def fold_constant_input(module: nn.Module, channel: int, value: float) -> None:
    """Add the contribution of input ``channel`` held at ``value`` to ``module``'s bias (see module docstring)."""
    with torch.no_grad():
        w = module.weight
        rows = w.t()[channel] if isinstance(module, nn.Linear) else w[:, channel].flatten(1).sum(1)
        if isinstance(module, nn.modules.conv._ConvNd) and module.groups > 1:
            raise ValueError("constant folding into grouped convolutions is not supported")
        delta = value * rows
        if module.bias is None:
            module.bias = nn.Parameter(torch.zeros(module.weight.shape[0], dtype=module.weight.dtype,
                                                   device=module.weight.device))
        module.bias.add_(delta.to(module.bias.dtype))
