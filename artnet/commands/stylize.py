"""``python -m artnet stylize``: stylise an image, or every image of a folder, with one or more styles.

Outputs: the stylised image ``--out`` (or one ``<name>.png`` per content image in the folder ``--out``);
``--json`` prints the report (transform, styles, device, per-image sizes and timings, failures). In a folder
run an unreadable image is reported and skipped, and the command exits with code 2 after writing the others.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from artnet.commands.common import (
    add_runtime_arguments,
    add_style_arguments,
    load_net,
    transform_options,
    weights_arg,
)
from prunelab.cli import print_json
from prunelab.errors import InputError, error_message
from prunelab.io import check_output_path


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        name, help="stylise an image, or every image of a folder",
        description="Stylise --content (an image, or a folder: every image in it, with a progress bar) with one or "
                    "more --style images.")
    parser.add_argument("--content", required=True, help="content image or folder of images")
    parser.add_argument("--style", required=True, action="append", help="style image (repeat to mix styles)")
    parser.add_argument("--weights", type=weights_arg, help="mixing weights for several styles, e.g. 0.7,0.3")
    parser.add_argument("--mask", help="mask image: style 1 where white, style 2 where black (needs two --style)")
    parser.add_argument("--out", required=True, help="output image (or folder when --content is a folder)")
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs")
    parser.add_argument("--json", action="store_true", help="print a JSON report")
    add_style_arguments(parser)
    add_runtime_arguments(parser)
    parser.set_defaults(run=run)
    return parser


def _sources_and_targets(content: Path, out: Path) -> tuple[list[Path], list[Path]]:
    """The content images and the output file of each (``--content`` a file or a folder)."""
    if not content.exists():
        raise InputError(f"{content}: no such file or folder")
    if not content.is_dir():
        return [content], [out]
    from artnet.images import list_images

    sources = list_images(content)
    if not sources:
        raise InputError(f"{content} holds no images")
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file; with a folder of contents --out must be a folder")
    return sources, [out / f"{src.stem}.png" for src in sources]


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from artnet.images import load_image, load_tensor, resize, save_image, to_tensor

    content = Path(args.content)
    sources, targets = _sources_and_targets(content, Path(args.out))
    for target in targets:
        check_output_path(target, force=args.force)
    options = transform_options(args)
    if args.weights is not None and len(args.weights) != len(args.style):
        raise InputError(f"got {len(args.weights)} weights for {len(args.style)} styles")
    styles = [load_tensor(path, args.style_size) for path in args.style]
    mask_array = load_image(args.mask) if args.mask else None
    folder_run = content.is_dir()
    first = None if folder_run else load_tensor(sources[0], args.size)  # a bad single content fails before the model
    net = load_net(args)
    cached = [net.encode_style(s, 0) for s in styles]  # encoded once, reused for every content
    report: list[dict[str, Any]] = []
    failed: list[dict[str, str]] = []
    bar = tqdm(list(zip(sources, targets, strict=True)), desc="stylize", disable=len(sources) == 1 or args.json,
               unit="img")
    start = time.perf_counter()
    for src, target in bar:
        try:
            image = first if first is not None else load_tensor(src, args.size)
            mask = None
            if mask_array is not None:
                mask = resize(to_tensor(mask_array), image.shape[2], image.shape[3])[0].mean(0)
            result = net.stylize(image, cached, weights=args.weights, mask=mask, transform=args.transform,
                                 alpha=args.alpha, preserve_color=args.preserve_color, **options)
            save_image(result.image, target)
        except (InputError, OSError, MemoryError) as exc:
            if not folder_run:
                raise
            failed.append({"content": str(src), "error": error_message(exc)})  # report it, go on with the rest
            if not args.json:
                bar.write(f"error: {failed[-1]['error']}", file=sys.stderr)
            continue
        report.append({"content": str(src), "out": str(target), "size": f"{image.shape[3]}x{image.shape[2]}",
                       "seconds": round(result.seconds, 3),
                       "timings": {k: round(v, 3) for k, v in result.timings.items()}})
    alpha = net.default_alpha if args.alpha is None else args.alpha
    summary = {"transform": args.transform, "alpha": alpha, "styles": [str(s) for s in args.style],
               "weights": args.weights, "mask": args.mask, "preserve_color": args.preserve_color,
               "device": str(net.device), "images": len(report),
               "total_seconds": round(time.perf_counter() - start, 3), "outputs": report, "failed": failed}
    if args.json:
        print_json(summary)
    else:
        for row in report:
            print(f"{row['out']}  ({row['size']}, {row['seconds']:.2f} s)")
    if failed:
        names = ", ".join(Path(f["content"]).name for f in failed)
        print(f"error: {len(failed)} of {len(sources)} images failed ({names}); the other {len(report)} were written",
              file=sys.stderr)
        return 2
    return 0
