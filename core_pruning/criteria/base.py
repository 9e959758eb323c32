"""Base class of channel-importance criteria and the global normalisations that make layers comparable.

A criterion maps a :class:`~core_pruning.groups.ChannelGroup` to one score per root channel: low means
"remove first". Every criterion is also a Torch-Pruning ``Importance`` (``imp(group) -> Tensor``), so
Torch-Pruning users can pass ours to its pruners, e.g.
``tp.pruner.MetaPruner(model, x, importance=core_pruning.get_criterion("cpmc", example_inputs=x), ...)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from core_pruning import _tp_compat as tpc
from core_pruning.counting import LayerShapes
from core_pruning.groups import ChannelGroup

NORMALIZATIONS = ("none", "layer_mean", "layer_max", "layer_standardize", "global_max", "global_standardize")


@dataclass
class ScoringContext:
    """What a criterion may need beyond weights: layer shapes (for costs) and calibration data."""

    model: nn.Module
    example_inputs: Any
    shapes: LayerShapes | None = None
    calib_batches: list | None = None  # list of (inputs, targets-or-None)
    loss_fn: Any = None

    def layer_shapes(self) -> LayerShapes:
        if self.shapes is None:
            self.shapes = LayerShapes(self.model, self.example_inputs)
        return self.shapes


class Criterion(tpc.Importance):
    """Scores the channels of a group; subclasses implement :meth:`score`.

    ``needs_data``: whether :meth:`prepare` must see calibration batches before scoring.
    """

    name: ClassVar[str] = ""
    needs_data: ClassVar[bool] = False
    default_normalization: ClassVar[str] = "layer_mean"

    def __init__(self, example_inputs: Any = None, normalization: str | None = None) -> None:
        self.example_inputs = example_inputs
        self.normalization = normalization or self.default_normalization
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"unknown normalization {self.normalization!r}; choose from {', '.join(NORMALIZATIONS)}")
        self._ctx: ScoringContext | None = None

    def prepare(self, ctx: ScoringContext) -> None:
        """Gather what scoring needs from the current model (gradients, activation statistics)."""
        self._ctx = ctx

    def score(self, group: ChannelGroup, ctx: ScoringContext) -> torch.Tensor:
        """Raw scores of one group's root channels (higher = more important)."""
        raise NotImplementedError

    def score_all(self, groups: list[ChannelGroup], ctx: ScoringContext) -> list[torch.Tensor]:
        """Scores of every group, normalised so that one global ranking is meaningful."""
        return normalize([self.score(g, ctx) for g in groups], self.normalization)

    # -- Torch-Pruning adapter -------------------------------------------------------------------
    @torch.no_grad()
    def __call__(self, group: tpc.Group, **_: Any) -> torch.Tensor:
        """Torch-Pruning ``Importance`` protocol: one score per channel of ``group``'s root."""
        dg = tpc.graph_of(group)
        if self._ctx is None or self._ctx.model is not dg.model:
            if self.needs_data:
                raise RuntimeError(f"criterion {self.name!r} needs data: call .calibrate(model, data) first")
            self._ctx = ScoringContext(model=dg.model, example_inputs=self.example_inputs)
        cg = ChannelGroup.from_tp_group(group, tpc.module_names(dg))
        scores = self.score(cg, self._ctx).float()
        return normalize([scores], self.normalization)[0]

    def calibrate(self, model: nn.Module, calib_data: Any, loss_fn: Any = None) -> Criterion:
        """Prepare a data-driven criterion for use as a Torch-Pruning importance."""
        from core_pruning.calibration import as_batches

        ctx = ScoringContext(model=model, example_inputs=self.example_inputs, calib_batches=as_batches(calib_data),
                             loss_fn=loss_fn)
        self.prepare(ctx)
        return self


def normalize(scores: list[torch.Tensor], mode: str) -> list[torch.Tensor]:
    """Make scores of different layers comparable before one global ranking.

    ``layer_*`` rescale each group on its own (by its mean, by its max, or to zero mean / unit std);
    ``global_*`` rescale all groups by one network-wide statistic (which keeps each layer's scale);
    ``none`` leaves raw scores. ``layer_standardize`` keeps rankings within a layer but erases
    differences of level between layers.
    """
    eps = 1e-12
    if mode == "none":
        return scores
    if mode == "layer_mean":
        return [s / (s.abs().mean() + eps) for s in scores]
    if mode == "layer_max":
        return [s / (s.abs().max() + eps) for s in scores]
    if mode == "layer_standardize":
        return [(s - s.mean()) / (s.std(unbiased=False) + eps) for s in scores]
    flat = torch.cat([s.flatten() for s in scores]) if scores else torch.zeros(1)
    if mode == "global_max":
        top = flat.abs().max() + eps
        return [s / top for s in scores]
    if mode == "global_standardize":
        mean, std = flat.mean(), flat.std(unbiased=False) + eps
        return [(s - mean) / std for s in scores]
    raise ValueError(f"unknown normalization {mode!r}; choose from {', '.join(NORMALIZATIONS)}")
