"""Replayable pruning plans and the save/load recipe for pruned models.

A :class:`PruningPlan` is the exact sequence of physical edits ``prune`` made: per step, constant
channels folded into consumer biases (zero criterion only), then groups pruned by root layer name and
channel indices *as numbered at that step*. Replaying it with :func:`apply_plan` on a fresh instance of
the same architecture gives identical shapes and, with the same weights, identical outputs.

Saving a pruned model (recipe): ``save_pruned(model, plan, "model.pt")`` writes the plan and the
state dict in one file; ``load_pruned(build_base(), "model.pt", example_inputs)`` rebuilds the base
architecture, replays the plan and loads the weights — with ``torch.load(weights_only=True)``, so no
pickled code is ever executed.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core_pruning import _tp_compat as tpc
from core_pruning.custom_layers import keep_query_scale
from prunelab.errors import InputError
from prunelab.io import atomic_save, atomic_write_text

PLAN_FORMAT = "prunelab-plan/1"


class PlanMismatch(InputError):
    """The plan does not fit the model it is applied to (wrong architecture or already pruned)."""


@dataclass
class PlanStep:
    """Edits applied together: ``folds`` first, then ``prunes``; indices are those current at this step."""

    prunes: list[dict[str, Any]] = field(default_factory=list)  # {"layer": root name, "idxs": [...]}
    folds: list[dict[str, Any]] = field(default_factory=list)  # {"layer": consumer, "channel": i, "value": v}


@dataclass
class PruningPlan:
    steps: list[PlanStep] = field(default_factory=list)
    criterion: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    target: dict[str, Any] = field(default_factory=dict)
    model_class: str = ""
    #: loose parameters (qualified name -> channel dimension) given to ``prune``; replay traces with the same
    unwrapped_parameters: dict[str, int] = field(default_factory=dict)

    @property
    def num_removed(self) -> int:
        return sum(len(p["idxs"]) for step in self.steps for p in step.prunes)

    def to_dict(self) -> dict[str, Any]:
        return {"format": PLAN_FORMAT, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PruningPlan:
        if not isinstance(data, dict):
            raise PlanMismatch(f"not a prunelab plan (a JSON {type(data).__name__}, expected an object)")
        if data.get("format") != PLAN_FORMAT:
            raise PlanMismatch(f"not a prunelab plan (format {data.get('format')!r}, expected {PLAN_FORMAT!r})")
        try:
            steps = [PlanStep(prunes=list(s.get("prunes", [])), folds=list(s.get("folds", []))) for s in data["steps"]]
        except (KeyError, TypeError, AttributeError) as exc:
            raise PlanMismatch(f"malformed plan: {exc}") from exc
        return cls(steps=steps, criterion=data.get("criterion", ""), options=data.get("options", {}),
                   target=data.get("target", {}), model_class=data.get("model_class", ""),
                   unwrapped_parameters=_unwrapped_from_json(data.get("unwrapped_parameters", {})))

    def save(self, path: str | Path) -> Path:
        return atomic_write_text(json.dumps(self.to_dict(), indent=1), path)

    @classmethod
    def load(cls, path: str | Path) -> PruningPlan:
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PlanMismatch(f"cannot read plan {path}: {exc}") from exc
        return cls.from_dict(data)


def _unwrapped_from_json(data: Any) -> dict[str, int]:
    if not isinstance(data, dict) or not all(isinstance(k, str) and type(v) is int for k, v in data.items()):
        raise PlanMismatch(f"malformed plan: unwrapped_parameters must map parameter names to dimensions, got {data!r}")
    return dict(data)


def loose_parameters(model: nn.Module, dims: Mapping[str, int] | None) -> list[tuple[nn.Parameter, int]]:
    """``{parameter name: channel dimension}`` as the ``(parameter, dimension)`` pairs Torch-Pruning takes.

    For a loose ``nn.Parameter`` (used outside any layer, e.g. ``x * self.scale``) whose channels are not on its last
    non-singleton dimension, which Torch-Pruning assumes: e.g. a ``(C, 2)`` scale-and-shift table is ``{"affine": 0}``.
    """
    pairs = []
    for name, dim in (dims or {}).items():
        try:
            param = model.get_parameter(name)
        except AttributeError:
            raise InputError(f"unwrapped_parameters: the model has no parameter {name!r}") from None
        if isinstance(dim, bool) or not isinstance(dim, int) or not -param.dim() <= dim < param.dim():
            raise InputError(f"unwrapped_parameters: {name} {tuple(param.shape)} has no dimension {dim!r}")
        pairs.append((param, dim % param.dim()))
    return pairs


def build_graph(model: nn.Module, example_inputs: Any,
                unwrapped_parameters: Mapping[str, int] | None = None) -> tpc.DependencyGraph:
    """Trace ``model`` in eval mode (so BatchNorm statistics are not touched) with gradients enabled.

    ``unwrapped_parameters``: see :func:`loose_parameters`.

    A model Torch-Pruning's tracer cannot map is a one-line ``InputError`` ``unsupported: <layer> (<why>)`` (before
    :mod:`core_pruning.custom_layers`, torchvision's ShuffleNetV2 divided by zero in its reshape index mapping and
    Swin-S/B met a ``None`` size).
    """
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Unwrapped parameters detected")
            return tpc.build_graph(model, example_inputs, loose_parameters(model, unwrapped_parameters))
    except (ZeroDivisionError, IndexError, KeyError, ValueError, AssertionError, TypeError) as exc:
        raise InputError(f"unsupported: {_failing_layer(model, exc)} (Torch-Pruning cannot trace its channels: "
                         f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no message'})") from exc
    finally:
        model.train(was_training)


def _failing_layer(model: nn.Module, exc: BaseException) -> str:
    """Best guess at the layer a tracer failure happened at: the graph node being mapped, named by its module."""
    tb = exc.__traceback__
    node = None
    while tb is not None:
        for key in tpc.TRACER_NODE_LOCALS:
            if key in tb.tb_frame.f_locals:
                node = tb.tb_frame.f_locals[key]
        tb = tb.tb_next
    if node is None:
        return type(model).__name__
    names = {m: n for n, m in model.named_modules()}
    kind = "a reshape of the channel dimension (e.g. a channel shuffle)" if "Reshape" in str(node) else str(node)
    seen, frontier = set(), [node]
    while frontier:  # nearest named layer upstream of the node
        current = frontier.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        name = names.get(getattr(current, "module", None)) if current is not node else None
        if name:
            return f"{kind} after {name}"
        frontier.extend(getattr(current, "inputs", []))
    return kind


def sync_attributes(model: nn.Module) -> None:
    """Update attributes that forward passes read and channel removal does not change.

    torchvision's ``VisionTransformer`` reshapes the patch embedding with ``self.hidden_dim``: after its
    embedding dims are pruned it must be the patch projection's new width (Torch-Pruning's ViT recipe does the same).
    """
    for module in model.modules():
        conv_proj = getattr(module, "conv_proj", None)
        if hasattr(module, "hidden_dim") and isinstance(conv_proj, nn.Conv2d):
            module.hidden_dim = conv_proj.out_channels


def _module(model: nn.Module, name: str) -> nn.Module:
    try:
        return model.get_submodule(name)
    except AttributeError as exc:
        raise PlanMismatch(f"plan names layer {name!r}, which this model does not have") from exc


def prune_root(dg: tpc.DependencyGraph, root: nn.Module, idxs: list[int]) -> tpc.Group:
    """Physically remove output channels ``idxs`` of ``root`` and everything coupled to them."""
    pruner = dg.get_pruner_of_module(root)
    if pruner is None:
        raise PlanMismatch(f"layer {tpc.name_of(dg, root, root)} cannot be pruned")
    n = pruner.get_out_channels(root)
    if any(i < 0 or i >= n for i in idxs) or len(set(idxs)) != len(idxs) or len(idxs) >= n:
        raise PlanMismatch(f"invalid channel indices for {tpc.name_of(dg, root)} with {n} channels")
    group = dg.get_pruning_group(root, pruner.prune_out_channels, sorted(idxs))
    heads = {item.dep.target.module: item.dep.target.module.embed_dim for item in group.items
             if isinstance(item.dep.target.module, nn.MultiheadAttention)}
    group.prune()
    for attention, width in heads.items():  # keep its logits: see custom_layers.keep_query_scale
        weight = attention.in_proj_weight if attention.in_proj_weight is not None else attention.q_proj_weight
        keep_query_scale(weight, attention.in_proj_bias, attention.embed_dim, width)
    return group


def apply_step(model: nn.Module, dg: tpc.DependencyGraph, step: PlanStep) -> list[tpc.Group]:
    from core_pruning.criteria.zero import fold_constant_input

    with tpc.frozen_kept(model):
        for fold in step.folds:
            fold_constant_input(_module(model, fold["layer"]), int(fold["channel"]), float(fold["value"]))
        groups = [prune_root(dg, _module(model, p["layer"]), list(p["idxs"])) for p in step.prunes]
        sync_attributes(model)
    return groups


def apply_plan(model: nn.Module, plan: PruningPlan | str | Path, example_inputs: Any) -> nn.Module:
    """Replay ``plan`` on ``model`` (a fresh, unpruned instance of the planned architecture), in place."""
    if not isinstance(plan, PruningPlan):
        plan = PruningPlan.load(plan)
    if plan.model_class and plan.model_class != type(model).__name__:
        raise PlanMismatch(f"plan was made for {plan.model_class}, not {type(model).__name__}")
    dg = build_graph(model, example_inputs, plan.unwrapped_parameters)
    for step in plan.steps:
        apply_step(model, dg, step)
    return model


def save_pruned(model: nn.Module, plan: PruningPlan, path: str | Path) -> Path:
    """Write plan + weights of a pruned model to one file (atomically)."""
    payload = {"format": PLAN_FORMAT, "plan": json.dumps(plan.to_dict()), "state_dict": model.state_dict()}
    return atomic_save(payload, path)


def load_pruned(base_model: nn.Module, path: str | Path, example_inputs: Any) -> nn.Module:
    """Rebuild a model saved by :func:`save_pruned` from a fresh ``base_model`` of the same architecture."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # corrupt or non-checkpoint file
        raise InputError(f"cannot read pruned model {path}: {str(exc).splitlines()[0]}") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != PLAN_FORMAT:
        raise PlanMismatch(f"{path} is not a prunelab pruned-model file")
    apply_plan(base_model, PruningPlan.from_dict(json.loads(ckpt["plan"])), example_inputs)
    base_model.load_state_dict(ckpt["state_dict"])
    return base_model
