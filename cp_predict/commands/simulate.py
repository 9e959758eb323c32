"""``python -m cp_predict simulate``: generate synthetic infant skeletons (normal vs at-risk movement).

Writes one ``.npz`` data set (:mod:`cp_predict.simulate`); ``--plant`` puts the abnormal dynamics of at-risk
infants in the listed joints only and records them in the file.
"""

from __future__ import annotations

import argparse
from typing import Any

from cp_predict import RESEARCH_NOTICE
from cp_predict.commands.common import add_command_parser, add_force_argument, add_json_argument, npz_output
from prunelab.cli import positive_int, print_json
from prunelab.errors import InputError


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    p = add_command_parser(subparsers, name, "generate synthetic infant skeletons (normal vs at-risk movement)")
    p.add_argument("--n", type=positive_int, required=True, help="number of infants")
    p.add_argument("--out", required=True, help="output .npz")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--frames", type=positive_int, default=300)
    p.add_argument("--fps", type=float, default=25.0)
    p.add_argument("--at-risk-fraction", type=float, default=0.5)
    p.add_argument("--plant", default="", help="comma-separated joints to plant the abnormal dynamics in "
                                               "(e.g. l_wrist,l_ankle); recorded in the file")
    add_force_argument(p)
    add_json_argument(p, "a summary")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from cp_predict.formats import save_npz
    from cp_predict.simulate import GeneratorConfig, generate, parse_joint_list

    out = npz_output(args)
    config = GeneratorConfig(n=args.n, seed=args.seed, frames=args.frames, fps=args.fps,
                             at_risk_fraction=args.at_risk_fraction, planted_joints=parse_joint_list(args.plant))
    try:
        data = generate(config)
    except InputError as exc:
        if exc.option == "planted_joints":
            exc.option = "plant"  # the flag that gives them
        raise
    save_npz(data, out)
    summary = {"notice": RESEARCH_NOTICE, "out": str(out), "n": len(data), "n_at_risk": int(data.labels.sum()),
               "frames": data.num_frames, "fps": data.fps, "seed": args.seed,
               "planted_joints": list(config.planted_joints)}
    if args.json:
        print_json(summary)
    else:
        print(f"wrote {out}: {summary['n']} synthetic infants ({summary['n_at_risk']} at risk), "
              f"{data.num_frames} frames at {data.fps:g} fps")
    return 0
