"""Arguments and input handling shared by the ``prune`` and ``analyze`` commands (validated once, here)."""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from typing import Any

import torch

from core_pruning.commands.images import NORMALIZATIONS, load_image_folder
from core_pruning.commands.model_source import LoadedModel, load_model
from core_pruning.counting import run_model
from prunelab.errors import InputError


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--model", required=True,
                       help="resnet20 | resnet56 | vgg_small | torchvision:<arch> | path to a pruned-model file, "
                            "a whole-module checkpoint or (with --arch) a state dict")
    group.add_argument("--arch", help="architecture name of a state-dict checkpoint, or the unpruned base of a "
                                      "pruned-model file without its card")
    group.add_argument("--num-classes", type=int, help="classifier outputs (default 10; 1000 for torchvision)")
    group.add_argument("--input-size", type=parse_size, metavar="C,H,W",
                       help="input size without batch (default 3,224,224 for torchvision, 3,32,32 for ours, or the "
                            "model card's)")


def add_calibration_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("calibration data (for data-driven criteria: taylor, zero)")
    group.add_argument("--calib", metavar="DIR", help="folder of images, or of class sub-folders (labels, for taylor)")
    group.add_argument("--calib-limit", type=int, default=64, help="images used at most (seeded choice; default 64)")
    group.add_argument("--normalize", choices=NORMALIZATIONS, default="none",
                       help="pixel normalisation after scaling to [0, 1] (default none)")
    group.add_argument("--seed", type=int, default=0, help="seed of the calibration choice and of random criteria")


def parse_size(text: str) -> tuple[int, ...]:
    try:
        size = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected C,H,W integers, got {text!r}") from None
    if len(size) != 3 or any(v < 1 for v in size) or math.prod(size) > 3 * 2048 * 2048:
        raise argparse.ArgumentTypeError(f"expected three positive integers C,H,W (at most 3x2048x2048), got {text!r}")
    return size


def parse_value(text: str) -> Any:
    """``true``/``false``/numbers/JSON as such, anything else as a string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_options(items: list[str] | None) -> dict[str, Any]:
    """``["key=value", ...]`` to a dict (values through :func:`parse_value`)."""
    options: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"option {item!r} is not KEY=VALUE")
        options[key.strip()] = parse_value(value.strip())
    return options


@dataclass
class Inputs:
    loaded: LoadedModel
    example: torch.Tensor
    calib: list[tuple[torch.Tensor, torch.Tensor | None]] | None


def prepare_inputs(args: argparse.Namespace, needs_data: bool, needs_labels: bool, command: str) -> Inputs:
    """Load the model and calibration data named by ``args`` and check that they fit together."""
    loaded = load_model(args.model, arch=args.arch, num_classes=args.num_classes, input_size=args.input_size)
    example = torch.randn(1, *loaded.input_size, generator=torch.Generator().manual_seed(args.seed))
    try:
        with torch.no_grad():
            output = run_model(loaded.model, example)
    except (RuntimeError, ValueError, TypeError) as exc:
        size = ",".join(map(str, loaded.input_size))
        raise InputError(f"the model does not run on input size {size}: {' '.join(str(exc).split())[:200]} "
                         "(give --input-size C,H,W)") from None
    calib = None
    if args.calib:
        calib = load_image_folder(args.calib, loaded.input_size, limit=args.calib_limit,
                                  normalize=args.normalize, seed=args.seed)
    elif needs_data:
        raise InputError(f"this {command} needs calibration images: give --calib DIR")
    if needs_labels and calib is not None:
        if calib[0][1] is None:
            raise InputError(f"criterion 'taylor' needs labels: put the --calib images in one sub-folder per class "
                             f"({args.calib}/<class>/*.png)")
        classes = output.shape[-1] if isinstance(output, torch.Tensor) and output.dim() == 2 else None
        top = max(int(t.max()) for _, t in calib)
        if classes is not None and top >= classes:
            raise InputError(f"--calib has {top + 1} class folders but the model has {classes} outputs")
    return Inputs(loaded, example, calib)
