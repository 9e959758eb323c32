"""Prunable channel groups: Torch-Pruning dependency groups seen as "one vector of channels".

A :class:`ChannelGroup` wraps one ``torch_pruning`` group rooted at the output channels of a conv or
linear layer. Removing root channel ``i`` removes it from every coupled layer (residual partners,
BatchNorm, concatenation slices, depthwise convs) and the matching input slices of every consumer.
Scores and costs are vectors over the root channels.

Structured channels: a group that feeds or produces a grouped convolution (ResNeXt, RegNet: ``1 < groups <
channels``), the embedding of an ``nn.MultiheadAttention`` (ViT) or the width of a Swin window attention
(:mod:`core_pruning.custom_layers`) has ``channel_groups`` G > 1. Its root channels
are G equal blocks (conv groups, attention heads) and may only be removed as *units*: local index ``j`` of every
block at once (root channels ``j, j + size/G, ...``), so every conv group keeps the same width and every head the
same head dimension, with the same local positions (Torch-Pruning's grouped-conv pruner and Torch-Pruning's
MetaPruner assume exactly that). A group whose channels cannot be made consistent -- or that touches a
parameter the tracer cannot follow (a weight used by ``F.linear`` outside its module's forward, in a module with
no pruner of :mod:`core_pruning.custom_layers`) -- gets an ``unsupported`` reason instead and is left whole.
"""

from __future__ import annotations

import fnmatch
import math
import signal
import threading
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from core_pruning import _tp_compat as tpc
from core_pruning import custom_layers
from core_pruning._tp_compat import BN_FNS, IN_FNS, MHA_FNS, OUT_FNS
from core_pruning.counting import LayerShapes

WEIGHTED = (nn.modules.conv._ConvNd, nn.Linear)


@dataclass
class Member:
    """A layer touched by a group: ``idxs`` are its own channel indices, ``root_idxs`` the root channel of each."""

    module: nn.Module
    name: str
    idxs: list[int]
    root_idxs: list[int]

    def scatter(self, values: torch.Tensor, size: int) -> torch.Tensor:
        """Sum per-entry ``values`` (aligned with ``idxs``) into a vector over the ``size`` root channels."""
        out = torch.zeros(size, dtype=torch.float64)
        out.index_add_(0, torch.as_tensor(self.root_idxs, dtype=torch.long), values.detach().double().cpu())
        return out


@dataclass
class ChannelGroup:
    """A set of coupled channels that can only be removed together (see module docstring)."""

    tp_group: tpc.Group
    root: nn.Module
    root_name: str
    size: int
    outputs: list[Member] = field(default_factory=list)  # conv/linear layers losing output channels (filters)
    inputs: list[Member] = field(default_factory=list)  # conv/linear layers losing input slices (consumers)
    norms: list[Member] = field(default_factory=list)  # BatchNorm layers losing channels
    touches_output: bool = False  # channels reach the model's output: removing them changes its shape
    attention: list[Member] = field(default_factory=list)  # attention layers (MHA, Swin windows) losing embedding dims
    channel_groups: int = 1  # G: root channels form G blocks removed as units (see module docstring)
    unsupported: str | None = None  # why this group cannot be pruned consistently (left whole)

    @property
    def units(self) -> int:
        """Number of removable units (root channels / ``channel_groups``)."""
        return self.size // self.channel_groups

    def unit_channels(self, unit: int) -> list[int]:
        """Root channels of unit ``unit``: local index ``unit`` of each of the ``channel_groups`` blocks."""
        return [unit + b * self.units for b in range(self.channel_groups)]

    @classmethod
    def from_tp_group(cls, group: tpc.Group, names: dict[nn.Module, str]) -> ChannelGroup:
        root = group[0].dep.target.module
        size = len(group[0].idxs)
        cg = cls(tp_group=group, root=root, root_name=names.get(root, "?"), size=size)
        blocks: list[int] = []
        for item in group.items:
            dep, idxs = item.dep, item.idxs
            root_idxs = tpc.root_idxs(item)
            if tpc.splits_channels(tpc.graph_of(group), dep.target, len(idxs)):  # idxs: all channels there
                cg.unsupported = cg.unsupported or ("a reshape splits its channel dimension (e.g. a hand-written "
                                                    "channel shuffle), which Torch-Pruning maps wrongly")
                continue
            if tpc.is_output(dep):
                cg.touches_output = True
                continue
            if tpc.is_parameter(dep) and idxs:
                cg.unsupported = cg.unsupported or _loose_parameter_problem(group, dep.target.module, idxs, size)
                continue
            if not idxs or None in root_idxs:
                continue
            module = dep.target.module
            member = Member(module, names.get(module, "?"), list(idxs), list(root_idxs))
            if custom_layers.is_custom(module):
                blocks.extend(cg._add_custom(member, dep.handler, names))
                continue
            owner = _fixed_shape_owner(getattr(tpc.graph_of(group), "model", None), module)
            if owner:
                cg.unsupported = cg.unsupported or f"{owner} reshapes q/k/v with fixed head sizes"
            structured = _block_count(module, dep.handler)
            if structured > 1:
                if list(idxs) != list(root_idxs) or len(idxs) != size or size % structured:
                    cg.unsupported = cg.unsupported or (
                        f"{member.name}: its {structured} channel blocks (conv groups / heads) do not line up with "
                        f"the {size} channels of {cg.root_name}")
                blocks.append(structured)
            if dep.handler in MHA_FNS:
                cg.attention.append(member)
                continue
            if dep.handler in OUT_FNS and isinstance(module, WEIGHTED):
                cg.outputs.append(member)
            elif dep.handler in IN_FNS and isinstance(module, WEIGHTED):
                cg.inputs.append(member)
            elif dep.handler in BN_FNS:
                cg.norms.append(member)
        if blocks:
            g = math.lcm(*blocks)
            if size % g:
                cg.unsupported = cg.unsupported or f"{cg.root_name}: {size} channels, not divisible into {g} blocks"
            else:
                cg.channel_groups = g
        return cg

    def _add_custom(self, member: Member, handler: Any, names: dict[nn.Module, str]) -> list[int]:
        """File a member on a :mod:`~core_pruning.custom_layers` module as its concrete layers; its head count."""
        module = member.module
        to_output = custom_layers.removes_outputs(handler)
        for role, layer, idxs, root_idxs in custom_layers.members(module, to_output, member.idxs, member.root_idxs):
            entry = Member(layer, names.get(layer, f"{member.name}.?"), idxs, root_idxs)
            if role == "output":
                self.outputs.append(entry)
            elif role == "input":
                self.inputs.append(entry)
        if not custom_layers.is_window_attention(module):
            return []
        self.attention.append(member)  # its Q·Kᵀ and A·V products shrink with the channels too
        if member.idxs != member.root_idxs or len(member.idxs) != self.size or self.size % module.num_heads:
            self.unsupported = self.unsupported or (
                f"{member.name}: its {module.num_heads} heads do not line up with the {self.size} channels of "
                f"{self.root_name}")
        return [int(module.num_heads)]

    @property
    def pruning_fn(self):
        return self.tp_group[0].dep.handler

    def filter_weights(self, member: Member) -> torch.Tensor:
        """Rows of ``member``'s weight that produce its pruned output channels, flattened: (len(idxs), -1)."""
        w = member.module.weight.detach()
        if getattr(member.module, "transposed", False):
            w = w.transpose(0, 1)
        return w[member.idxs].flatten(1)

    def input_slices(self, member: Member) -> torch.Tensor:
        """Weights of consumer ``member`` that read each pruned input channel, flattened: (len(idxs), -1)."""
        module, w = member.module, member.module.weight.detach()
        idx = torch.as_tensor(member.idxs, dtype=torch.long)
        if isinstance(module, nn.Linear):
            return w.index_select(1, idx).t()
        if not getattr(module, "transposed", False) and module.groups == 1:  # fast path: slice before reshaping
            return w.index_select(1, idx).transpose(0, 1).flatten(1)
        return per_input_channel(module, w)[idx]

    def channel_costs(self, shapes: LayerShapes) -> tuple[torch.Tensor, torch.Tensor]:
        """FLOPs (MACs) and parameters that removing each root channel saves, first order.

        FLOPs: what :meth:`LayerShapes.layer_macs` (the one FLOPs formula) loses when one channel goes from each
        coupled output layer (its filter), each consumer (its input slice) and each attention layer (an embedding
        dim). Parameters: those filters and slices and the BatchNorm affine pair. Two neighbouring groups removed
        together share one weight, so the true saving of a joint removal is slightly less than the sum: the budget
        loop re-measures.
        """
        flops = torch.zeros(self.size, dtype=torch.float64)
        params = torch.zeros(self.size, dtype=torch.float64)

        def add(member: Member, per_f: float, per_p: float) -> None:
            n = len(member.idxs)
            flops.add_(member.scatter(torch.full((n,), float(per_f)), self.size))
            params.add_(member.scatter(torch.full((n,), float(per_p)), self.size))

        for member in self.outputs:
            module = member.module
            per_f = shapes.layer_macs(module) - shapes.layer_macs(module, out_channels=_widths(module)[0] - 1)
            add(member, per_f, _filter_params(module))
        for member in self.inputs:
            module = member.module
            if not isinstance(module, nn.Linear) and module.groups > 1 and module.groups == module.in_channels:
                continue  # depthwise: its output channel goes with the input, already counted
            per_f = shapes.layer_macs(module) - shapes.layer_macs(module, in_channels=_widths(module)[1] - 1)
            add(member, per_f, _slice_params(module))
        for member in self.attention:  # an embedding dim: a row and a column of q, k, v and output projections
            module = member.module
            if custom_layers.is_window_attention(module):  # projections are outputs/inputs: only the products here
                width = custom_layers.attention_width(module)
                add(member, shapes.layer_macs(module) - shapes.layer_macs(module, out_channels=width - 1), 0)
                continue
            add(member, shapes.layer_macs(module) - shapes.layer_macs(module, out_channels=module.embed_dim - 1),
                8 * module.embed_dim + 4)
        for member in self.norms:
            if getattr(member.module, "affine", False):
                params.add_(member.scatter(torch.full((len(member.idxs),), 2.0), self.size))
        return flops, params


def _widths(module: nn.Module) -> tuple[int, int]:
    """(output, input) channels of a conv or linear layer."""
    if isinstance(module, nn.Linear):
        return module.out_features, module.in_features
    return module.out_channels, module.in_channels


def _filter_params(module: nn.Module) -> int:
    """Parameters of one output channel's filter (and bias) of a conv or linear layer."""
    if isinstance(module, nn.Linear):
        per = module.in_features
    else:
        k = math.prod(module.kernel_size)
        per = module.in_channels * k // module.groups if module.transposed else module.in_channels // module.groups * k
    return per + (1 if module.bias is not None else 0)


def _slice_params(module: nn.Module) -> int:
    """Parameters that read one input channel of a (non-depthwise) conv or linear layer."""
    if isinstance(module, nn.Linear):
        return module.out_features
    return module.out_channels // module.groups * math.prod(module.kernel_size)


#: Modules whose forward reshapes their q/k/v with head sizes fixed at construction, which Torch-Pruning does not
#: update: a group touching one of their layers is left whole (torchvision MaxViT; Swin's window attention has its
#: own pruner in :mod:`core_pruning.custom_layers`).
FIXED_SHAPE_ATTENTION = ("RelativePositionalMultiHeadAttention",)


def _fixed_shape_owner(model: nn.Module | None, module: nn.Module) -> str | None:
    if model is None:
        return None
    owners = getattr(model, "_prunelab_fixed_owners", None)
    if owners is None:
        owners = {}
        for name, m in model.named_modules():
            if type(m).__name__ in FIXED_SHAPE_ATTENTION:
                for sub in m.modules():
                    owners[sub] = f"{name} ({type(m).__name__})"
        object.__setattr__(model, "_prunelab_fixed_owners", owners)
    return owners.get(module)


def _block_count(module: nn.Module, handler: Any) -> int:
    """G of a structured member: conv groups of a grouped (not depthwise) conv, heads of an attention layer."""
    if isinstance(module, nn.MultiheadAttention):
        return int(module.num_heads)
    if isinstance(module, nn.modules.conv._ConvNd) and module.groups > 1 and handler in (*OUT_FNS, *IN_FNS):
        if not module.groups == module.in_channels == module.out_channels:  # depthwise: in and out go together
            return int(module.groups)
    return 1


def _loose_parameter_problem(group: tpc.Group, param: nn.Parameter, idxs: list[int], size: int) -> str | None:
    """Why a group touching a module-less parameter cannot be pruned, or ``None`` when it can.

    A loose parameter of the model itself (ViT's class token and position embedding, a user's per-channel scale)
    is fine when the dimension Torch-Pruning prunes (its last non-singleton one) is the group's channels. A weight
    of a conv/linear layer reached as a loose parameter is used outside its module's forward
    (``F.linear(x, self.qkv.weight)`` in Swin's attention): its layer's other dimension and attributes would not
    follow, so the group is left whole.
    """
    dg = tpc.graph_of(group)
    model = getattr(dg, "model", None)
    dim = tpc.pruning_dim(dg, param)
    name = "a parameter"
    if model is not None:
        for pname, p in model.named_parameters():
            if p is param:
                name = pname
                owner = model.get_submodule(pname.rsplit(".", 1)[0]) if "." in pname else model
                if isinstance(owner, WEIGHTED):
                    return (f"{pname} is used outside its layer's forward (e.g. F.linear), which Torch-Pruning's "
                            "tracer cannot follow")
                break
    if param.shape[dim] != size or len(idxs) > param.shape[dim]:
        return f"{name} {tuple(param.shape)} has no dimension matching the {size} channels it is coupled to"
    return None


def per_input_channel(module: nn.Module, tensor: torch.Tensor) -> torch.Tensor:
    """Rearrange a weight-shaped ``tensor`` of ``module`` to one row per input channel (what that input feeds)."""
    if isinstance(module, nn.Linear):
        return tensor.t()
    if getattr(module, "transposed", False):  # (in, out/groups, *k): row c is what input c feeds
        return tensor.flatten(1)
    groups = module.groups
    if groups == 1:
        return tensor.transpose(0, 1).flatten(1)
    out_per, in_per = tensor.shape[0] // groups, tensor.shape[1]
    # input channel c belongs to group c // in_per and feeds that group's out_per filters at slice c % in_per
    return tensor.reshape(groups, out_per, in_per, -1).permute(0, 2, 1, 3).reshape(groups * in_per, -1)


def output_layers(model: nn.Module, example_inputs: Any) -> list[nn.Module]:
    """Layers whose output tensor is returned by the model as is (e.g. the classifier): never pruned."""
    from core_pruning.counting import run_model

    # id() of a freed tensor is reused by later tensors, so each entry keeps a weak reference to check
    # that the returned tensor is the very one the layer produced (not a newcomer at the same address).
    produced: dict[int, tuple[nn.Module, weakref.ref]] = {}

    def hook(module: nn.Module, _inputs: Any, output: Any) -> None:
        if isinstance(output, torch.Tensor):
            produced[id(output)] = (module, weakref.ref(output))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, WEIGHTED)]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            outputs = run_model(model, example_inputs)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    flat: list[Any] = []
    stack = [outputs]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        else:
            flat.append(item)
    found = []
    for t in flat:
        entry = produced.get(id(t)) if isinstance(t, torch.Tensor) else None
        if entry is not None and entry[1]() is t:
            found.append(entry[0])
    return found


def module_names(model: nn.Module) -> dict[nn.Module, str]:
    return {module: name for name, module in model.named_modules()}


def resolve_layers(model: nn.Module, layers: Iterable[nn.Module | str] | None) -> list[nn.Module]:
    """Turn modules, names or glob patterns (``"classifier.*"``) into modules; unknown names raise ``KeyError``."""
    resolved: list[nn.Module] = []
    named = dict(model.named_modules())
    for layer in layers or []:
        if isinstance(layer, nn.Module):
            resolved.extend(m for m in layer.modules())
            continue
        matches = [m for name, m in named.items() if name == layer or fnmatch.fnmatchcase(name, layer)]
        if not matches:
            raise KeyError(f"no layer named {layer!r} in the model")
        for m in matches:
            resolved.extend(m.modules())
    return resolved


#: Seconds Torch-Pruning may take to resolve one root's group; past it the root is unsupported (reshapes such as
#: Swin-T's windows, traced op by op, made its index mappings grow without bound: docs/notes/core_pruning.md).
GROUP_TIMEOUT_S = 2.0


class _GroupTimeout(Exception):
    pass


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`_GroupTimeout` after ``seconds`` (main thread only; elsewhere no limit)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(*_: Any) -> None:
        raise _GroupTimeout()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _all_groups(dg: tpc.DependencyGraph, ignored: list[nn.Module],
                unsupported: dict[str, str] | None) -> Iterator[tpc.Group]:
    """``dg.get_all_groups`` over conv/linear roots, with a root that fails or runs away reported, not raised."""
    visited: set[nn.Module] = set()
    ignored_set = set(ignored)
    for m in tpc.graph_modules(dg):
        if m in ignored_set or m in visited or not isinstance(m, WEIGHTED):
            continue
        if unsupported is not None and tpc.name_of(dg, m, "?") in unsupported:
            continue  # known to fail or run away: not tried again at every step
        pruner = dg.get_pruner_of_module(m)
        if pruner is None or pruner.get_out_channels(m) is None:
            continue
        try:
            with _time_limit(GROUP_TIMEOUT_S):
                group = dg.get_pruning_group(m, pruner.prune_out_channels, list(range(pruner.get_out_channels(m))))
        except _GroupTimeout:
            if unsupported is not None:
                unsupported[tpc.name_of(dg, m, "?")] = (f"Torch-Pruning did not resolve its coupled channels in "
                                                          f"{GROUP_TIMEOUT_S:.0f} s (reshapes around it)")
            continue
        except Exception as exc:  # noqa: BLE001 - a tracer failure on one root must not stop the others
            if unsupported is not None:
                unsupported[tpc.name_of(dg, m, "?")] = f"Torch-Pruning failed on it: {type(exc).__name__}: {exc}"
            continue
        prunable = True
        for dep, _ in group:
            if dg.is_out_channel_pruning_fn(dep.handler):
                visited.add(dep.target.module)
                if dep.target.module in ignored_set:
                    prunable = False
        if prunable:
            yield group


def collect_groups(dg: tpc.DependencyGraph, ignored: list[nn.Module],
                   unsupported: dict[str, str] | None = None) -> list[ChannelGroup]:
    """All prunable groups of ``dg``'s model, rooted at conv/linear outputs.

    Groups whose channels reach the model output are excluded (removing them would change the output
    shape), as are groups containing an ignored layer and groups that cannot be pruned consistently
    (their root name and reason go into ``unsupported`` when given).
    """
    names = tpc.module_names(dg)
    groups = []
    with tpc.index_mappings_refreshed_once(dg):
        for group in _all_groups(dg, ignored, unsupported):
            cg = ChannelGroup.from_tp_group(group, names)
            if cg.touches_output or cg.size == 0:
                continue
            if cg.unsupported:
                if unsupported is not None:
                    unsupported[cg.root_name] = cg.unsupported
                continue
            groups.append(cg)
    return groups
