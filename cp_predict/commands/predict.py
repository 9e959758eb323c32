"""``python -m cp_predict predict``: risk probability with a 90 % conformal interval for each infant.

Also per-joint importance, left/right asymmetry and the quality gate's verdict; ``--json`` adds the joint x time
map unless ``--no-map``. The default model is the shipped ``weights/cp_attention.pt``.
"""

from __future__ import annotations

import argparse
from typing import Any

from cp_predict import RESEARCH_NOTICE
from cp_predict.commands.common import (
    add_command_parser,
    add_json_argument,
    add_threads_argument,
    add_trust_pickle_argument,
    image_size,
)
from prunelab.cli import print_json
from prunelab.device import set_threads


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    p = add_command_parser(subparsers, name, "risk probability with a 90%% conformal interval, joint importance, "
                                             "asymmetry, quality gate")
    p.add_argument("--model", help="model directory or .pt file (default: the shipped weights/cp_attention.pt)")
    p.add_argument("--input", required=True, help=".npz, .csv, .pkl (pyskl), an OpenPose JSON folder or a video")
    p.add_argument("--fps", type=float, help="frame rate of JSON/CSV/pyskl input (default 25)")
    p.add_argument("--image-size", type=image_size, help="WIDTHxHEIGHT of OpenPose JSON pixel coordinates")
    add_trust_pickle_argument(p)
    p.add_argument("--no-map", action="store_true", help="leave the joint x time map out of --json output")
    p.add_argument("--check-explanations", action="store_true",
                   help="add per-infant deletion/insertion areas (attention and occlusion orders vs random orders)")
    add_threads_argument(p)
    add_json_argument(p, "the predictions")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from cp_predict.formats import load_skeletons
    from cp_predict.predictor import load_model, predict

    model = load_model(args.model)
    skeletons = load_skeletons(args.input, trust_pickle=args.trust_pickle, fps=args.fps, image_size=args.image_size)
    set_threads(args.threads)
    results = predict(model, skeletons, with_map=args.json and not args.no_map,
                      check_explanations=args.check_explanations)
    if args.json:
        print_json({"notice": RESEARCH_NOTICE, "model": model.model_name,
                    "predictions": [r.to_json(include_map=not args.no_map) for r in results]})
        return 0
    for r in results:
        print(result_line(r))
        for warning in r.quality["warnings"] if r.assessable else ():
            print(f"  quality: {warning}")
    print(RESEARCH_NOTICE)
    return 0


def result_line(r: Any) -> str:
    """One infant's text line: risk and interval, the three most important joints, the asymmetry."""
    if not r.assessable:
        return f"{r.name}: not assessable: {'; '.join(r.assessment['reasons'])}"
    top = ""
    if r.joint_importance:
        best = sorted(r.joint_importance.items(), key=lambda kv: -kv[1])[:3]
        top = "; most important joints: " + ", ".join(f"{k} {v:.2f}" for k, v in best)
    asym = r.extra.get("asymmetry", {})
    side = f"; asymmetry (R-L)/(R+L): importance {asym['importance']:+.2f}, movement {asym['movement']:+.2f}" \
        if "importance" in asym else ""
    return (f"{r.name}: risk {100 * r.probability:.1f}% (90% conformal interval {100 * r.interval[0]:.1f}-"
            f"{100 * r.interval[1]:.1f}%){top}{side}")
