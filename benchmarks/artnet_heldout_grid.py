"""Held-out side-by-side crops at full resolution: content, style, ArtNet S2 (default alpha and alpha 1), ArtNet
AdaIN, teacher AdaIN (issue 13).

    python benchmarks/artnet_heldout_grid.py --out docs/artnet_heldout_grid.jpg [--size 1024] [--crop 320]

Pairs: the stylisation split's **test** contents x styles (``artnet.data.STYLIZATION_SPLIT``), never used to train a
decoder or to choose a setting. Each content is stylised at its own resolution, shrunk to long side ``--size`` if
larger (never enlarged: the ``../shared`` photos are 512 px); the grid shows one ``--crop`` x ``--crop`` window of
every output at full resolution (no resampling: what the image looks like at 100 %), taken where the content has
the most edges, so faces, fur and outlines are what is compared. Style thumbnails are resized.
Needs ``../shared`` (the teacher and the photos).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from artnet_quality import make_grid

from artnet import ArtNet
from artnet.data import split_images
from artnet.images import to_tensor, to_uint8
from artnet.teacher import load_teacher_decoder, load_teacher_encoder
from prunelab.machine import cpu_name

#: (content, style) pairs of the test part, one row each: a face, fur, a scene and a flower.
PAIRS = (("wheel/chelsea", "style/picasso_self_portrait"), ("content/golden_gate", "style/la_muse"),
         ("content/sailboat", "style/brushstrokes"), ("wheel/flower", "style/woman_with_hat_matisse"))
COLUMNS = ("content", "style", "ArtNet S2", "ArtNet S2 a=1", "ArtNet AdaIN", "teacher AdaIN")


def busiest_window(image: np.ndarray, crop: int) -> tuple[int, int]:
    """Top-left corner of the ``crop`` window with the largest mean gradient magnitude (on a coarse grid)."""
    grey = image.astype(np.float32).mean(axis=2)
    grad = np.abs(np.diff(grey, axis=0))[:, :-1] + np.abs(np.diff(grey, axis=1))[:-1]
    best, corner = -1.0, (0, 0)
    step = max(16, crop // 8)
    for top in range(0, max(1, grad.shape[0] - crop + 1), step):
        for left in range(0, max(1, grad.shape[1] - crop + 1), step):
            score = float(grad[top: top + crop, left: left + crop].mean())
            if score > best:
                best, corner = score, (top, left)
    return corner


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="grid image to write (.jpg or .png)")
    parser.add_argument("--size", type=int, default=1024, help="largest long side of the stylised contents (1024)")
    parser.add_argument("--crop", type=int, default=320, help="side of the full-resolution window (320)")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    contents = split_images("test", "content", long_side=args.size)
    styles = split_images("test", "style", long_side=512)
    artnet = ArtNet.load(device="cpu")
    teacher = ArtNet(load_teacher_encoder(4), load_teacher_decoder(4), device="cpu")  # AdaIN at alpha 1
    print(f"ArtNet default alpha {artnet.default_alpha:g} (weights/artnet_decoder.json)", file=sys.stderr)
    rows = []
    for content_name, style_name in PAIRS:
        content, style = to_tensor(contents[content_name]), to_tensor(styles[style_name])
        outputs = [to_uint8(artnet.stylize(content, style, transform="s2").image),  # the default alpha
                   to_uint8(artnet.stylize(content, style, transform="s2", alpha=1.0).image),
                   to_uint8(artnet.stylize(content, style, transform="adain").image),
                   to_uint8(teacher.stylize(content, style, transform="adain").image)]
        source = to_uint8(content)
        top, left = busiest_window(source, args.crop)
        window = (slice(top, top + args.crop), slice(left, left + args.crop))
        rows.append([source[window], to_uint8(style), *(out[window] for out in outputs)])  # style: shrunk to fit
        print(f"{content_name} x {style_name}: window at ({top}, {left}) of {source.shape[1]}x{source.shape[0]}",
              file=sys.stderr, flush=True)
    make_grid(rows, list(COLUMNS), args.crop, args.out)
    print(f"command: python {' '.join(sys.argv)}\nmachine: {cpu_name()}, torch {torch.__version__}\n"
          f"grid: {args.out} ({args.out.stat().st_size / 1024:.0f} KB), rows {len(PAIRS)}, crop {args.crop} px at "
          f"long side {args.size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
