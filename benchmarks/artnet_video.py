"""Temporal stability of ArtNet video stylisation: warping error with and without stabilisation.

On the 24 consecutive ``mountain_2`` frames of ``../shared/data/style/video`` (1024x436, run at the long
side given by ``--size``), one style, each stabilisation mode of :class:`artnet.video.VideoStylizer`:
warping error (Farneback flow on the content frames, occlusion-masked; lower = less flicker), its ratio to
plain per-frame stylisation measured in the same run, ms per frame, and the mean teacher content / style
losses (so that stability is not bought by dropping the style).

    python benchmarks/artnet_video.py --style la_muse --transform adain
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from core_common import header

from artnet import ArtNet
from artnet.data import video_frames_dir
from artnet.images import fit_long_side, list_images, load_image, load_tensor, resize, to_tensor, to_uint8
from artnet.metrics import content_loss, style_loss_meanstd, teacher_features
from artnet.runtime import retain_freed_memory
from artnet.teacher import load_teacher_encoder
from artnet.transforms import transform_names
from artnet.video import STABILIZERS, VideoStylizer, warping_error
from prunelab.paths import shared_path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--style", default="la_muse", help="style name in ../shared/data/style/style")
    parser.add_argument("--transform", default="adain", choices=transform_names())
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--frames", type=int, default=24)
    args = parser.parse_args()
    style_path = next(p for p in shared_path("data", "style", "style").iterdir() if p.stem == args.style)
    frames = []
    for path in list_images(video_frames_dir())[: args.frames]:
        tensor = to_tensor(load_image(path))
        frames.append(to_uint8(resize(tensor, *fit_long_side(tensor.shape[2], tensor.shape[3], args.size))))
    net = ArtNet.load(device="cpu")
    retain_freed_memory()  # as `python -m artnet video` does (artnet.runtime)
    style_image = load_tensor(style_path, 512)
    style = net.encode_style(style_image, 0)
    teacher = load_teacher_encoder(4)
    style_feats = teacher_features(teacher, style_image)
    rows = []
    for mode in STABILIZERS:
        stylizer = VideoStylizer(net, style, transform=args.transform, stabilize=mode)
        start = time.perf_counter()
        outputs = [stylizer(frame) for frame in frames]
        ms = 1000 * (time.perf_counter() - start) / len(frames)
        c_loss, s_loss = [], []
        for frame, out in zip(frames[::4], outputs[::4], strict=True):
            of = teacher_features(teacher, to_tensor(out))
            c_loss.append(content_loss(of, teacher_features(teacher, to_tensor(frame))))
            s_loss.append(style_loss_meanstd(of, style_feats))
        rows.append({"mode": mode, "warping_error": warping_error(outputs, frames), "ms": ms,
                     "content_loss": float(np.mean(c_loss)), "style_loss": float(np.mean(s_loss))})
        print(f"{mode}: done", file=sys.stderr, flush=True)
    base = rows[0]["warping_error"]
    print(header(f"ArtNet video stability: {len(frames)} mountain_2 frames at {args.size} px, style {args.style}, "
                 f"{args.transform}"))
    print()
    print("| stabilisation | warping error | vs per-frame | ms/frame | content loss | style loss |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['mode']} | {row['warping_error']:.5f} | {row['warping_error'] / base:.2f} | {row['ms']:.0f} | "
              f"{row['content_loss']:.3f} | {row['style_loss']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
