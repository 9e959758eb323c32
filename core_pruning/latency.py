"""Measured layer latency: the cost model of latency-aware pruning (``cpmc`` with ``cost="latency"``).

Why: FLOPs are a poor proxy for a pruned CNN's speed on a CPU, where kernels vectorise over blocks of channels
and removing a channel inside a block saves no time (measurements: docs/notes/core_pruning.md).

Reading (NetAdapt, Yang et al. 2018; HALP, Shen et al. 2022): a layer's latency is measured on the
target device as a function of its channel counts (a look-up table filled on demand), and a channel's
cost is the latency that removing it saves. We measure each conv/linear layer alone, with its own
kernel, stride, padding and groups and the input size it sees in the model, on random data of the
deployment batch size; the saving of one channel of a group is the finite difference over a block of
``block`` channels -- ``[T(widths) - T(widths less the block)] / block`` summed over the group's filters
and consumer slices -- because kernels vectorise over channel blocks (a one-channel difference is zero
inside a block and a whole block at its edge). Element-wise layers (BatchNorm, ReLU, adds) are left out.
Times are medians of a few forwards under ``torch.inference_mode()`` on the current thread settings: as
device-specific (and as noisy) as the machine.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from core_pruning.counting import record_forward
from core_pruning.groups import ChannelGroup, Member

#: ``timer(layer, x) -> seconds``: how long ``layer(x)`` takes. Injected in tests; measured by default.
LayerTimer = Callable[[nn.Module, torch.Tensor], float]

_REPLICABLE = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def median_forward_seconds(layer: nn.Module, x: torch.Tensor, repeats: int = 7, warmup: int = 2,
                           clock: Callable[[], float] = time.perf_counter) -> float:
    """Median seconds of ``layer(x)`` on ``clock`` (wall clock by default) over ``repeats`` calls after ``warmup``."""
    times = []
    with torch.inference_mode():
        for _ in range(warmup):
            layer(x)
        for _ in range(repeats):
            start = clock()
            layer(x)
            times.append(clock() - start)
    return statistics.median(times)


def latency_ratio(baseline: nn.Module, candidate: nn.Module, x: torch.Tensor, repeats: int = 15,
                  warmup: int = 3) -> dict[str, float]:
    """Median latency of ``baseline`` and ``candidate`` on ``x`` over ``repeats`` alternating forward passes.

    Returns wall-clock medians (``base_ms``, ``pruned_ms``, ``speedup``) and thread CPU-time medians
    (``base_cpu_ms``, ``pruned_cpu_ms``, ``cpu_speedup``). On a machine shared with other jobs the wall clock
    also counts time spent waiting for a core; with ``torch.set_num_threads(1)`` every op runs on the
    calling thread, so its CPU time is the compute the model itself needs, much less disturbed by others.
    Alternating the two models cancels slow drifts of the load. Both run under ``torch.inference_mode()``,
    as a deployed model does: with autograd recording, every layer also saves its inputs for a backward
    pass that never comes, a per-layer cost that is not the model's latency.
    """
    baseline.eval()
    candidate.eval()
    wall: dict[int, list[float]] = {0: [], 1: []}
    cpu: dict[int, list[float]] = {0: [], 1: []}
    with torch.inference_mode():
        for _ in range(warmup):
            baseline(x)
            candidate(x)
        for _ in range(repeats):
            for key, model in ((0, baseline), (1, candidate)):
                start, start_cpu = time.perf_counter(), time.thread_time()
                model(x)
                cpu[key].append(time.thread_time() - start_cpu)
                wall[key].append(time.perf_counter() - start)
    base, cand = statistics.median(wall[0]), statistics.median(wall[1])
    base_cpu, cand_cpu = statistics.median(cpu[0]), statistics.median(cpu[1])
    return {"base_ms": base * 1e3, "pruned_ms": cand * 1e3, "speedup": base / cand,
            "base_cpu_ms": base_cpu * 1e3, "pruned_cpu_ms": cand_cpu * 1e3, "cpu_speedup": base_cpu / cand_cpu}


def _is_depthwise(module: nn.Module) -> bool:
    return isinstance(module, nn.modules.conv._ConvNd) and module.groups > 1 \
        and module.groups == module.in_channels == module.out_channels


def _replicable(module: nn.Module) -> bool:
    """Layers re-built at other widths: dense or depthwise convs (not transposed) and linear layers."""
    return isinstance(module, _REPLICABLE) and (isinstance(module, nn.Linear) or module.groups == 1
                                                or _is_depthwise(module))


class LatencyModel:
    """Latency of a model's conv/linear layers at any channel counts, measured once per shape and cached.

    ``batch_size`` is the deployment batch (default: the batch of ``example_inputs``). Layers other than
    ``Conv1d/2d/3d`` and ``Linear`` (transposed convs, grouped convs that are not depthwise) are costed by
    their FLOPs share of their measured time at the current widths, i.e. linearly.
    """

    def __init__(self, model: nn.Module, example_inputs: Any, batch_size: int | None = None,
                 timer: LayerTimer | None = None) -> None:
        self.timer = timer or median_forward_seconds
        self.batch_size = batch_size
        self.inputs: dict[nn.Module, tuple[int, ...]] = {}  # layer -> shape of its first input, batch first
        record_forward(model, example_inputs, self._record)
        self._cache: dict[tuple, float] = {}

    def _record(self, module: nn.Module, inputs: tuple, _output: Any) -> None:
        if module not in self.inputs and inputs and isinstance(inputs[0], torch.Tensor):
            self.inputs[module] = tuple(inputs[0].shape)

    def layer_seconds(self, module: nn.Module, in_channels: int | None = None,
                      out_channels: int | None = None) -> float:
        """Seconds ``module`` takes on its input in the model, with the given channel counts (default: current)."""
        shape = self.inputs.get(module)
        if shape is None:
            return 0.0  # never called on the example inputs: costs nothing there
        if not _replicable(module):
            return self.layer_seconds_as_is(module)
        in_c, out_c = _widths(module)
        in_c, out_c = in_channels or in_c, out_channels or out_c
        batch = self.batch_size or shape[0]
        key = (_signature(module), tuple(shape[2:]) if not isinstance(module, nn.Linear) else shape[1:-1],
               batch, in_c, out_c)
        if key not in self._cache:
            layer, x = _replica(module, shape, batch, in_c, out_c)
            self._cache[key] = float(self.timer(layer, x))
        return self._cache[key]

    def channel_costs(self, group: ChannelGroup, block: int = 16) -> torch.Tensor:
        """Seconds saved per root channel of ``group`` when a block of its channels goes (see module docstring)."""
        b = max(1, min(block, group.size // 2))
        saved = 0.0
        for member in group.outputs:
            saved += self._member_saving(member, group.size, b, side="out")
        for member in group.inputs:
            if not _is_depthwise(member.module):  # a depthwise consumer loses its output with the input: counted above
                saved += self._member_saving(member, group.size, b, side="in")
        return torch.full((group.size,), saved / b, dtype=torch.float64)

    def _member_saving(self, member: Member, group_size: int, block: int, side: str) -> float:
        """Seconds ``member`` saves when ``block`` of the group's channels go (its own share of them, k)."""
        module = member.module
        in_c, out_c = _widths(module)
        width = out_c if side == "out" else in_c
        k = min(max(1, round(block * len(member.idxs) / group_size)), width - 1)  # at least one channel stays
        if k <= 0:
            return 0.0
        if not _replicable(module):
            return self.layer_seconds_as_is(module) * k / width
        both = _is_depthwise(module)  # a depthwise conv loses input and output channels together
        new_in = in_c - k if side == "in" or both else in_c
        new_out = out_c - k if side == "out" or both else out_c
        return self.layer_seconds(module) - self.layer_seconds(module, new_in, new_out)

    def layer_seconds_as_is(self, module: nn.Module) -> float:
        """Time of a layer that is not re-built (transposed / grouped conv): measured as it is in the model."""
        shape = self.inputs.get(module)
        if shape is None:
            return 0.0
        in_c, _ = _widths(module)
        key = ("as-is", id(module), _widths(module))
        if key not in self._cache:
            batch = self.batch_size or shape[0]
            size = (batch, *shape[1:-1], in_c) if isinstance(module, nn.Linear) else (batch, in_c, *shape[2:])
            device = next(module.parameters()).device
            was_training = module.training
            module.eval()
            try:
                self._cache[key] = float(self.timer(module, torch.randn(size, device=device)))
            finally:
                module.train(was_training)
        return self._cache[key]


def _widths(module: nn.Module) -> tuple[int, int]:
    if isinstance(module, nn.Linear):
        return module.in_features, module.out_features
    return module.in_channels, module.out_channels


def _signature(module: nn.Module) -> tuple:
    if isinstance(module, nn.Linear):
        return ("linear", module.bias is not None)
    return (type(module).__name__, module.kernel_size, module.stride, module.padding, module.dilation,
            _is_depthwise(module), module.bias is not None, module.padding_mode)


def _replica(module: nn.Module, shape: tuple[int, ...], batch: int, in_c: int,
             out_c: int) -> tuple[nn.Module, torch.Tensor]:
    """A fresh layer like ``module`` with ``in_c``/``out_c`` channels, and a random input of the model's size."""
    device = next(module.parameters()).device
    if isinstance(module, nn.Linear):
        layer = nn.Linear(in_c, out_c, bias=module.bias is not None)
        x = torch.randn(batch, *shape[1:-1], in_c)
    else:
        groups = in_c if _is_depthwise(module) else 1
        layer = type(module)(in_c, out_c, module.kernel_size, stride=module.stride, padding=module.padding,
                             dilation=module.dilation, groups=groups, bias=module.bias is not None,
                             padding_mode=module.padding_mode)
        x = torch.randn(batch, in_c, *shape[2:])
    return layer.to(device).eval(), x.to(device)


__all__ = ["LatencyModel", "LayerTimer", "latency_ratio", "median_forward_seconds"]
