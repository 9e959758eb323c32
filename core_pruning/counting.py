"""FLOPs and parameter counting for CNNs.

FLOPs here are multiply-accumulates (MACs) of convolutions (incl. transposed) and linear layers, the
convention of the channel-pruning literature; element-wise ops, normalisation and pooling are not
counted. Parameters are every element of ``model.parameters()``.

Channel pruning never changes spatial sizes, so :class:`LayerShapes` records each layer's output
(or, for transposed convs, input) spatial size once and then recomputes FLOPs analytically from the
layers' current channel counts; the budget loop uses that instead of a forward pass per step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

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
        record_forward(model, example_inputs, self._hook)

    def _hook(self, module: nn.Module, inputs: Sequence[torch.Tensor], output: torch.Tensor) -> None:
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

    def layer_flops(self, module: nn.Module) -> int:
        """MACs of ``module`` from its current channel counts."""
        positions = self.positions.get(module, 0)
        if isinstance(module, nn.Linear):
            return positions * module.in_features * module.out_features
        if isinstance(module, nn.modules.conv._ConvNd):
            per_position = module.in_channels * module.out_channels // module.groups * math.prod(module.kernel_size)
            return positions * per_position
        return 0

    def flops(self) -> int:
        """Total MACs of all recorded layers with their current channel counts."""
        return sum(self.layer_flops(m) for m in self.positions)


def count_params(model: nn.Module) -> int:
    """Number of parameter elements (shared parameters counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def count_flops_params(model: nn.Module, example_inputs: Any) -> tuple[int, int]:
    """``(flops, params)`` of ``model`` on ``example_inputs``: conv/linear MACs and parameter elements.

    ``example_inputs`` is a tensor, a tuple of positional inputs or a dict of keyword inputs; its batch
    size multiplies FLOPs, so pass a batch of one for per-image figures.
    """
    return LayerShapes(model, example_inputs).flops(), count_params(model)


def size_report(before: tuple[int, int], after: tuple[int, int]) -> dict[str, float]:
    """The FLOPs/params part of every pruning report: ``(flops, params)`` before and after, and their ratios."""
    (flops_before, params_before), (flops_after, params_after) = before, after
    return {"flops_before": flops_before, "flops_after": flops_after,
            "flops_ratio": flops_after / max(flops_before, 1),
            "params_before": params_before, "params_after": params_after,
            "params_ratio": params_after / max(params_before, 1)}
