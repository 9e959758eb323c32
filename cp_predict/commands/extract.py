"""``python -m cp_predict extract``: pose from video (BlazePose; needs ``pip install prunelab[video]``).

Writes the skeleton as an ``.npz`` and reports its quality (frames detected, low-confidence joints).
"""

from __future__ import annotations

import argparse
from typing import Any

from cp_predict import RESEARCH_NOTICE
from cp_predict.commands.common import add_command_parser, add_force_argument, add_json_argument, npz_output
from prunelab.cli import positive_int, print_json


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    p = add_command_parser(subparsers, name, "pose from video (BlazePose, needs: pip install prunelab[video])")
    p.add_argument("--video", required=True)
    p.add_argument("--out", required=True, help="output skeleton .npz")
    p.add_argument("--max-frames", type=positive_int, default=None, help="stop after this many frames")
    add_force_argument(p)
    add_json_argument(p, "the quality report")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from cp_predict.formats import save_npz
    from cp_predict.video import extract_skeleton

    out = npz_output(args)
    result = extract_skeleton(args.video, max_frames=args.max_frames)
    save_npz(result.skeletons, out)
    if args.json:
        print_json({"notice": RESEARCH_NOTICE, "out": str(out), "quality": result.quality})
        return 0
    q = result.quality
    print(f"wrote {out}: {q['frames']} frames, {q['duration_s']} s at {q['fps']:g} fps; infant detected in "
          f"{100 * q['detected_frame_fraction']:.0f}% of frames, low-confidence joints "
          f"{100 * q['low_confidence_fraction']:.1f}%")
    for warning in q["warnings"]:
        print(f"  quality: {warning}")
    print(RESEARCH_NOTICE)
    return 0
