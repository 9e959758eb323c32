"""Score every prunable channel group of a model with several criteria at once (the input of all analyses).

Two score sets are kept per criterion, because the two questions an analysis asks need different ones:

- ``raw``: the criterion's own per-channel score with ``normalization="none"``. Layer-wise statistics
  (rank correlations, layer-wise removal sets, coefficient of variation) are read from it, so they
  describe the criterion itself and not a rescaling;
- ``ranked``: the scores exactly as :func:`core_pruning.prune` ranks them network-wide (the criterion's
  configured normalisation, e.g. ``layer_mean``). Global-pruning statistics are read from it.

Groups are found as the engine finds them (:func:`~core_pruning.groups.collect_groups` over
Torch-Pruning's dependency graph; the classifier and ``ignored_layers`` excluded), so an analysis
speaks about the channels ``prune`` would actually rank.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch import nn

from core_pruning.calibration import as_batches
from core_pruning.counting import LayerShapes
from core_pruning.criteria import ScoringContext, get_criterion
from core_pruning.groups import collect_groups, output_layers, resolve_layers
from core_pruning.plan import build_graph
from prunelab.errors import InputError


@dataclass
class CriteriaScores:
    """Per-group score vectors of several criteria over the same groups (``layers[i]`` is group i's root)."""

    layers: list[str]
    sizes: list[int]
    raw: dict[str, list[np.ndarray]] = field(default_factory=dict)
    ranked: dict[str, list[np.ndarray]] = field(default_factory=dict)

    @property
    def criteria(self) -> list[str]:
        return list(self.raw)


def score_criteria(
    model: nn.Module,
    example_inputs: Any,
    criteria: Sequence[str],
    *,
    calib_data: Any = None,
    loss_fn: Any = None,
    ignored_layers: Iterable[nn.Module | str] | None = None,
    criterion_options: Mapping[str, Mapping[str, Any]] | None = None,
) -> CriteriaScores:
    """Score ``model``'s prunable groups with each of ``criteria`` (names from :data:`core_pruning.CRITERIA`).

    ``criterion_options`` maps a criterion name to its options (e.g. ``{"cpmc": {"flops_weight": 0}}``).
    Data-driven criteria (``taylor``, ``zero``) need ``calib_data``. The model is not modified (gradients
    a criterion computes are cleared again).
    """
    names = list(criteria)
    if not names:
        raise InputError("give at least one criterion to analyse")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(f"criterion {duplicates[0]!r} given twice")
    options = dict(criterion_options or {})
    unknown_options = sorted(set(options) - set(names))
    if unknown_options:
        raise InputError(f"options given for {unknown_options[0]!r}, which is not among the criteria analysed")
    try:
        ignored = resolve_layers(model, ignored_layers)
    except KeyError as exc:
        raise InputError(exc.args[0]) from exc
    ignored += output_layers(model, example_inputs)
    groups = collect_groups(build_graph(model, example_inputs), ignored)
    if not groups:
        raise InputError("the model has no prunable channel groups (nothing to analyse)")
    batches = as_batches(calib_data)
    ctx = ScoringContext(model=model, example_inputs=example_inputs, shapes=LayerShapes(model, example_inputs),
                         calib_batches=batches, loss_fn=loss_fn)
    result = CriteriaScores(layers=[g.root_name for g in groups], sizes=[g.size for g in groups])
    for name in names:
        opts = dict(options.get(name, {}))
        ranked_crit = get_criterion(name, example_inputs=example_inputs, **opts)
        raw_crit = get_criterion(name, example_inputs=example_inputs, **{**opts, "normalization": "none"})
        if ranked_crit.needs_data and not batches:
            raise InputError(f"criterion {name!r} needs calibration data (calib_data=...)")
        try:
            for key, crit in (("raw", raw_crit), ("ranked", ranked_crit)):
                crit.prepare(ctx)
                vectors = [s.detach().double().cpu().numpy() for s in crit.score_all(groups, ctx)]
                getattr(result, key)[name] = vectors
        finally:
            model.zero_grad(set_to_none=True)
    return result
