"""Arguments, value parsers and helpers shared by the artnet commands (validated once, here).

:func:`load_net` is where a command opts in to :func:`artnet.runtime.retain_freed_memory` (the process is the
command's own); the library never changes the allocator by itself.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artnet.model import PRECISIONS
from artnet.transforms import DEFAULT_TRANSFORM, transform_names
from prunelab.cli import command_text, positive_int, print_json
from prunelab.errors import InputError
from prunelab.io import check_output_path

if TYPE_CHECKING:
    from artnet.model import ArtNet


# -- value parsers (argparse ``type=``) ---------------------------------------------------------------------
def size_arg(text: str) -> int:
    """A long side in pixels, 16..4096, or 0 (keep the input's)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a pixel count, got {text!r}") from None
    from artnet.images import validate_size

    try:
        return validate_size(value)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def fraction_arg(text: str) -> float:
    """A number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {value}")
    return value


def weights_arg(text: str) -> list[float]:
    """Comma-separated numbers (style-mixing weights)."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"weights must be comma-separated numbers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("no weights given")
    return values


def names_arg(text: str) -> list[str]:
    """Comma-separated names."""
    names = [v.strip() for v in text.split(",") if v.strip()]
    if not names:
        raise argparse.ArgumentTypeError("no names given")
    return names


# -- argument groups ----------------------------------------------------------------------------------------
def add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    """``--encoder --decoder --device --threads --tile --precision``: which network runs where, and how."""
    parser.add_argument("--encoder", default="pruned",
                        help="pruned (default, shipped), unpruned, imagenet (needs internet and --decoder) or a "
                             "weights file")
    parser.add_argument("--decoder", help="decoder weights file (default: the shipped one)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda ...")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (default: torch's choice)")
    parser.add_argument("--tile", type=positive_int, default=1024,
                        help="tile side in pixels for large images (default 1024; memory is bounded by it)")
    add_precision_argument(parser)


def add_precision_argument(parser: argparse.ArgumentParser) -> None:
    """``--precision``: the dtype the networks run in (artnet.model.PRECISIONS; half precision is for GPUs)."""
    parser.add_argument("--precision", choices=tuple(PRECISIONS), default="float32",
                        help="dtype of the encoder/decoder convolutions (autocast; transforms stay float32): "
                             "float32 (default), bfloat16, float16 (for GPUs)")


def add_transform_argument(parser: argparse.ArgumentParser, default: str = DEFAULT_TRANSFORM,
                           what: str = "feature transform") -> None:
    """``--transform``, one of the registered names (:data:`artnet.transforms.TRANSFORMS`)."""
    parser.add_argument("--transform", choices=transform_names(), default=default, help=f"{what} (default {default})")


def add_style_arguments(parser: argparse.ArgumentParser, transform: str = DEFAULT_TRANSFORM) -> None:
    """``--transform --alpha --swap-weight --style-patches --preserve-color --size --style-size``."""
    add_transform_argument(parser, transform)
    parser.add_argument("--alpha", type=fraction_arg,
                        help="style strength in [0, 1], 1 = fully stylised (default: the decoder card's default_alpha, "
                             "chosen on train+validation pairs to balance content against style; 1 without a card)")
    parser.add_argument("--swap-weight", type=fraction_arg,
                        help="S2 only: share of the swapped (textured) features blended with the aligned ones, in "
                             "[0, 1] (default: artnet.transforms.s2.SWAP_WEIGHT)")
    parser.add_argument("--style-patches", type=positive_int,
                        help="S2 only: most style patches matched (default "
                             "artnet.transforms.s2.MAX_STYLE_PATCHES, 2048); more cost time in proportion")
    parser.add_argument("--preserve-color", action="store_true", help="keep the content's colours")
    parser.add_argument("--size", type=size_arg, default=512,
                        help="long side of the output in pixels, 16..4096 (default 512; 0 = keep the input's)")
    parser.add_argument("--style-size", type=size_arg, default=512, help="long side for style images (default 512)")


def add_training_arguments(parser: argparse.ArgumentParser, steps: int, batch: int, crop: int, lr: float) -> None:
    """The run folder, export, schedule, seed and device options of ``distill`` and ``train-decoder``."""
    # dest run_dir: ``args.run`` is the command's handler (prunelab.cli.command_line)
    parser.add_argument("--run", dest="run_dir", metavar="RUN", required=True,
                        help="run folder: checkpoint.pt, log.jsonl (re-run to resume)")
    parser.add_argument("--export", help="write the final weights here (e.g. weights/artnet_...pt) plus a card")
    parser.add_argument("--force", action="store_true", help="overwrite --export if it exists")
    parser.add_argument("--steps", type=positive_int, default=steps, help=f"optimiser steps (default {steps})")
    parser.add_argument("--batch", type=positive_int, default=batch, help=f"crops per step (default {batch})")
    parser.add_argument("--crop", type=positive_int, default=crop, help=f"crop side in pixels (default {crop})")
    parser.add_argument("--lr", type=float, default=lr, help=f"peak learning rate (default {lr})")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2; 0 = torch default)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1 ...")
    parser.add_argument("--no-shared", action="store_true", help="train on wheel images only (no ../shared)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


# -- shared steps of the commands ---------------------------------------------------------------------------
def transform_options(args: argparse.Namespace) -> dict[str, Any]:
    """Options of the chosen transform given on the command line (``--swap-weight``, ``--style-patches``: S2)."""
    given = {flag: (key, value) for flag, key, value in (("--swap-weight", "swap_weight", args.swap_weight),
                                                         ("--style-patches", "max_style_patches", args.style_patches))
             if value is not None}
    if given and args.transform != "s2":
        raise InputError(f"{next(iter(given))} applies to --transform s2, not {args.transform}")
    return dict(given.values())


def load_net(args: argparse.Namespace) -> ArtNet:
    """The :class:`artnet.ArtNet` chosen by the runtime arguments, with this process tuned for CPU inference.

    On the CPU the command opts in to :func:`artnet.runtime.retain_freed_memory` (this process is the command's
    own): freed activations stay mapped for the next layer, tile or image.
    """
    from artnet.model import ArtNet
    from artnet.runtime import retain_freed_memory
    from prunelab.device import set_threads

    set_threads(args.threads)
    net = ArtNet.load(args.encoder, args.decoder, device=args.device, tile=args.tile, precision=args.precision)
    if net.device.type == "cpu":
        retain_freed_memory()
    return net


def check_export(args: argparse.Namespace) -> None:
    """Refuse an existing ``--export`` file (without ``--force``) before any training starts."""
    if args.export:
        check_output_path(args.export, force=args.force)


def training_card(what: str, summary: dict, args: argparse.Namespace, config: dict, data: str = "") -> dict:
    """The JSON card written beside exported weights: data, augmentation, teacher, config, command, machine.

    ``data``: what was trained on, when not the default (all ``../shared/data/style`` images + wheel images)."""
    from prunelab.machine import cpu_name

    return {
        "weights": Path(args.export).name,
        "what": what,
        "data": (data or "../shared/data/style content (7) + style (20) images, and wheel images "
                 "(skimage/sklearn/matplotlib; artnet.data.TRAIN_WHEEL); held out: artnet.data.HELDOUT_WHEEL "
                 "+ every 4th mountain_2 frame") + (" [run with --no-shared: wheel images only]"
                                                    if getattr(args, "no_shared", False) else ""),
        "augmentation": "random resized square crops (0.3-1 of the short side), horizontal flips, brightness/"
                        "contrast/saturation jitter +-25%, 10% greyscale (artnet.data.RandomCrops)",
        "teacher": "MingSun-Tse/Collaborative-Distillation 16x VGG19 auto-encoders (MIT, Huan Wang et al.), "
                   "../shared/weights/teacher-cd16x",
        "seed": args.seed,
        "config": config,
        "summary": summary,
        "command": command_text(args),
        "machine": f"{cpu_name()} ({platform.machine()}, {os.cpu_count()} CPU cores, {config.get('threads', '?')} "
                   f"threads, device {summary.get('device', config.get('device', '?'))})",
        "date": datetime.date.today().isoformat(),
    }


def print_summary(summary: dict, as_json: bool) -> None:
    """``summary`` as one JSON document, or one ``key: value`` line per entry."""
    if as_json:
        print_json(summary)
    else:
        for key, value in summary.items():
            print(f"{key}: {value}")


def add_pruning_output_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """``--out`` (the pruned ``what`` weights; card and plan beside it), ``--force``, ``--threads``, ``--json``:
    the arguments ``prune`` and ``prune-decoder`` share."""
    parser.add_argument("--out", required=True, help=f"pruned {what} weights to write (card and plan beside it)")
    parser.add_argument("--force", action="store_true", help="overwrite --out")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run_pruning_command(args: argparse.Namespace, prune: Any, formatter: Any) -> int:
    """Check ``--out``, set the threads, run ``prune(out)`` and print its report (JSON or ``formatter``'s text)."""
    from prunelab.device import set_threads

    out = check_output_path(args.out, force=args.force)
    set_threads(args.threads)
    report = prune(out)
    if args.json:
        print_json(report)
    else:
        print(formatter(report))
    return 0
