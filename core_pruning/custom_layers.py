"""Pruning rules for what Torch-Pruning cannot trace: Swin's window attention and patch merging, channel shuffles.

torchvision's ``ShiftedWindowAttention`` (Swin) and ``ShiftedWindowAttentionV2`` (Swin V2) call
``F.linear(x, self.qkv.weight)`` outside the layer and reshape q/k/v as ``(3, num_heads, C // num_heads)`` with
``C`` the *input* width; traced op by op, their window partitions make Torch-Pruning's index mappings grow without
bound (Swin-T: no result in 300 s) and the weights look like loose parameters. ``PatchMerging`` concatenates four
slices of one tensor, which Torch-Pruning maps to the wrong part of the following ``LayerNorm(4C)``.

Registered as Torch-Pruning *customized pruners*, each of these modules is one node of the graph (its insides are
not traced) and the rules below keep it consistent:

- **Window attention** has tied input and output channels (the residual width ``C``, as Torch-Pruning's
  ``nn.MultiheadAttention`` pruner ties the embedding): removing channel ``i`` removes column ``i`` of ``qkv``,
  its rows ``i``, ``C + i``, ``2C + i`` (the same position in q, k and v) and row and column ``i`` of ``proj``.
  Channel ``i`` sits in head ``i // (C / num_heads)``, so :mod:`core_pruning.groups` removes whole *units* (local
  index ``j`` of every head at once): every head keeps the same head dimension, as the reshape requires. The head
  count never changes, nor the relative-position tables (per head). For Swin (V1) the q rows are rescaled by
  ``sqrt(C' / C)``: the layer scales q by ``(C' / heads) ** -0.5`` after pruning, and the rescaling keeps the logits
  of the kept dims what they were (the pruned layer equals the original with those dims zeroed). Swin V2's cosine
  attention has no such scale.
- **Patch merging** maps ``C`` input channels to ``2C`` output channels (not tied): input channel ``i`` is
  position ``i``, ``C + i``, ``2C + i`` and ``3C + i`` of the concatenation (the reduction's columns, and V1's
  ``LayerNorm(4C)``); an output channel is a row of the reduction (and, in V2, a channel of its ``LayerNorm(2C)``).

:func:`members` turns a group item on one of these modules into the concrete conv/linear/norm entries the criteria
score and the FLOPs counter costs, so criteria need no special case.

**Channel shuffles** (torchvision's ShuffleNetV2: ``channel_shuffle`` interleaves the two halves of a
concatenation) permute channels; Torch-Pruning's reshape mapping divides by zero on them, and its own pruner fails on
ShuffleNetV2 the same way. :func:`cut_at_channel_shuffles` cuts the traced graph at each shuffle instead: the
shuffle's input and its result become extra *outputs* of the graph, the result with no history (so no group
reaching either is pruned: the block's width, and what the permutation interleaves, stay whole). What is left
prunable are the channels that never cross a shuffle -- each branch's bottleneck (1×1 conv, depthwise conv, the
next 1×1 conv's input), the stem and the last 1×1 conv -- which keeps every shuffle's halves equal by construction.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from core_pruning._tp_compat import (
    BasePruningFunc,
    prune_layernorm_channels,
    prune_linear_in_channels,
    prune_linear_out_channels,
)

try:  # torchvision is a dependency of the package, but keep core_pruning importable without it
    from torchvision.models import shufflenetv2 as _shufflenet
    from torchvision.models import swin_transformer as _swin
except ImportError:  # pragma: no cover - torchvision missing
    _shufflenet = _swin = None

WINDOW_ATTENTION: tuple[type, ...] = (_swin.ShiftedWindowAttention,) if _swin else ()  # V2 subclasses it
PATCH_MERGING: tuple[type, ...] = (_swin.PatchMerging, _swin.PatchMergingV2) if _swin else ()


def _repeated(idxs: Sequence[int], width: int, copies: int) -> list[int]:
    """Positions of channels ``idxs`` in ``copies`` side-by-side blocks of ``width`` channels."""
    return [b * width + i for b in range(copies) for i in idxs]


@torch.no_grad()
def keep_query_scale(weight: Tensor, bias: Tensor | None, width: int, old_width: int) -> None:
    """Rescale the q rows (the first ``width``) of a q/k/v projection whose head dim shrank from ``old_width``.

    Attention scales q·k by ``head_dim ** -0.5``; after pruning that is the new, smaller head dim, which would
    sharpen every attention map. Multiplying q by ``sqrt(width / old_width)`` keeps the logits of the kept dims as
    they were: the pruned layer equals the original with those dims zeroed. Used for Swin V1 here and for
    ``nn.MultiheadAttention`` by :func:`core_pruning.plan.prune_root` (Torch-Pruning's own pruner does not rescale).
    """
    if width in (0, old_width):
        return
    factor = math.sqrt(width / old_width)
    weight[:width] *= factor
    if bias is not None:
        bias[:width] *= factor


class WindowAttentionPruner(BasePruningFunc):
    """Torch-Pruning pruner for torchvision's (shifted) window attention: tied in/out channels (module docstring)."""

    TARGET_MODULES = WINDOW_ATTENTION

    def check(self, layer: nn.Module, idxs: Sequence[int], to_output: bool) -> None:
        super().check(layer, idxs, to_output)
        if (self.get_out_channels(layer) - len(idxs)) % layer.num_heads:
            raise ValueError(f"window attention keeps {layer.num_heads} heads of equal size: "
                             f"{self.get_out_channels(layer) - len(idxs)} channels do not divide evenly")

    def prune_out_channels(self, layer: nn.Module, idxs: Sequence[int]) -> nn.Module:
        width = self.get_out_channels(layer)
        prune_linear_out_channels(layer.qkv, _repeated(idxs, width, 3))
        prune_linear_in_channels(layer.qkv, list(idxs))
        prune_linear_out_channels(layer.proj, list(idxs))
        prune_linear_in_channels(layer.proj, list(idxs))
        if getattr(layer, "logit_scale", None) is None:  # V1: q scaled by (C' / heads) ** -0.5 now
            keep_query_scale(layer.qkv.weight, layer.qkv.bias, width - len(idxs), width)
        return layer

    prune_in_channels = prune_out_channels  # tied: Torch-Pruning couples the module's input and output

    def get_out_channels(self, layer: nn.Module) -> int:
        return int(layer.qkv.in_features)

    def get_in_channels(self, layer: nn.Module) -> int:
        return self.get_out_channels(layer)


class PatchMergingPruner(BasePruningFunc):
    """Torch-Pruning pruner for torchvision's ``PatchMerging``/``PatchMergingV2`` (module docstring)."""

    TARGET_MODULES = PATCH_MERGING

    def prune_out_channels(self, layer: nn.Module, idxs: Sequence[int]) -> nn.Module:
        prune_linear_out_channels(layer.reduction, list(idxs))
        if isinstance(layer, _swin.PatchMergingV2):
            prune_layernorm_channels(layer.norm, list(idxs))
        return layer

    def prune_in_channels(self, layer: nn.Module, idxs: Sequence[int]) -> nn.Module:
        width = self.get_in_channels(layer)
        slices = _repeated(idxs, width, 4)
        prune_linear_in_channels(layer.reduction, slices)
        if not isinstance(layer, _swin.PatchMergingV2):
            prune_layernorm_channels(layer.norm, slices)
        layer.dim = width - len(idxs)
        return layer

    def get_out_channels(self, layer: nn.Module) -> int:
        return int(layer.reduction.out_features)

    def get_in_channels(self, layer: nn.Module) -> int:
        return int(layer.reduction.in_features) // 4


class _Opaque(torch.autograd.Function):
    """Identity on a precomputed output whose autograd node links straight to the module's input."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:  # noqa: ARG004 - x: the link
        return out.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[None, None]:  # tracing never runs backward
        return None, None


@contextmanager
def opaque_for_tracing(model: nn.Module) -> Iterator[None]:
    """Hide the insides of every custom-pruned module of ``model`` from Torch-Pruning's tracer.

    Torch-Pruning follows the autograd graph from the model's output to its input and records a module where its
    output was produced -- but then keeps walking through the module's own operations (window partition, roll,
    concatenation of slices) to reach its input, and maps channel indices through each of them, wrongly here.
    While the graph is built, each such module computes its output without autograd and hands it back through
    one node linked to its input, so the module is a single step from input to output. Restored on exit.
    """
    patched = []
    for module in model.modules():
        if is_custom(module) and "forward" not in vars(module):
            original = module.forward

            def opaque(x: torch.Tensor, *args: Any, _original: Any = original, **kwargs: Any) -> torch.Tensor:
                with torch.no_grad():
                    out = _original(x, *args, **kwargs)
                return _Opaque.apply(x, out)

            module.forward = opaque
            patched.append(module)
    try:
        yield
    finally:
        for module in patched:
            del module.forward


#: ``(module, function name)`` of channel-permuting functions the traced graph is cut at.
CHANNEL_SHUFFLES: tuple[tuple[Any, str], ...] = ((_shufflenet, "channel_shuffle"),) if _shufflenet else ()

_cut_lock = threading.Lock()
_cut_lists: dict[int, list[torch.Tensor]] = {}  # thread id -> what that thread's trace collects
_cut_originals: list[tuple[Any, str, Any]] = []  # installed while any thread traces


def _cutting(name: str, original: Any) -> Any:
    def cut(x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        collected = _cut_lists.get(threading.get_ident())
        if collected is None:  # another thread's forward while this one traces: the plain function
            return original(x, *args, **kwargs)
        with torch.no_grad():
            out = original(x, *args, **kwargs)
        if x.requires_grad:  # one op on a fresh leaf: traced first as an output, its consumers see an output
            out = out.requires_grad_() * 1.0
        collected.extend((x, out))
        return out

    cut.__name__ = cut.__qualname__ = f"cut_{name}"
    return cut


@contextmanager
def cut_at_channel_shuffles() -> Iterator[list[torch.Tensor]]:
    """While tracing: each channel shuffle's input and result are collected, to be given to the tracer as outputs
    *before* the model's own; the result has no autograd history (a new input to the graph). So no group reaching
    either side of a shuffle is pruned, not even a depthwise conv (input and output tied) reading the result. See
    the module docstring.

    Only the tracing thread's calls are cut (other threads get the plain function meanwhile); the functions are
    put back when the last concurrent trace ends, also on an exception.
    """
    me = threading.get_ident()
    with _cut_lock:
        if not _cut_lists:
            _cut_originals[:] = [(owner, name, getattr(owner, name)) for owner, name in CHANNEL_SHUFFLES]
            for owner, name, original in _cut_originals:
                setattr(owner, name, _cutting(name, original))
        outer = _cut_lists.get(me)
        _cut_lists[me] = collected = []
    try:
        yield collected
    finally:
        with _cut_lock:
            if outer is None:
                del _cut_lists[me]
            else:
                _cut_lists[me] = outer
            if not _cut_lists:
                for owner, name, original in _cut_originals:
                    setattr(owner, name, original)
                _cut_originals.clear()


_RESHAPES = frozenset({torch.Tensor.view, torch.Tensor.reshape, torch.reshape, torch.Tensor.unflatten, torch.unflatten})


class _ChannelSplitRecorder(torch.overrides.TorchFunctionMode):
    """Records the autograd node of every reshape that splits dimension 1 of a tensor, with that dimension's size."""

    def __init__(self) -> None:
        super().__init__()
        self.splits: dict[Any, int] = {}

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        out = func(*args, **(kwargs or {}))
        if func in _RESHAPES and args and isinstance(args[0], torch.Tensor) and isinstance(out, torch.Tensor):
            x = args[0]
            if x.dim() >= 2 and out.dim() > x.dim() and out.grad_fn is not None and 1 < x.shape[1] != out.shape[1]:
                self.splits[out.grad_fn] = int(x.shape[1])
        return out


@contextmanager
def channel_splits_recorded() -> Iterator[dict[Any, int]]:
    """While tracing: collect the autograd nodes of reshapes that split dimension 1 (``x.view(b, g, c // g, h, w)``,
    a hand-written channel shuffle), each with the size of that dimension. Torch-Pruning maps channel indices
    through them unchanged, which is wrong for any permutation that follows, so a group whose channels are that
    dimension is left whole (:mod:`core_pruning.groups`; a split of another dimension 1, such as MaxViT's window
    index in a channels-last tensor, is told apart by its size)."""
    recorder = _ChannelSplitRecorder()
    with recorder:
        yield recorder.splits


def pruners() -> dict[type, BasePruningFunc]:
    """The customized pruners to register with Torch-Pruning's dependency graph (empty without torchvision)."""
    if _swin is None:
        return {}
    attention, merging = WindowAttentionPruner(), PatchMergingPruner()
    return {_swin.ShiftedWindowAttention: attention, _swin.ShiftedWindowAttentionV2: attention,
            _swin.PatchMerging: merging, _swin.PatchMergingV2: merging}


def is_window_attention(module: Any) -> bool:
    return _swin is not None and isinstance(module, WINDOW_ATTENTION)


def is_custom(module: Any) -> bool:
    """Whether ``module`` is pruned by one of :func:`pruners` (a single node in the graph)."""
    return _swin is not None and isinstance(module, (*WINDOW_ATTENTION, *PATCH_MERGING))


def removes_outputs(handler: Any) -> bool:
    """Whether a group item's pruning function (a bound method of one of :func:`pruners`) removes outputs."""
    return getattr(handler, "__name__", "") == "prune_out_channels"


def attention_width(module: nn.Module) -> int:
    """Channels (the residual width ``C``) of a window attention layer."""
    return int(module.qkv.in_features)


def members(module: nn.Module, to_output: bool, idxs: Sequence[int],
            root_idxs: Sequence[int]) -> list[tuple[str, nn.Module, list[int], list[int]]]:
    """The concrete layers a group item on custom ``module`` touches: ``(role, layer, idxs, root_idxs)``.

    ``role`` is ``"output"`` (rows of a conv/linear layer: the channels it produces), ``"input"`` (columns: what it
    reads) or ``"norm"``, exactly as Torch-Pruning would list them had it traced the module's insides.
    """
    idxs, root_idxs = list(idxs), list(root_idxs)
    if is_window_attention(module):
        width = int(module.qkv.in_features)
        return [("output", module.qkv, _repeated(idxs, width, 3), root_idxs * 3),
                ("output", module.proj, idxs, root_idxs),
                ("input", module.qkv, idxs, root_idxs),
                ("input", module.proj, idxs, root_idxs)]
    if to_output:
        found = [("output", module.reduction, idxs, root_idxs)]
        if isinstance(module, _swin.PatchMergingV2):
            found.append(("norm", module.norm, idxs, root_idxs))
        return found
    width = int(module.reduction.in_features) // 4
    found = [("input", module.reduction, _repeated(idxs, width, 4), root_idxs * 4)]
    if not isinstance(module, _swin.PatchMergingV2):
        found.append(("norm", module.norm, _repeated(idxs, width, 4), root_idxs * 4))
    return found


def removed_outputs(module: nn.Module, to_output: bool, idxs: Sequence[int]) -> list[tuple[nn.Module, list[int]]]:
    """After a group item on custom ``module`` was pruned: the conv/linear layers that lost outputs, and which.

    The counterpart of :func:`members` for bookkeeping once the layers have shrunk (a window attention's width is
    then its new width plus the removed channels).
    """
    idxs = list(idxs)
    if is_window_attention(module):
        width = attention_width(module) + len(idxs)
        return [(module.qkv, _repeated(idxs, width, 3)), (module.proj, idxs)]
    return [(module.reduction, idxs)] if to_output else []


def window_attention_shapes(module: nn.Module, x: torch.Tensor) -> tuple[int, int]:
    """``(tokens, token pairs)`` one call of window attention ``module`` on ``x`` (``[..., H, W, C]``) computes.

    Tokens: the padded map (the layer pads H and W to multiples of its window); pairs: tokens x window area, the
    rows of Q·Kᵀ and A·V summed over windows. The q/k/v and output projections run once per token.
    """
    *batch, height, width, _ = x.shape
    wh, ww = module.window_size
    tokens = math.prod(batch) * math.ceil(height / wh) * wh * math.ceil(width / ww) * ww
    return tokens, tokens * wh * ww
