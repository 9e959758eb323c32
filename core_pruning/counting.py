"""FLOPs and parameter counting.

**The FLOPs definition** (one, everywhere: budgets, reports, benchmarks): FLOPs are multiply-accumulates
(MACs) of every matrix product the forward pass executes -- convolutions (incl. grouped, depthwise and
transposed), linear layers (``addmm``/``mm``, also when called as ``F.linear`` outside a module), batched
matrix products, and the two attention products ``Q·Kᵀ`` and ``A·V`` of scaled-dot-product attention
(``nn.MultiheadAttention``, torchvision's ViT and Swin). Not counted: element-wise ops, activations,
normalisation, softmax, pooling, bias additions. It is measured by :func:`count_macs` with PyTorch's own
``torch.utils.flop_counter.FlopCounterMode`` (its FLOPs are 2 x MACs), with ``nn.MultiheadAttention``'s fused
inference fast path switched off so that its projections and attention are seen. It is torchvision's published
``weights.meta["_ops"]``; how it relates to Torch-Pruning's ``count_ops_and_params``: ``tests/test_core_flops.py``
and docs/notes/core_pruning.md. Parameters are every element of ``model.parameters()``.

Channel pruning never changes spatial sizes, so :class:`LayerShapes` records each layer's output
(or, for transposed convs, input) spatial size once and then recomputes conv/linear/attention FLOPs
analytically from channel counts (:meth:`LayerShapes.layer_macs`). That one formula gives the budget loop's
count, the first-order per-channel costs of :meth:`~core_pruning.groups.ChannelGroup.channel_costs` and the
masked FLOPs of :class:`~core_pruning.training.masks.ChannelMasks`; ``prune`` re-measures with :func:`count_macs`
when the analytic count does not equal it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from core_pruning import custom_layers

COUNTED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Linear)


def run_model(model: nn.Module, example_inputs: Any) -> Any:
    """Call ``model`` on ``example_inputs`` (a tensor, a tuple/list of positional args, or a dict of kwargs)."""
    if isinstance(example_inputs, dict):
        return model(**example_inputs)
    if isinstance(example_inputs, (tuple, list)):
        return model(*example_inputs)
    return model(example_inputs)


def record_forward(model: nn.Module, example_inputs: Any, hook: Any, types: tuple = COUNTED) -> None:
    """One eval-mode, no-grad forward of ``example_inputs`` with forward ``hook`` on every layer of ``types``.

    The model's train/eval mode is restored and the hooks removed, also when the forward fails.
    """
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, types)]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            run_model(model, example_inputs)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()


class LayerShapes:
    """Spatial sizes seen by every counted layer on one forward pass of ``example_inputs``.

    ``positions[module]`` is the number of output positions summed over calls (a layer called twice
    counts twice): H*W for a 2-D conv, the number of tokens for a linear layer.
    """

    def __init__(self, model: nn.Module, example_inputs: Any) -> None:
        self.positions: dict[nn.Module, int] = {}
        #: per nn.MultiheadAttention or Swin window attention: summed (batch * query tokens, query-key pairs)
        self.attention: dict[nn.Module, tuple[int, int]] = {}
        with _mha_fastpath_off():
            record_forward(model, example_inputs, self._hook,
                           (*COUNTED, nn.MultiheadAttention, *custom_layers.WINDOW_ATTENTION))

    def _hook(self, module: nn.Module, inputs: Sequence[torch.Tensor], output: torch.Tensor) -> None:
        if custom_layers.is_window_attention(module):  # its projections run as F.linear: no hooks of their own
            tokens, pairs = custom_layers.window_attention_shapes(module, inputs[0])
            for layer in (module.qkv, module.proj):
                self.positions[layer] = self.positions.get(layer, 0) + tokens
            total = self.attention.get(module, (0, 0))
            self.attention[module] = (total[0] + tokens, total[1] + pairs)
            return
        if isinstance(module, nn.MultiheadAttention):
            if not inputs:  # called with keyword arguments only: its cost estimate stays 0 (count_macs still sees it)
                return
            q, k = inputs[0], inputs[1] if len(inputs) > 1 else inputs[0]
            batch_first = getattr(module, "batch_first", False) and q.dim() == 3
            lq = q.shape[1] if batch_first else q.shape[0]
            lk = k.shape[1] if batch_first else k.shape[0]
            n = (q.shape[0] if batch_first else q.shape[1]) if q.dim() == 3 else 1
            tokens, pairs = self.attention.get(module, (0, 0))
            self.attention[module] = (tokens + n * lq, pairs + n * lq * lk)
            return
        if isinstance(module, nn.Linear):
            positions = output.numel() // output.shape[-1]
        elif isinstance(module, nn.modules.conv._ConvTransposeNd):
            x = inputs[0]
            spatial = x.shape[2:] if x.dim() == module.weight.dim() else x.shape[1:]
            positions = math.prod(spatial) * (x.shape[0] if x.dim() == module.weight.dim() else 1)
        else:
            spatial = output.shape[2:] if output.dim() == module.weight.dim() else output.shape[1:]
            positions = math.prod(spatial) * (output.shape[0] if output.dim() == module.weight.dim() else 1)
        self.positions[module] = self.positions.get(module, 0) + int(positions)

    def layer_macs(self, module: nn.Module, out_channels: Any = None, in_channels: Any = None) -> Any:
        """MACs of ``module`` with ``out_channels`` / ``in_channels`` kept (default: its current counts).

        The analytic form of the FLOPs definition, the one formula the budget loop, the per-channel costs of
        :meth:`core_pruning.groups.ChannelGroup.channel_costs` and the masked FLOPs of the training methods use.
        Counts may be floats or tensors (soft masks' expected counts): the result is then differentiable in them.
        A depthwise conv's groups shrink with its channels; other conv groups keep their number. For
        ``nn.MultiheadAttention`` ``out_channels`` is the embedding width (the q/k/v widths follow it when equal).
        """
        if custom_layers.is_window_attention(module):  # Q·Kᵀ and A·V (its qkv and proj are linear layers here)
            width = custom_layers.attention_width(module) if out_channels is None else out_channels
            return 2 * self.attention.get(module, (0, 0))[1] * width
        if isinstance(module, nn.MultiheadAttention):  # q, k, v and output projections + Q·Kᵀ and A·V
            tokens, pairs = self.attention.get(module, (0, 0))
            e = module.embed_dim if out_channels is None else out_channels
            kdim = module.kdim if module.kdim != module.embed_dim else e
            vdim = module.vdim if module.vdim != module.embed_dim else e
            return tokens * (e * e + e * kdim + e * vdim + e * e) + 2 * pairs * e
        positions = self.positions.get(module, 0)
        if isinstance(module, nn.Linear):
            n_out = module.out_features if out_channels is None else out_channels
            n_in = module.in_features if in_channels is None else in_channels
            return positions * n_in * n_out
        if isinstance(module, nn.modules.conv._ConvNd):
            k = math.prod(module.kernel_size)
            n_out = module.out_channels if out_channels is None else out_channels
            if module.groups > 1 and module.groups == module.in_channels:  # depthwise: one input per output
                return positions * n_out * k
            if out_channels is None and in_channels is None:
                return positions * (module.in_channels * module.out_channels // module.groups * k)
            n_in = module.in_channels if in_channels is None else in_channels
            return positions * n_out * n_in * k / module.groups
        return 0

    def layer_flops(self, module: nn.Module) -> int:
        """MACs of ``module`` from its current channel counts."""
        return self.layer_macs(module)

    def layers(self) -> list[nn.Module]:
        """Every counted layer (conv, linear, attention) seen on the forward pass."""
        return [*self.positions, *self.attention]

    def flops(self) -> int:
        """Total MACs of all recorded layers with their current channel counts."""
        return sum(self.layer_macs(m) for m in self.layers())


def count_params(model: nn.Module) -> int:
    """Number of parameter elements (shared parameters counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


@contextmanager
def _mha_fastpath_off() -> Iterator[None]:
    """Run ``nn.MultiheadAttention`` on its unfused path (its fused eval kernel hides the products from counters)."""
    mha = getattr(torch.backends, "mha", None)
    if mha is None:
        yield
        return
    was = mha.get_fastpath_enabled()
    mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        mha.set_fastpath_enabled(was)


def _sdpa_cpu_flops(query, key, value, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query, key, value)


def _custom_flop_formulas() -> dict:
    """FLOPs of attention kernels ``FlopCounterMode`` has no formula for (the CPU flash kernel)."""
    ops = {}
    op = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    if op is not None:
        ops[op] = _sdpa_cpu_flops
    return ops


def count_macs(model: nn.Module, example_inputs: Any) -> int:
    """MACs of one eval-mode forward of ``model`` on ``example_inputs`` (the definition in the module docstring)."""
    counter = FlopCounterMode(display=False, custom_mapping=_custom_flop_formulas())
    was_training = model.training
    try:
        model.eval()
        with _mha_fastpath_off(), torch.no_grad(), counter:
            run_model(model, example_inputs)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops()) // 2


def count_flops_params(model: nn.Module, example_inputs: Any) -> tuple[int, int]:
    """``(flops, params)`` of ``model`` on ``example_inputs``: MACs (see the module docstring) and parameter elements.

    ``example_inputs`` is a tensor, a tuple of positional inputs or a dict of keyword inputs; its batch
    size multiplies FLOPs, so pass a batch of one for per-image figures.
    """
    return count_macs(model, example_inputs), count_params(model)


def size_report(before: tuple[int, int], after: tuple[int, int]) -> dict[str, float]:
    """The FLOPs/params part of every pruning report: ``(flops, params)`` before and after, and their ratios."""
    (flops_before, params_before), (flops_after, params_after) = before, after
    return {"flops_before": flops_before, "flops_after": flops_after,
            "flops_ratio": flops_after / max(flops_before, 1),
            "params_before": params_before, "params_after": params_after,
            "params_ratio": params_after / max(params_before, 1)}
