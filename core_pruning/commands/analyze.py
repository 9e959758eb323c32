"""``python -m core_pruning analyze``: compare pruning criteria on a model and test its weights for normality.

Prints tables (or, with ``--json``, one JSON document): per pair of criteria the mean per-layer Spearman and
Kendall rank correlations and the overlap of the channels they remove at ``--ratio`` under layer-wise and
global pruning; per criterion the score spread; per conv layer the D'Agostino-Pearson and KS normality tests
with a verdict at ``--alpha``. ``--figure`` writes the weight histograms / Q-Q plots, ``--heatmap`` the
criteria similarity matrix (PNG). See :mod:`core_pruning.analysis` for the reading of the paper.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path
from typing import Any

from core_pruning.analysis import analyze, normality_figure, save_figure, similarity_figure
from core_pruning.commands.common import add_calibration_arguments, add_model_arguments, parse_options, prepare_inputs
from core_pruning.criteria import CRITERIA, get_criterion
from prunelab.cli import print_json
from prunelab.errors import InputError
from prunelab.io import check_output_path

EXAMPLES = """examples:
  python -m core_pruning analyze --model resnet20 --criteria l1,l2,fpgm,cpmc --figure normality.png
  python -m core_pruning analyze --model out/r20 --criteria l1,taylor --calib digits/ --json
  python -m core_pruning analyze --model torchvision:resnet18 --input-size 3,64,64 --heatmap similarity.png
"""


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, help="compare pruning criteria and test weight normality",
                                   description=__doc__.splitlines()[0].split(": ", 1)[1], epilog=EXAMPLES,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser)
    parser.add_argument("--criteria", default="l1,l2,fpgm",
                        help=f"comma-separated, from {', '.join(sorted(CRITERIA))} (default l1,l2,fpgm)")
    parser.add_argument("--option", action="append", metavar="CRITERION.KEY=VALUE",
                        help="criterion option, e.g. cpmc.flops_weight=0 (repeatable)")
    parser.add_argument("--ratio", type=float, default=0.5, help="fraction of channels removed when comparing "
                                                                  "removal sets (default 0.5)")
    parser.add_argument("--alpha", type=float, default=0.05, help="level of the normality tests (default 0.05)")
    parser.add_argument("--max-samples", type=int, default=5000, help="weights per layer the tests use at most")
    parser.add_argument("--ignore", action="append", metavar="LAYER", help="layer name or glob left out")
    add_calibration_arguments(parser)
    output = parser.add_argument_group("output")
    output.add_argument("--json", action="store_true", help="print the full analysis as one JSON document")
    output.add_argument("--figure", metavar="PNG", help="write weight histograms with fitted Gaussian and Q-Q plots")
    output.add_argument("--heatmap", metavar="PNG", help="write the criteria similarity heat-map (mean Spearman)")
    output.add_argument("--max-layers", type=int, default=8, help="layers shown in --figure (default 8)")
    output.add_argument("--force", action="store_true", help="overwrite existing figure files")
    parser.set_defaults(run=run)
    return parser


def criterion_options(items: list[str] | None, names: list[str]) -> dict[str, dict[str, Any]]:
    """``["cpmc.flops_weight=0", ...]`` to ``{"cpmc": {"flops_weight": 0}}``."""
    options: dict[str, dict[str, Any]] = defaultdict(dict)
    for key, value in parse_options(items).items():
        name, dot, option = key.partition(".")
        if not dot or not option:
            raise InputError(f"option {key!r} must be CRITERION.KEY=VALUE")
        if name not in names:
            raise InputError(f"option {key!r} names criterion {name!r}, which is not in --criteria")
        options[name][option] = value
    return dict(options)


def run(args: argparse.Namespace) -> int:
    names = [n.strip() for n in args.criteria.split(",") if n.strip()]
    options = criterion_options(args.option, names)
    if "random" in names:
        options.setdefault("random", {}).setdefault("seed", args.seed)
    criteria = [get_criterion(n, **options.get(n, {})) for n in names]  # unknown names/options fail here, early
    if args.max_layers < 1:
        raise InputError("--max-layers must be >= 1")
    figures = [(Path(p), kind) for p, kind in ((args.figure, "normality"), (args.heatmap, "heatmap")) if p]
    for path, _ in figures:
        check_output_path(path, args.force)
    needs_labels = any(c.name == "taylor" for c in criteria)
    inputs = prepare_inputs(args, needs_data=any(c.needs_data for c in criteria), needs_labels=needs_labels,
                            command=f"analysis of {', '.join(c.name for c in criteria if c.needs_data)}")
    model = inputs.loaded.model
    result = analyze(model, inputs.example, names, ratio=args.ratio, alpha=args.alpha, calib_data=inputs.calib,
                     ignored_layers=args.ignore, criterion_options=options, max_samples=args.max_samples,
                     seed=args.seed)
    for path, kind in figures:
        if kind == "normality" and not result.tested_layers:
            raise InputError("no convolution layer has enough weights (20) for the normality figure")
        fig = (normality_figure(model, result.normality, max_layers=args.max_layers) if kind == "normality"
               else similarity_figure(result.matrix(), result.criteria))
        save_figure(fig, path)
    if args.json:
        print_json({"model": args.model, "input_size": list(inputs.loaded.input_size), **result.to_dict(),
                    "figures": {kind: str(path) for path, kind in figures}})
    else:
        print(result.format_text())
        for path, kind in figures:
            print(f"wrote {kind} figure {path}")
    return 0
