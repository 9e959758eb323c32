"""``python -m core_pruning prune``: prune a model to a budget and write the pruned model, its plan and report.

Output folder ``--out DIR`` (refused when it exists and is not empty, unless ``--force``):

- ``model.pt``: the pruned model in ``save_pruned`` format (plan + state dict; loads with
  ``torch.load(weights_only=True)``) and ``model.json``, its card (how to rebuild the unpruned base, input size);
- ``plan.json``: the replayable plan from the unpruned base (for an already pruned input, its plan followed by
  this one), for ``core_pruning.apply_plan``;
- ``report.json``: FLOPs/params/channels before and after, removed channels per layer.

Load the result back in Python with ``core_pruning.load_pruned(build_model(arch, ...), "DIR/model.pt", x)``,
or pass ``DIR`` (or ``DIR/model.pt``) as ``--model`` to ``prune`` or ``analyze`` again.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from core_pruning.commands.common import add_calibration_arguments, add_model_arguments, parse_options, prepare_inputs
from core_pruning.commands.model_source import write_card
from core_pruning.criteria import CRITERIA, get_criterion
from core_pruning.engine import prune
from core_pruning.plan import PruningPlan, save_pruned
from prunelab.cli import print_json
from prunelab.errors import InputError, OutputError
from prunelab.io import atomic_write_text, ensure_folder

EXAMPLES = """examples:
  python -m core_pruning prune --model torchvision:resnet18 --criterion cpmc --target-flops 0.5 --out out/r18
  python -m core_pruning prune --model resnet20 --input-size 1,28,28 --criterion l1 --target-params 0.4 --out out/r20
  python -m core_pruning prune --model my_model.pt --input-size 3,64,64 --criterion zero --calib images/ --out out/z
  python -m core_pruning prune --model out/r20 --criterion l2 --keep-ratio 0.8 --out out/r20b --json
  python -m core_pruning prune --model resnet20 --criterion l1 --pruning-ratio 0.2 --out out/r20c
"""
BUDGETS = (("target_flops", "--target-flops"), ("target_params", "--target-params"),
           ("keep_ratio", "--keep-ratio"), ("pruning_ratio", "--pruning-ratio"))
BUDGET_FLAGS = ", ".join(flag for _, flag in BUDGETS)


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, help="prune a model to a FLOPs, parameter or channel budget",
                                   description=__doc__.splitlines()[0].split(": ", 1)[1], epilog=EXAMPLES,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser)
    parser.add_argument("--criterion", default="cpmc", help=f"one of {', '.join(sorted(CRITERIA))} (default cpmc)")
    parser.add_argument("--option", action="append", metavar="KEY=VALUE",
                        help="criterion option, e.g. flops_weight=0.5 or dependency=false (repeatable)")
    budget = parser.add_argument_group("budget: give one (none for --criterion zero)")
    budget.add_argument("--target-flops", type=float, metavar="F", help="keep this fraction of the FLOPs (MACs)")
    budget.add_argument("--target-params", type=float, metavar="F", help="keep this fraction of the parameters")
    budget.add_argument("--keep-ratio", type=float, metavar="F", help="keep this fraction of conv/linear channels")
    budget.add_argument("--pruning-ratio", type=float, metavar="F",
                        help="remove this fraction of conv/linear channels (Torch-Pruning's pruning_ratio)")
    budget.add_argument("--channel-ratio", type=float, metavar="F",
                        help="deprecated: the same as --keep-ratio (the fraction KEPT)")
    limits = parser.add_argument_group("per-layer limits")
    limits.add_argument("--min-channels", type=int, default=1, help="channels kept per layer at least (default 1)")
    limits.add_argument("--round-to", default="1", metavar="N|PATTERN=N,...",
                        help="kept channel counts a multiple of N; per layer: 'layer1.*=1,*=16' (first match wins)")
    limits.add_argument("--max-layer-ratio", type=float, default=1.0, help="largest fraction removed from one layer")
    limits.add_argument("--ignore", action="append", metavar="LAYER", help="layer name or glob never pruned")
    limits.add_argument("--unwrapped-parameter", action="append", metavar="NAME=DIM", type=parse_unwrapped,
                        help="a loose parameter whose channels are on dimension DIM, not its last (repeatable)")
    add_calibration_arguments(parser)
    output = parser.add_argument_group("output")
    output.add_argument("--out", required=True, metavar="DIR", help="folder for model.pt, plan.json, report.json")
    output.add_argument("--force", action="store_true", help="write into an existing, non-empty --out folder")
    output.add_argument("--json", action="store_true", help="print the report as one JSON document")
    output.add_argument("--progress", action="store_true", help="show a progress bar on stderr")
    parser.set_defaults(run=run)
    return parser


def check_out_dir(path: Path, force: bool) -> None:
    if path.is_symlink() and not path.exists():
        raise OutputError(f"--out {path} is a symbolic link to {os.readlink(path)}, which does not exist; remove "
                          "the link or choose another folder")
    if path.exists() and not path.is_dir():
        raise InputError(f"--out {path} is a file, not a folder")
    if path.is_dir() and any(path.iterdir()) and not force:
        raise InputError(f"{path} already exists and is not empty (use --force to overwrite)")


def run(args: argparse.Namespace) -> int:
    options = parse_options(args.option)
    if args.criterion == "random":
        options.setdefault("seed", args.seed)
    criterion = get_criterion(args.criterion, **options)  # unknown criterion/option: one-line error, early
    budgets = {key: getattr(args, key) for key, _ in BUDGETS if getattr(args, key) is not None}
    if args.channel_ratio is not None:  # deprecated spelling of --keep-ratio
        if "keep_ratio" in budgets:
            raise InputError("--channel-ratio is the deprecated name of --keep-ratio: give only --keep-ratio")
        budgets["keep_ratio"] = args.channel_ratio
    if args.criterion != "zero" and len(budgets) != 1:
        raise InputError(f"give exactly one of {BUDGET_FLAGS}")
    if args.criterion == "zero" and budgets:
        raise InputError("criterion 'zero' removes exactly the dead channels; give no --target-*, --keep-ratio or "
                         "--pruning-ratio")
    out = Path(args.out)
    check_out_dir(out, args.force)

    inputs = prepare_inputs(args, needs_data=criterion.needs_data, needs_labels=args.criterion == "taylor",
                            command=f"criterion {args.criterion!r}")
    loaded = inputs.loaded
    model_file = out / "model.pt"
    if loaded.kind == "module" and Path(loaded.base["module"]) == model_file.resolve():
        raise InputError(f"--out would overwrite {model_file}, the whole-module base it is pruned from")
    result = prune(loaded.model, inputs.example, criterion=args.criterion, calib_data=inputs.calib,
                   ignored_layers=args.ignore, min_channels=args.min_channels, round_to=parse_round_to(args.round_to),
                   max_layer_ratio=args.max_layer_ratio, progress=args.progress,
                   unwrapped_parameters=dict(args.unwrapped_parameter or []), **budgets, **options)
    plan = result.plan
    if loaded.plan is not None:  # replayable from the unpruned base: earlier edits first
        plan = PruningPlan(steps=[*loaded.plan.steps, *plan.steps], criterion=plan.criterion, options=plan.options,
                           target=plan.target, model_class=plan.model_class,
                           unwrapped_parameters={**loaded.plan.unwrapped_parameters, **plan.unwrapped_parameters})

    report = {"model": args.model, "input_size": list(loaded.input_size), **result.report,
              "files": {"model": str(model_file), "card": str(out / "model.json"), "plan": str(out / "plan.json"),
                        "report": str(out / "report.json")}}
    created = not out.exists()
    ensure_folder(out)
    try:
        save_pruned(loaded.model, plan, model_file)
        write_card(model_file, loaded)
        plan.save(out / "plan.json")
        atomic_write_text(json.dumps(report, indent=1), out / "report.json")
    except BaseException:
        if created:  # a folder we made, with some of the files: not a usable output; leave nothing
            shutil.rmtree(out, ignore_errors=True)
        raise
    if args.json:
        print_json(report)
    else:
        print(summary_line(report))
        print(f"wrote {model_file} (+ model.json card), {out / 'plan.json'}, {out / 'report.json'}")
    if args.channel_ratio is not None:
        print("note: --channel-ratio is deprecated; use --keep-ratio (the same: the fraction of channels kept) or "
              "--pruning-ratio (the fraction removed)", file=sys.stderr)
    return 0


def parse_unwrapped(text: str) -> tuple[str, int]:
    """``"affine=0"`` -> ``("affine", 0)`` (argparse type of ``--unwrapped-parameter``)."""
    name, _, dim = text.rpartition("=")
    try:
        return name.strip(), int(dim)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME=DIM (e.g. affine=0), got {text!r}") from None


def parse_round_to(text: str) -> int | dict[str, int]:
    """``"8"`` -> 8; ``"layer1.*=1,*=16"`` -> ``{"layer1.*": 1, "*": 16}`` (order kept: first match wins)."""
    try:
        if "=" not in text:
            return int(text)
        pairs = [item.rsplit("=", 1) for item in text.split(",") if item.strip()]
        return {pattern.strip(): int(size) for pattern, size in pairs}
    except ValueError:
        raise InputError(f"--round-to takes N or PATTERN=N,... (e.g. 'layer1.*=1,*=16'), got {text!r}") from None


def summary_line(report: dict[str, Any]) -> str:
    target = report["target"]
    goal = f" to {target['fraction']:.0%} of {target['kind']}" if target else " (dead channels only)"
    return (f"pruned {report['model']} with {report['criterion']}{goal}: "
            f"FLOPs {report['flops_before'] / 1e6:.2f}M -> {report['flops_after'] / 1e6:.2f}M "
            f"({report['flops_ratio']:.3f}), params {report['params_before'] / 1e6:.3f}M -> "
            f"{report['params_after'] / 1e6:.3f}M ({report['params_ratio']:.3f}), channels "
            f"{report['channels_before']} -> {report['channels_after']} in {report['seconds']:.1f}s")
