"""``python -m artnet video``: stylise a video or a folder of frames, with temporal stabilisation.

Outputs: an ``.mp4`` file or a folder of PNG frames (``--out``), and a report (frames, seconds, ms per frame;
with ``--compare`` the warping error of the stabilised and of plain per-frame stylisation, :mod:`artnet.video`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from artnet.commands.common import (
    add_runtime_arguments,
    add_style_arguments,
    fraction_arg,
    load_net,
    print_summary,
    transform_options,
)
from prunelab.errors import InputError
from prunelab.io import check_output_path


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name, help="stylise a video or a folder of frames, with temporal stabilisation",
        description="Frame-by-frame stylisation with smoothed statistics and flow-guided blending (artnet.video). "
                    "--compare also runs plain per-frame stylisation and reports both warping errors.")
    parser.add_argument("--input", required=True, help="video file (.mp4 ...) or folder of frames")
    parser.add_argument("--style", required=True, help="style image")
    parser.add_argument("--out", required=True, help="output .mp4 file or folder for PNG frames")
    parser.add_argument("--stabilize", choices=("none", "stats", "flow", "both"), default="both",
                        help="temporal stabilisation (default both)")
    parser.add_argument("--momentum", type=fraction_arg, default=0.9,
                        help="statistics moving-average momentum (0.9)")
    parser.add_argument("--blend", type=fraction_arg, default=0.6, help="weight of the warped previous output (0.6)")
    parser.add_argument("--max-frames", type=int, default=0, help="stop after this many frames (0: all)")
    parser.add_argument("--compare", action="store_true",
                        help="also stylise without stabilisation and report both warping errors")
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs")
    parser.add_argument("--json", action="store_true", help="print a JSON report")
    add_style_arguments(parser, transform="adain")
    add_runtime_arguments(parser)
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from artnet.images import fit_long_side, load_tensor, resize, to_tensor, to_uint8
    from artnet.video import FrameWriter, VideoStylizer, frame_count, read_frames, video_fps, warping_error

    source = Path(args.input)
    if not source.exists():
        raise InputError(f"{source}: no such file or folder")
    out = check_output_path(args.out, force=args.force)
    options = transform_options(args)
    style_image = load_tensor(args.style, args.style_size)
    net = load_net(args)
    style = net.encode_style(style_image, 0)
    total = frame_count(source)
    if args.max_frames:
        total = min(total, args.max_frames) if total else args.max_frames

    def make(stabilize: str) -> VideoStylizer:
        return VideoStylizer(net, style, transform=args.transform, alpha=args.alpha, stabilize=stabilize,
                             momentum=args.momentum, blend=args.blend, preserve_color=args.preserve_color,
                             **options)

    stylizer = make(args.stabilize)
    plain = make("none") if args.compare and args.stabilize != "none" else None
    writer = FrameWriter(out, fps=video_fps(source))
    contents, outputs, plain_outputs = [], [], []
    start = time.perf_counter()
    try:
        for frame in tqdm(read_frames(source, args.max_frames), total=total or None, desc="video", unit="frame",
                          disable=args.json):
            tensor = to_tensor(frame)
            height, width = fit_long_side(tensor.shape[2], tensor.shape[3], args.size)
            frame = to_uint8(resize(tensor, height, width))
            result = stylizer(frame)
            writer.write(result)
            if args.compare:
                contents.append(frame)
                outputs.append(result)
                if plain is not None:
                    plain_outputs.append(plain(frame))
    finally:
        writer.close()
    seconds = time.perf_counter() - start
    summary: dict[str, Any] = {"input": str(source), "out": str(out), "frames": writer.count,
                               "stabilize": args.stabilize, "transform": args.transform,
                               "seconds": round(seconds, 2),
                               "ms_per_frame": round(1000 * seconds / max(1, writer.count), 1)}
    if args.compare and len(outputs) >= 2:
        summary["warping_error"] = warping_error(outputs, contents)
        if plain is not None:
            summary["warping_error_per_frame"] = warping_error(plain_outputs, contents)
            summary["warping_error_ratio"] = summary["warping_error"] / max(summary["warping_error_per_frame"], 1e-12)
    print_summary(summary, args.json)
    return 0
