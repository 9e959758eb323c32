"""Load the model a command works on, from a name or a checkpoint file, without ever running pickled code.

``--model`` accepts (the safe recipe, also in docs/core_pruning.md):

- a **name**: ``resnet20``, ``resnet56``, ``vgg_small`` or ``torchvision:<arch>`` (random weights), built by
  :func:`core_pruning.models.build_model`;
- a **pruned-model file** written by ``prune`` (``save_pruned`` format: the plan and the state dict). The
  unpruned base architecture is rebuilt from the model card ``<file>.json`` written beside it (or from
  ``--arch``), the plan is replayed and the weights loaded: ``load_pruned(build_base(), file, x)``.
  A directory holding ``model.pt`` (a ``prune`` output folder) works too;
- a **whole-module checkpoint** (``torch.save(model)``): unpickled with ``torch.load(weights_only=True)``
  allowing only the ``nn.Module`` classes of ``torch.nn``, ``torchvision`` and ``core_pruning.models``.
  Any other class in the file is refused by name, so a checkpoint can never execute code;
- a **state dict** (``torch.save(model.state_dict())``, also under a ``"state_dict"`` or ``"model"`` key)
  together with ``--arch NAME`` to build the architecture it belongs to.

The card ``<file>.json`` records how to rebuild the unpruned base (``{"arch", "num_classes", "in_channels"}``,
or a whole-module file with its SHA-256) and the input size, so a pruned model can be pruned again or
analysed without repeating the options.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core_pruning.models import build_model
from core_pruning.plan import PLAN_FORMAT, PruningPlan, load_pruned
from prunelab.errors import InputError, clean_message

CARD_FORMAT = "prunelab-model/1"
TRUSTED_PREFIXES = ("torch.nn.", "torchvision.", "core_pruning.models")
MAX_INPUT_ELEMENTS = 3 * 2048 * 2048  # as --input-size


@dataclass
class LoadedModel:
    """A model ready to prune or analyse, and what is needed to save it so that it loads back."""

    model: nn.Module
    base: dict[str, Any]  # how to rebuild the unpruned base architecture (written into the card)
    input_size: tuple[int, ...]
    plan: PruningPlan | None = None  # edits already applied to the base (pruned-model files)
    kind: str = "named"  # named | pruned | module | state_dict
    notes: list[str] = field(default_factory=list)


@functools.cache
def trusted_classes() -> tuple[type, ...]:
    """Every ``nn.Module`` subclass defined by torch.nn, torchvision or core_pruning.models."""
    import torchvision.models  # noqa: F401  (defines the classes)

    found: set[type] = set()
    stack = [nn.Module]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                stack.append(sub)
    return tuple(sorted((c for c in found if c.__module__.startswith(TRUSTED_PREFIXES)),
                        key=lambda c: f"{c.__module__}.{c.__qualname__}"))


def safe_load(path: Path) -> Any:
    """``torch.load(weights_only=True)`` with the trusted module classes allowed; one-line errors otherwise."""
    try:
        with torch.serialization.safe_globals(list(trusted_classes())):
            return torch.load(path, map_location="cpu", weights_only=True)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except pickle.UnpicklingError as exc:
        found = re.search(r"(?:Unsupported global: GLOBAL|unsupported GLOBAL) ([\w.]+)", str(exc))
        if found:
            raise InputError(f"{path} needs class {found.group(1)}, which is not trusted: only torch.nn, "
                             "torchvision and core_pruning.models classes are unpickled; save a state dict and "
                             "pass --arch") from None
        reason = clean_message(str(exc).split("WeightsUnpickler error:", 1)[-1], 240) or type(exc).__name__
        raise InputError(f"cannot read {path}: not a PyTorch checkpoint, or a corrupt one ({reason})") from None
    except MemoryError:
        raise InputError(f"cannot read {path}: it needs more memory than there is (corrupt or far too large)") \
            from None
    except Exception as exc:  # corrupt zip, truncated file, not a torch file at all
        raise InputError(f"cannot read {path}: not a PyTorch checkpoint, or a corrupt one ({_first_line(exc)})") \
            from None


def _first_line(exc: BaseException | str, limit: int = 240) -> str:
    """The message on one line (PyTorch's are multi-line, with advice to weaken ``weights_only``, which is
    dropped), shortened to ``limit`` characters."""
    text = clean_message(str(exc), limit)
    return text or (type(exc).__name__ if isinstance(exc, BaseException) else "unknown error")


def default_input_size(name: str) -> tuple[int, ...]:
    return (3, 224, 224) if name.startswith("torchvision:") else (3, 32, 32)


def build_named(name: str, num_classes: int | None, input_size: tuple[int, ...]) -> tuple[nn.Module, dict[str, Any]]:
    classes = num_classes if num_classes is not None else (1000 if name.startswith("torchvision:") else 10)
    if classes < 1:
        raise InputError(f"--num-classes must be >= 1, got {classes}")
    in_channels = input_size[0]
    if name.startswith("torchvision:") and in_channels != 3:
        raise InputError(f"torchvision models take 3 input channels, not {in_channels} (--input-size)")
    model = build_model(name, num_classes=classes, in_channels=in_channels)
    return model.eval(), {"arch": name, "num_classes": classes, "in_channels": in_channels}


def card_path(model_file: Path) -> Path:
    return model_file.with_suffix(".json")


def read_card(model_file: Path) -> dict[str, Any] | None:
    """The model card beside ``model_file`` (``None`` when there is none), checked key by key."""
    path = card_path(model_file)
    if not path.is_file():
        return None
    try:
        card = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InputError(f"cannot read model card {path}: {_first_line(exc)}") from None
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise InputError(f"{path} is not a prunelab model card")
    validate_card(card, path)
    return card


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def validate_card(card: dict[str, Any], path: Path) -> None:
    """Check the keys :func:`load_model` reads from a card; :class:`InputError` naming the missing or bad one."""
    for key in ("base", "input_size"):
        if key not in card:
            raise InputError(f"model card {path} lacks key '{key}'")
    size = card["input_size"]
    if not (isinstance(size, list) and len(size) == 3 and all(_positive_int(v) for v in size)
            and math.prod(size) <= MAX_INPUT_ELEMENTS):
        raise InputError(f"model card {path}: 'input_size' must be three positive integers [C, H, W] "
                         f"(at most 3x2048x2048), got {json.dumps(size)[:80]}")
    base = card["base"]
    if not isinstance(base, dict):
        raise InputError(f"model card {path}: 'base' must be an object, got {type(base).__name__}")
    if "arch" in base:
        if not isinstance(base["arch"], str) or not base["arch"]:
            raise InputError(f"model card {path}: 'base.arch' must be an architecture name")
        for key in ("num_classes", "in_channels"):
            if key not in base:
                raise InputError(f"model card {path} lacks key 'base.{key}'")
            if not _positive_int(base[key]):
                raise InputError(f"model card {path}: 'base.{key}' must be a positive integer, got "
                                 f"{json.dumps(base[key])[:40]}")
        if base["in_channels"] != size[0]:
            raise InputError(f"model card {path}: 'base.in_channels' ({base['in_channels']}) differs from the "
                             f"input size's {size[0]} channels")
    elif "module" in base:
        if not isinstance(base["module"], str) or not base["module"]:
            raise InputError(f"model card {path}: 'base.module' must be a file path")
        if "sha256" in base and not (isinstance(base["sha256"], str) and re.fullmatch(r"[0-9a-f]{64}",
                                                                                          base["sha256"])):
            raise InputError(f"model card {path}: 'base.sha256' is not a SHA-256 hex digest")
    else:
        raise InputError(f"model card {path} lacks key 'base.arch' (or 'base.module'): it does not say how to "
                         "build the unpruned base")


def write_card(model_file: Path, loaded: LoadedModel) -> Path:
    from prunelab.io import atomic_write_text

    card = {"format": CARD_FORMAT, "base": loaded.base, "input_size": list(loaded.input_size)}
    return atomic_write_text(json.dumps(card, indent=1), card_path(model_file))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _looks_like_path(spec: str) -> bool:
    return "/" in spec or "\\" in spec or spec.endswith((".pt", ".pth", ".pt2", ".bin", ".ckpt")) or Path(spec).exists()


def _state_dict_of(obj: Any) -> dict[str, torch.Tensor] | None:
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
        if obj and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
            return obj
    return None


def _rebuild_base(base: dict[str, Any], input_size: tuple[int, ...]) -> nn.Module:
    if "arch" in base:
        model, _ = build_named(str(base["arch"]), int(base["num_classes"]), (int(base["in_channels"]),
                                                                           *input_size[1:]))
        return model
    if "module" in base:
        path = Path(base["module"])
        if not path.is_file():
            raise InputError(f"base module file {path} named by the model card is missing")
        if base.get("sha256") and sha256(path) != base["sha256"]:
            raise InputError(f"base module file {path} changed since the model was pruned")
        module = safe_load(path)
        if not isinstance(module, nn.Module):
            raise InputError(f"{path} does not hold a whole module")
        return module.eval()
    raise InputError("model card does not say how to build the base architecture")


def load_model(spec: str, *, arch: str | None = None, num_classes: int | None = None,
               input_size: tuple[int, ...] | None = None) -> LoadedModel:
    """Resolve ``--model`` (see the module docstring) into a model in eval mode."""
    if not _looks_like_path(spec):
        if arch:
            raise InputError("--arch is only for checkpoint files; --model already names an architecture")
        size = input_size or default_input_size(spec)
        model, base = build_named(spec, num_classes, size)
        return LoadedModel(model, base, size)
    path = Path(spec)
    if path.is_dir():
        path = path / "model.pt"
    if not path.is_file():
        raise InputError(f"model file {path} does not exist")
    obj = safe_load(path)
    card = read_card(path)
    if isinstance(obj, nn.Module):
        size = input_size or (tuple(card["input_size"]) if card else None)
        if size is None:
            raise InputError(f"give --input-size C,H,W for {path} (no model card beside it)")
        return LoadedModel(obj.eval(), {"module": str(path.resolve()), "sha256": sha256(path)}, size, kind="module")
    if isinstance(obj, dict) and obj.get("format") == PLAN_FORMAT:
        if arch:
            size = input_size or default_input_size(arch)
            _, base = build_named(arch, num_classes, size)
        elif card:
            base, size = card["base"], input_size or tuple(card["input_size"])
        else:
            raise InputError(f"{path} is a pruned-model file without its card {card_path(path).name}: "
                             "give --arch (and --num-classes/--input-size) of the unpruned architecture")
        x = torch.zeros(1, *size)
        try:
            rebuilt = _rebuild_base(base, size)
        except InputError as exc:
            if arch:
                raise
            raise InputError(f"model card {card_path(path)}: {exc}") from None
        try:
            plan = PruningPlan.from_dict(json.loads(obj["plan"]))  # checked before it is replayed
            model = load_pruned(rebuilt, path, x)
        except InputError as exc:
            if str(path) in str(exc):
                raise
            raise InputError(f"{path}: {exc}") from None
        except RuntimeError as exc:
            raise InputError(f"{path} does not fit architecture {base}: {_first_line(exc)}") from None
        except (ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
            raise InputError(f"{path} holds a corrupt pruning plan ({type(exc).__name__}: {_first_line(exc, 160)})") \
                from None
        return LoadedModel(model.eval(), base, size, plan=plan, kind="pruned")
    state = _state_dict_of(obj)
    if state is not None:
        if not arch:
            raise InputError(f"{path} holds a state dict: give --arch NAME of the architecture it belongs to")
        size = input_size or default_input_size(arch)
        model, base = build_named(arch, num_classes, size)
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise InputError(f"state dict in {path} does not fit {arch}: {_first_line(exc)}") from None
        return LoadedModel(model, base, size, kind="state_dict")
    raise InputError(f"{path} is not a model checkpoint (module, state dict or pruned-model file)")
