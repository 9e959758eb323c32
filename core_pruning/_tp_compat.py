"""The one place core_pruning touches Torch-Pruning beyond its documented API.

Torch-Pruning (``torch-pruning`` on PyPI) does the structural surgery; the rest of core_pruning reads its graphs and
groups only through the names below, so a Torch-Pruning release that moves an internal breaks this file alone.
Supported: ``SUPPORTED_RANGE``; :func:`check_supported` refuses any other version with an error naming both.

Internals used: ``DependencyGraph._module2name`` (layer names), ``Group._DG`` (the graph of a group),
``DependencyGraph.module2node`` / ``Node.outputs`` / ``Node.pruning_dim``, ``GroupItem.root_idxs``, the
``torch_pruning.pruner.function`` pruning functions, the local variable names of its tracer's index-mapping
functions (to name a failing layer) and ``dependency.index_mapping.update_index_mapping``, which
:func:`index_mappings_refreshed_once` replaces only for the duration of our own group enumeration. Documented options
used: ``build_dependency``'s ``customized_pruners`` and ``output_transform`` (:mod:`core_pruning.custom_layers`); the
graph object also carries our own ``_prunelab_channel_splits`` (:func:`splits_channels`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch_pruning as tp
from torch import nn
from torch_pruning.dependency import index_mapping
from torch_pruning.pruner import function

#: Torch-Pruning versions whose internals this module was written against: ``>= MIN_VERSION, < MAX_VERSION``.
MIN_VERSION = (1, 5)
MAX_VERSION = (1, 7)
SUPPORTED_RANGE = f">={MIN_VERSION[0]}.{MIN_VERSION[1]},<{MAX_VERSION[0]}.{MAX_VERSION[1]}"

DependencyGraph = tp.DependencyGraph
Group = tp.dependency.Group
Importance = tp.importance.Importance
BasePruningFunc = function.BasePruningFunc

OUT_FNS = (function.prune_conv_out_channels, function.prune_linear_out_channels,
           function.prune_depthwise_conv_out_channels)
MHA_FNS = (function.prune_multihead_attention_out_channels, function.prune_multihead_attention_in_channels)
IN_FNS = (function.prune_conv_in_channels, function.prune_linear_in_channels)
BN_FNS = (function.prune_batchnorm_out_channels,)
#: Torch-Pruning's layer-level removal functions (``fn(layer, idxs_to_remove)``), reused by our own pruners.
prune_linear_out_channels = function.prune_linear_out_channels
prune_linear_in_channels = function.prune_linear_in_channels
prune_layernorm_channels = function.prune_layernorm_out_channels

#: Local variables of Torch-Pruning's index-mapping functions that hold the graph node being mapped.
TRACER_NODE_LOCALS = ("reshape_node", "node", "cat_node", "split_node")


class UnsupportedTorchPruning(ImportError):
    """The installed Torch-Pruning is outside :data:`SUPPORTED_RANGE`."""


def installed_version() -> str:
    """``torch_pruning.__version__`` as installed."""
    return str(getattr(tp, "__version__", "unknown"))


def check_supported(version: str | None = None) -> None:
    """Raise :class:`UnsupportedTorchPruning` unless ``version`` (default: the installed one) is supported."""
    version = installed_version() if version is None else version
    match = re.match(r"(\d+)\.(\d+)", version)
    numbers = (int(match.group(1)), int(match.group(2))) if match else None
    if numbers is None or not MIN_VERSION <= numbers < MAX_VERSION:
        raise UnsupportedTorchPruning(
            f"core_pruning supports torch-pruning {SUPPORTED_RANGE}, but torch-pruning {version} is installed; "
            f"install a supported version: pip install 'torch-pruning{SUPPORTED_RANGE}'")


def build_graph(model: nn.Module, example_inputs: Any,
                unwrapped_parameters: list[tuple[nn.Parameter, int]] | None = None) -> DependencyGraph:
    """Torch-Pruning's dependency graph of ``model`` (after checking the installed version).

    ``unwrapped_parameters``: ``(parameter, channel dimension)`` of loose parameters whose channel dimension is not
    the last non-singleton one Torch-Pruning assumes. The pruners of :mod:`core_pruning.custom_layers` (Swin's
    window attention and patch merging) are registered, so those modules are single nodes, the graph is cut at
    torchvision's channel shuffles (their inputs traced as extra outputs), and reshapes that split the channel
    dimension are recorded (:func:`splits_channels`).
    """
    from core_pruning.custom_layers import channel_splits_recorded, cut_at_channel_shuffles, opaque_for_tracing, pruners

    check_supported()
    with parameters_traceable(model), opaque_for_tracing(model), cut_at_channel_shuffles() as cut_inputs, \
            channel_splits_recorded() as splits:
        dg = tp.DependencyGraph().build_dependency(model, example_inputs=traceable(example_inputs), verbose=False,
                                                   unwrapped_parameters=unwrapped_parameters or None,
                                                   customized_pruners=pruners(),
                                                   output_transform=lambda out: [*cut_inputs, out])  # cuts first
    dg._prunelab_channel_splits = splits
    return dg


@contextmanager
def parameters_traceable(model: nn.Module) -> Iterator[None]:
    """Autograd on, and every parameter of ``model`` requiring grad, while the graph is traced; restored after.

    Torch-Pruning follows ``grad_fn`` links from the output back to each layer's parameters. A frozen model
    (``requires_grad_(False)``, as inference code loads pretrained weights) or a call inside ``torch.no_grad()``
    leaves no such links: the graph then holds the last layer alone, so budget pruning found no group to score
    and zero-channel pruning silently removed nothing.
    """
    with frozen_kept(model):
        for p in model.parameters():
            p.requires_grad_(True)
        with torch.enable_grad():
            yield


def traceable(inputs: Any) -> Any:
    """``inputs`` with every tensor made under ``torch.inference_mode()`` cloned into a normal one (through lists,
    tuples and dicts): autograd refuses to record operations on inference tensors, so tracing failed with "Inference
    tensors cannot be saved for backward" when example inputs came from inference code."""
    if isinstance(inputs, torch.Tensor):
        return inputs.clone() if inputs.is_inference() else inputs
    if isinstance(inputs, (list, tuple)):
        return type(inputs)(traceable(item) for item in inputs)
    if isinstance(inputs, dict):
        return {key: traceable(value) for key, value in inputs.items()}
    return inputs


@contextmanager
def frozen_kept(model: nn.Module) -> Iterator[None]:
    """Parameters frozen on entry are frozen again on exit, by name: pruning replaces a layer's parameters with
    new (trainable) ones, which would otherwise unfreeze a frozen model."""
    frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    try:
        yield
    finally:
        for name, p in model.named_parameters():
            if name in frozen:
                p.requires_grad_(False)


def splits_channels(dg: DependencyGraph | None, node: Any, channels: int) -> bool:
    """Whether graph node ``node`` is a reshape that split a dimension of ``channels`` entries (the channels the
    group maps there) while ``dg`` was traced."""
    return getattr(dg, "_prunelab_channel_splits", {}).get(getattr(node, "grad_fn", None)) == channels


def module_names(dg: DependencyGraph) -> dict[nn.Module, str]:
    """Layer -> qualified name, as the graph recorded it (loose parameters included)."""
    return dg._module2name


def name_of(dg: DependencyGraph, module: Any, default: Any = None) -> Any:
    return dg._module2name.get(module, default)


def graph_of(group: Group) -> DependencyGraph | None:
    """The dependency graph a group was taken from."""
    return getattr(group, "_DG", None)


def graph_modules(dg: DependencyGraph) -> list[Any]:
    """Every module (and loose parameter) that has a node in the graph, in tracing order."""
    return list(dg.module2node)


def node_of(dg: DependencyGraph | None, module: Any) -> Any:
    return getattr(dg, "module2node", {}).get(module)


def next_modules(dg: DependencyGraph, module: nn.Module) -> list[Any]:
    """Modules that directly consume ``module``'s output in the traced graph."""
    node = node_of(dg, module)
    return [n.module for n in node.outputs] if node is not None else []


def pruning_dim(dg: DependencyGraph | None, param: Any) -> int:
    """The dimension Torch-Pruning prunes of a loose parameter (its last one unless it says otherwise)."""
    dim = getattr(node_of(dg, param), "pruning_dim", -1)
    return -1 if dim is None else dim


def root_idxs(item: Any) -> list[Any]:
    """Root channel of each index of a group item (older items have none: their own indices)."""
    return getattr(item, "root_idxs", item.idxs)


def is_output(dep: Any) -> bool:
    return dep.target.type == tp.ops.OPTYPE.OUTPUT


def is_parameter(dep: Any) -> bool:
    return dep.target.type == tp.ops.OPTYPE.PARAMETER


_skip_lock = threading.RLock()
_skipped: dict[int, int] = {}  # id(graph) -> how many of our enumerations hold it
_original_update = None  # update_index_mapping while our replacement is installed


def _update_unless_skipped(graph: Any) -> None:
    if id(graph) in _skipped:
        return None
    return _original_update(graph)


@contextmanager
def index_mappings_refreshed_once(dg: DependencyGraph) -> Iterator[None]:
    """Refresh ``dg``'s concat/split index mappings once, then skip Torch-Pruning's per-group refresh of ``dg``.

    ``get_pruning_group`` recomputes every mapping of the graph on each call, which makes enumerating all groups
    quadratic (DenseNet-121: ~3 s per enumeration). Channel counts cannot change while we only enumerate, so one
    refresh is enough. The replacement is installed on entry and the original restored when the outermost of
    nested (or concurrent) uses exits, also on an exception; other graphs are refreshed as always meanwhile.
    """
    global _original_update
    with _skip_lock:
        if not _skipped:
            _original_update = index_mapping.update_index_mapping
            index_mapping.update_index_mapping = _update_unless_skipped
        original = _original_update
        _skipped[id(dg)] = _skipped.get(id(dg), 0) + 1
    try:
        original(dg)
        yield
    finally:
        with _skip_lock:
            _skipped[id(dg)] -= 1
            if not _skipped[id(dg)]:
                del _skipped[id(dg)]
            if not _skipped:
                index_mapping.update_index_mapping = original
                _original_update = None


check_supported()
