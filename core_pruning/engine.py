"""One-shot channel pruning to a FLOPs, parameter or channel budget: ``core_pruning.prune``.

What: channels are removed in small global steps. Each step re-scores every prunable group with the criterion,
ranks all channels of the network in one list and removes from the bottom until the estimated saving reaches the
step (at most ``step_fraction`` of the original budget), with the tolerance rule of :mod:`core_pruning.selection`.
FLOPs (:func:`core_pruning.counting.count_macs`) are then re-counted, so the first-order estimate's error (two
pruned neighbours share one weight) is corrected on the next step, and the loop stops just under the target.

Why global steps: Torch-Pruning's global mode keeps a channel-*count* ratio; budgets here are FLOPs or parameters.
Per-layer floors (``DEFAULT_MIN_KEPT_FRACTION``, ``min_channels``, ``max_layer_ratio``) keep layers from
collapsing; grouped convolutions and attention heads lose whole units (:mod:`core_pruning.groups`); with
``round_to`` > 1 channels go in blocks that keep every count a multiple.
"""

from __future__ import annotations

import fnmatch
import math
import time
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from core_pruning import _tp_compat as tpc
from core_pruning import custom_layers
from core_pruning.calibration import as_batches
from core_pruning.counting import LayerShapes, count_flops_params, count_macs, count_params, size_report
from core_pruning.criteria import Criterion, ScoringContext, get_criterion
from core_pruning.criteria.zero import ZeroActivation
from core_pruning.errors import UnreachableTarget
from core_pruning.groups import (
    MHA_FNS,
    OUT_FNS,
    WEIGHTED,
    ChannelGroup,
    collect_groups,
    output_layers,
    resolve_layers,
)
from core_pruning.plan import PlanStep, PruningPlan, apply_step, build_graph
from core_pruning.selection import AdditiveSavings, select_global
from prunelab.errors import InputError


@dataclass
class PruneResult:
    """``model``: the pruned model (the same object, edited in place); ``plan``: how to replay it; ``report``."""

    model: nn.Module
    plan: PruningPlan
    report: dict[str, Any] = field(default_factory=dict)


#: How far (a fraction of the original budget) a step may go past the target before a unit is passed over for one
#: that fits (the ``limit`` of :func:`core_pruning.selection.select_global`).
BUDGET_TOLERANCE = 0.01

#: Default per-layer floor: every group keeps at least this fraction of its original channels (at most 90%
#: removed), so that no layer collapses to a channel or two (docs/notes/core_pruning.md).
DEFAULT_MIN_KEPT_FRACTION = 0.1


#: ``round_to`` as given to :func:`prune`: one block size for every group, or layer names / glob patterns
#: mapped to block sizes (first matching key wins; groups no key matches are not rounded).
RoundTo = int | Mapping[str, int]


@dataclass
class Limits:
    """Per-layer bounds honoured in global ranking."""

    min_channels: int = 1
    round_to: RoundTo = 1
    max_layer_ratio: float = 1.0  # largest fraction of a group's original channels that may be removed
    min_kept_fraction: float = 0.0  # smallest fraction of a group's original channels that must stay

    def block(self, layer_names: Iterable[str]) -> int:
        """Block size of the group whose coupled output layers are ``layer_names``.

        A mapping key matches a group when it equals, or glob-matches, the name of one of those layers. Sizes are
        per group because the width at which a kernel gets faster depends on the layer (docs/notes/core_pruning.md).
        """
        if isinstance(self.round_to, int):
            return self.round_to
        names = list(layer_names)
        for pattern, size in self.round_to.items():
            if any(n == pattern or fnmatch.fnmatchcase(n, pattern) for n in names):
                return int(size)
        return 1

    def floor(self, original: int, block: int = 1) -> int:
        floor = max(1, self.min_channels, math.ceil(original * (1.0 - self.max_layer_ratio) - 1e-9),
                    math.ceil(original * self.min_kept_fraction - 1e-9))
        if block > 1 and original >= block:
            floor = math.ceil(floor / block) * block
        return min(floor, original)

    def rounds(self) -> bool:
        sizes = [self.round_to] if isinstance(self.round_to, int) else list(self.round_to.values())
        return any(s > 1 for s in sizes)


def _out_channel_layers(model: nn.Module) -> dict[str, list[int]]:
    return {name: list(range(_out_channels(m))) for name, m in model.named_modules() if isinstance(m, WEIGHTED)}


def _out_channels(m: nn.Module) -> int:
    return m.out_features if isinstance(m, nn.Linear) else m.out_channels


def _total_channels(model: nn.Module) -> int:
    """Output channels of all conv/linear layers: the quantity ``keep_ratio`` / ``pruning_ratio`` budget."""
    return sum(_out_channels(m) for m in model.modules() if isinstance(m, WEIGHTED))


def _channel_keep_fraction(keep_ratio: float | None, pruning_ratio: float | None,
                           channel_ratio: float | None) -> float | None:
    """The fraction of channels to keep from whichever of the three names was given (at most one)."""
    given = [name for name, value in (("keep_ratio", keep_ratio), ("pruning_ratio", pruning_ratio),
                                      ("channel_ratio", channel_ratio)) if value is not None]
    if len(given) > 1:
        raise InputError(f"give one of keep_ratio (fraction of channels kept) or pruning_ratio (fraction removed), "
                         f"not {' and '.join(given)}")
    if channel_ratio is not None:
        warnings.warn("prune(channel_ratio=...) is deprecated: it is the fraction of channels KEPT; use "
                      "keep_ratio=... instead (or pruning_ratio=..., the fraction removed, as in Torch-Pruning)",
                      DeprecationWarning, stacklevel=3)
        return channel_ratio
    if pruning_ratio is not None:
        if isinstance(pruning_ratio, bool) or not isinstance(pruning_ratio, (int, float)) \
                or not 0.0 <= float(pruning_ratio) < 1.0:
            raise InputError(f"{{option}} must be a fraction of channels to remove in [0, 1), got {pruning_ratio!r}",
                             option="pruning_ratio")
        return 1.0 - float(pruning_ratio)
    return keep_ratio


def _validate_targets(target_flops, target_params, keep_ratio, zero: bool) -> tuple[str | None, float]:
    given = {k: v for k, v in (("flops", target_flops), ("params", target_params), ("channels", keep_ratio))
             if v is not None}
    if zero:
        if given:
            raise InputError("criterion 'zero' removes exactly the dead channels; do not give a target")
        return None, 1.0
    if len(given) != 1:
        raise InputError("give exactly one of target_flops, target_params, keep_ratio or pruning_ratio")
    (kind, value), = given.items()
    if not isinstance(value, (int, float)) or not 0.0 < float(value) <= 1.0 or math.isnan(float(value)):
        raise InputError(f"target {kind} must be a fraction to keep in (0, 1], got {value!r}")
    return kind, float(value)


def _dropped_outputs(item: Any) -> list[tuple[nn.Module, list[int]]]:
    """The conv/linear layers a pruned group item took output channels from, with those channels."""
    module, handler = item.dep.target.module, item.dep.handler
    if handler in MHA_FNS:  # the attention's output projection loses the same dims
        return [(module.out_proj, list(item.idxs))]
    if custom_layers.is_custom(module):
        return custom_layers.removed_outputs(module, custom_layers.removes_outputs(handler), item.idxs)
    if handler in OUT_FNS and isinstance(module, WEIGHTED):
        return [(module, list(item.idxs))]
    return []


class _Pruner:
    """Holds the graph, groups and bookkeeping of one ``prune`` call."""

    def __init__(self, model: nn.Module, example_inputs: Any, ignored: list[nn.Module], limits: Limits,
                 unwrapped_parameters: dict[str, int] | None = None) -> None:
        self.model, self.example_inputs, self.limits = model, example_inputs, limits
        self.ignored = [*ignored, *output_layers(model, example_inputs)]
        self.shapes = LayerShapes(model, example_inputs)
        self.dg = build_graph(model, example_inputs, unwrapped_parameters)
        self.unsupported: dict[str, str] = {}  # root layer -> why its group is left whole
        # The analytic count (conv/linear/attention layers) is exact when it equals the measured one (CNNs, ViT):
        # then each step re-counts analytically; otherwise (F.linear or einsum outside layers: Swin, MaxViT)
        # each step runs a counted forward pass (2-3x a plain forward).
        self.analytic_is_exact = self.shapes.flops() == count_macs(model, example_inputs)
        self.index_map = _out_channel_layers(model)  # layer -> original index of each current channel
        self.original_sizes = {name: len(kept) for name, kept in self.index_map.items()}
        self.original_size = {g.root_name: g.size for g in self.groups()}
        self.plan_steps: list[PlanStep] = []

    def groups(self) -> list[ChannelGroup]:
        return collect_groups(self.dg, self.ignored, self.unsupported)

    def block(self, group: ChannelGroup) -> int:
        return self.limits.block([group.root_name, *(m.name for m in group.outputs)])

    def floor(self, group: ChannelGroup) -> int:
        return self.limits.floor(self.original_size.get(group.root_name, group.size), self.block(group))

    def metric(self, kind: str) -> float:
        if kind == "flops":
            if self.analytic_is_exact:
                return float(self.shapes.flops())
            return float(count_macs(self.model, self.example_inputs))
        if kind == "params":
            return float(count_params(self.model))
        return float(_total_channels(self.model))

    def apply(self, step: PlanStep) -> None:
        for tp_group in apply_step(self.model, self.dg, step):
            for item in tp_group.items:
                for module, idxs in _dropped_outputs(item):
                    name = tpc.name_of(self.dg, module) or _name_of(self.model, module)
                    if name not in self.index_map:
                        continue
                    drop = set(idxs)
                    self.index_map[name] = [o for i, o in enumerate(self.index_map[name]) if i not in drop]
        self.plan_steps.append(step)

    def select(self, groups: list[ChannelGroup], scores: list[torch.Tensor], costs: list[torch.Tensor],
               need: float, limit: float = math.inf) -> dict[int, list[int]]:
        """Lowest-scored channels network-wide until their cost reaches ``need``, within per-layer floors.

        The tolerance rule of :mod:`core_pruning.selection` with first-order costs: ``limit`` is the most this step
        may save without going past the target by more than ``BUDGET_TOLERANCE``. Groups with ``channel_groups``
        G > 1 are ranked by unit (the mean score and summed cost of a unit's G channels) and lose whole units.
        With ``round_to`` > 1 see :meth:`_select_blocks`.
        """
        units = [_UnitView.of(self, g, s, c) for g, s, c in zip(groups, scores, costs)]
        u_scores, u_costs = [u.scores for u in units], [u.costs for u in units]
        if self.limits.rounds():
            chosen = self._select_blocks(units, u_scores, u_costs, need, limit)
        else:
            chosen = self._select_channels(units, u_scores, u_costs, need, limit)
        return {gi: units[gi].expand(picked) for gi, picked in chosen.items()}

    def _select_channels(self, groups: list, scores: list[torch.Tensor], costs: list[torch.Tensor],
                         need: float, limit: float = math.inf) -> dict[int, list[int]]:
        """Channel-wise (or unit-wise) global selection; a unit that does not fit is passed over."""
        flat = torch.cat([s.double() for s in scores])
        owner = torch.cat([torch.full((g.size,), i) for i, g in enumerate(groups)])
        channel = torch.cat([torch.arange(g.size) for g in groups])
        order = torch.argsort(flat, stable=True).tolist()
        ranked = ((int(owner[pos]), int(channel[pos])) for pos in order)
        savings = AdditiveSavings(lambda gi, ch: float(costs[gi][ch]))
        return select_global(ranked, [g.size - g.floor for g in groups], savings, need, limit)

    def _select_blocks(self, groups: list[ChannelGroup], scores: list[torch.Tensor], costs: list[torch.Tensor],
                       need: float, limit: float) -> dict[int, list[int]]:
        """Selection in whole blocks, so every kept count is a multiple of ``round_to``.

        Each group's channels, lowest score first, are cut into removal blocks: first the ``size % round_to``
        lowest (what makes the kept count a multiple), then ``round_to`` at a time, never below the floor. A
        block ranks by the score of its highest channel (it goes when all of its channels would), all blocks
        of the network in one list, and a group's blocks go in order (a passed-over block passes over the later
        ones: taking them alone would break the multiple). Why not round after a channel-wise selection: it
        removes channels past the target (docs/notes/core_pruning.md).
        """
        blocks: list[tuple[float, int, tuple[int, ...], float]] = []  # (rank key, group, channels, cost)
        for gi, g in enumerate(groups):
            r = g.block if isinstance(g, _UnitView) else self.block(g)
            order = torch.argsort(scores[gi], stable=True).tolist()
            removable = g.size - (g.floor if isinstance(g, _UnitView) else self.floor(g))
            start, stop = 0, g.size % r or r
            while stop <= removable:
                block = tuple(order[start:stop])
                blocks.append((float(scores[gi][block[-1]]), gi, block, float(costs[gi][list(block)].sum())))
                start, stop = stop, stop + r
        blocks.sort(key=lambda b: b[0])
        cost = {(gi, block): c for _, gi, block, c in blocks}
        savings = AdditiveSavings(lambda gi, block: cost[(gi, block)])
        chosen = select_global(((gi, block) for _, gi, block, _ in blocks), [math.inf] * len(groups), savings, need,
                               limit, in_order=True)
        return {gi: [c for block in picked for c in block] for gi, picked in chosen.items()}


@dataclass
class _UnitView:
    """A group seen as its removable units (channels, or for G > 1 the units of :class:`ChannelGroup`)."""

    group: ChannelGroup
    size: int  # units
    floor: int  # units that must stay
    block: int  # units per rounding block
    scores: torch.Tensor
    costs: torch.Tensor

    @classmethod
    def of(cls, pruner: _Pruner, g: ChannelGroup, scores: torch.Tensor, costs: torch.Tensor) -> _UnitView:
        k, block = g.channel_groups, pruner.block(g)
        if k == 1:
            return cls(g, g.size, pruner.floor(g), block, scores, costs)
        return cls(g, g.units, math.ceil(pruner.floor(g) / k), max(1, block // math.gcd(block, k)),
                   scores.double().view(k, -1).mean(0), costs.double().view(k, -1).sum(0))

    def expand(self, picked: list[int]) -> list[int]:
        if self.group.channel_groups == 1:
            return picked
        return sorted(c for u in picked for c in self.group.unit_channels(u))


def _name_of(model: nn.Module, module: nn.Module) -> str:
    return next((n for n, m in model.named_modules() if m is module), "?")


def prune(
    model: nn.Module,
    example_inputs: Any,
    criterion: str | Criterion = "cpmc",
    target_flops: float | None = None,
    target_params: float | None = None,
    channel_ratio: float | None = None,
    calib_data: Any = None,
    ignored_layers: Iterable[nn.Module | str] | None = None,
    *,
    min_channels: int = 1,
    round_to: RoundTo = 1,
    max_layer_ratio: float = 1.0,
    min_kept_fraction: float | None = None,
    step_fraction: float = 0.05,
    loss_fn: Any = None,
    progress: bool = False,
    keep_ratio: float | None = None,
    pruning_ratio: float | None = None,
    unwrapped_parameters: Mapping[str, int] | None = None,
    **criterion_options: Any,
) -> PruneResult:
    """Prune ``model`` in place to a budget and return the model, a replayable plan and a report.

    Budgets (give exactly one): ``target_flops`` (fraction of the MACs to keep), ``target_params`` (fraction of the
    parameter elements to keep), ``keep_ratio`` (fraction of the output channels of all conv/linear layers to keep)
    or ``pruning_ratio`` (fraction of those channels to remove: Torch-Pruning's ``pruning_ratio``, so
    ``pruning_ratio=0.3`` is ``keep_ratio=0.7``). ``channel_ratio`` is the deprecated name of ``keep_ratio`` (it
    warns). Criterion ``"zero"`` takes no budget: it removes every channel that is zero on all of ``calib_data``.

    Per-layer limits hold in the global ranking: at least ``min_channels`` (>= 1) channels per group,
    kept counts a multiple of ``round_to`` (an int, or a mapping of layer names / glob patterns to block sizes
    for per-layer rounding: ``{"layer1.*": 1, "*": 16}``), and at most ``max_layer_ratio`` of a group's original
    channels removed, and at least ``min_kept_fraction`` of them kept (default ``DEFAULT_MIN_KEPT_FRACTION`` = 0.1
    for budgets, so that no layer collapses; 0 for ``"zero"``, which removes every dead channel; 0 gives the floor of
    ``min_channels`` alone). The report's ``narrowest_layers``
    lists the layers left with the smallest fraction of their channels, ``unsupported`` the groups left whole
    and why. ``ignored_layers`` (modules, names or glob patterns) are never pruned; groups
    reaching the model output (e.g. the classifier) are always kept whole. ``calib_data`` (a tensor, a
    ``(inputs, targets)`` pair or an iterable of batches) feeds data-driven criteria (``zero``, ``taylor``).
    ``unwrapped_parameters`` (``{parameter name: channel dimension}``, Torch-Pruning's option of that name) names
    loose parameters whose channels are not on their last non-singleton dimension; without it such a parameter
    leaves its group whole (listed in ``unsupported``). The plan records it, so replay traces the same way.
    """
    crit = get_criterion(criterion, example_inputs=example_inputs, **criterion_options) if isinstance(criterion, str) \
        else criterion
    is_zero = isinstance(crit, ZeroActivation)
    keep_ratio = _channel_keep_fraction(keep_ratio, pruning_ratio, channel_ratio)
    kind, fraction = _validate_targets(target_flops, target_params, keep_ratio, is_zero)
    round_to = _validated_round_to(round_to)
    if min_kept_fraction is None:
        min_kept_fraction = 0.0 if is_zero else DEFAULT_MIN_KEPT_FRACTION
    if min_channels < 1 or not 0.0 < max_layer_ratio <= 1.0 or not 0.0 < step_fraction <= 1.0 \
            or not isinstance(min_kept_fraction, (int, float)) or not 0.0 <= min_kept_fraction <= 1.0:
        raise InputError("need min_channels >= 1, 0 < max_layer_ratio <= 1, 0 <= min_kept_fraction <= 1, "
                         "0 < step_fraction <= 1")
    try:
        ignored = resolve_layers(model, ignored_layers)
    except KeyError as exc:
        raise InputError(exc.args[0]) from exc
    batches = as_batches(calib_data)
    if crit.needs_data and not batches:
        raise InputError(f"criterion {crit.name!r} needs calibration data (calib_data=...)")

    start = time.perf_counter()
    flops_before, params_before = count_flops_params(model, example_inputs)
    channels_before = _total_channels(model)
    unwrapped = {str(k): v for k, v in (unwrapped_parameters or {}).items()}
    pruner = _Pruner(model, example_inputs, ignored,
                     Limits(min_channels, round_to, max_layer_ratio, float(min_kept_fraction)), unwrapped)
    ctx = ScoringContext(model=model, example_inputs=example_inputs, shapes=pruner.shapes, calib_batches=batches,
                         loss_fn=loss_fn)
    if is_zero:
        _prune_zero_channels(pruner, crit, ctx)
    else:
        _prune_to_budget(pruner, crit, ctx, kind, fraction, step_fraction, progress)
    model.zero_grad(set_to_none=True)

    flops_after, params_after = count_flops_params(model, example_inputs)
    channels_after = _total_channels(model)
    original = pruner.original_sizes
    removed = {name: sorted(set(range(original[name])) - set(kept)) for name, kept in pruner.index_map.items()
               if len(kept) < original[name]}
    plan = PruningPlan(steps=pruner.plan_steps, criterion=crit.name, options=_json_options(criterion_options),
                       target={"kind": kind, "fraction": fraction} if kind else {}, model_class=type(model).__name__,
                        unwrapped_parameters=unwrapped)
    report = {
        "criterion": crit.name,
        "target": plan.target,
        **size_report((flops_before, params_before), (flops_after, params_after)),
        "channels_before": channels_before,
        "channels_after": channels_after,
        "removed": removed,
        "removed_per_layer": {name: len(idxs) for name, idxs in removed.items()},
        "narrowest_layers": _narrowest(pruner),
        "unsupported": dict(pruner.unsupported),
        "folded_constant_channels": sum(len(s.folds) for s in pruner.plan_steps),
        "steps": len(pruner.plan_steps),
        "seconds": time.perf_counter() - start,
    }
    return PruneResult(model=model, plan=plan, report=report)


def _narrowest(pruner: _Pruner, count: int = 5) -> list[dict[str, Any]]:
    """The ``count`` conv/linear layers left with the smallest fraction of their channels (pruned ones only)."""
    rows = [{"layer": name, "kept": len(kept), "of": pruner.original_sizes[name],
             "fraction": len(kept) / pruner.original_sizes[name]}
            for name, kept in pruner.index_map.items() if len(kept) < pruner.original_sizes[name]]
    return sorted(rows, key=lambda r: (r["fraction"], r["layer"]))[:count]


def _validated_round_to(round_to: Any) -> RoundTo:
    sizes = [round_to] if not isinstance(round_to, Mapping) else list(round_to.values())
    if not sizes or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes):
        raise InputError(f"round_to must be an int >= 1 or a mapping of layer patterns to ints >= 1, got {round_to!r}")
    return round_to if isinstance(round_to, int) else {str(k): int(v) for k, v in round_to.items()}


def _json_options(options: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if isinstance(v, (str, int, float, bool, type(None)))}


def _prune_zero_channels(pruner: _Pruner, crit: ZeroActivation, ctx: ScoringContext) -> None:
    crit.prepare(ctx)
    step = PlanStep()
    for group in pruner.groups():
        finding = crit.find(group)
        removable = sorted(set(finding.dead) | set(finding.constant))
        keep_at_least = pruner.floor(group)
        if group.channel_groups > 1:  # only whole units: every conv group / head keeps the same width
            dead = set(removable)
            units = [u for u in range(group.units) if set(group.unit_channels(u)) <= dead]
            units = units[: (group.size - keep_at_least) // group.channel_groups]
            removable = sorted(c for u in units for c in group.unit_channels(u))
        elif len(removable) > group.size - keep_at_least:  # whole group dead: keep the first ones, still lossless
            removable = removable[: group.size - keep_at_least]
        if not removable:
            continue
        for r in removable:
            for member, local, value in finding.constant.get(r, []):
                step.folds.append({"layer": member.name, "channel": local, "value": value})
        step.prunes.append({"layer": group.root_name, "idxs": removable})
    if step.prunes:
        pruner.apply(step)


def _prune_to_budget(pruner: _Pruner, crit: Criterion, ctx: ScoringContext, kind: str, fraction: float,
                     step_fraction: float, progress: bool) -> None:
    base = pruner.metric(kind)
    target = fraction * base
    bar = tqdm(total=max(base - target, 0.0), disable=not progress, desc=f"pruning to {fraction:.0%} {kind}")
    current = base
    while current > target:
        groups = pruner.groups()
        crit.prepare(ctx)
        scores = crit.score_all(groups, ctx)
        pruner.model.zero_grad(set_to_none=True)
        if kind == "channels":  # every coupled conv/linear layer loses the channel
            costs = [sum((m.scatter(torch.ones(len(m.idxs)), g.size) for m in g.outputs),
                         torch.zeros(g.size, dtype=torch.float64)) for g in groups]
        else:
            costs = [g.channel_costs(pruner.shapes)[0 if kind == "flops" else 1] for g in groups]
        need = min(current - target, step_fraction * base)
        chosen = pruner.select(groups, scores, costs, need, limit=current - target + BUDGET_TOLERANCE * base)
        if not chosen:
            raise UnreachableTarget(f"cannot reach {fraction:.1%} of the original {kind}: the per-layer floors stop at "
                             f"{current / base:.1%}")
        pruner.apply(PlanStep(prunes=[{"layer": groups[gi].root_name, "idxs": sorted(idxs)}
                                      for gi, idxs in chosen.items()]))
        new = pruner.metric(kind)
        bar.update(current - new)
        current = new
    bar.close()
