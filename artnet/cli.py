"""Command line: ``python -m artnet stylize|video|bench|distill|prune|train-decoder|export``.

Conventions (CONTRIBUTING.md): ``--help`` everywhere, ``--json`` prints one JSON document on stdout,
bad input prints one ``error: ...`` line and exits with code 2, nothing is overwritten without ``--force``.
Inputs are validated before any model is loaded, so mistakes fail fast. Heavy imports happen inside each
command so ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prunelab.cli import cli_entry, positive_int, print_json
from prunelab.errors import InputError, error_message
from prunelab.io import check_output_path

TRANSFORM_CHOICES = ("s2", "adain", "wct")
Handler = Callable[[argparse.Namespace], int]


# -- argument helpers --------------------------------------------------------------------------------------
def _size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a pixel count, got {text!r}") from None
    from .images import validate_size

    try:
        return validate_size(value)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {value}")
    return value


def _weights(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"weights must be comma-separated numbers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("no weights given")
    return values


def _names(text: str) -> list[str]:
    names = [v.strip() for v in text.split(",") if v.strip()]
    if not names:
        raise argparse.ArgumentTypeError("no names given")
    return names


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors exit with code 2 through our one-line convention."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def _add_runtime_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--encoder", default="pruned",
                        help="pruned (default, shipped), unpruned, imagenet (needs internet and --decoder) or a "
                             "weights file")
    parser.add_argument("--decoder", help="decoder weights file (default: the shipped one)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda ...")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (default: torch's choice)")
    parser.add_argument("--tile", type=positive_int, default=1024,
                        help="tile side in pixels for large images (default 1024; memory is bounded by it)")


def _add_style_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--transform", choices=TRANSFORM_CHOICES, default="s2", help="feature transform (default s2)")
    parser.add_argument("--alpha", type=_fraction, default=1.0, help="style strength in [0, 1] (default 1)")
    parser.add_argument("--swap-weight", type=_fraction,
                        help="S2 only: share of the swapped (textured) features blended with the aligned ones, in "
                             "[0, 1] (default: artnet.transforms.s2.SWAP_WEIGHT)")
    parser.add_argument("--style-patches", type=positive_int,
                        help="S2 only: most style patches matched (default 4096); 1024 ran S2 about 2x faster at "
                             "512 px and kept about four fifths of its style gain over AdaIN")
    parser.add_argument("--preserve-color", action="store_true", help="keep the content's colours")
    parser.add_argument("--size", type=_size, default=512,
                        help="long side of the output in pixels, 16..4096 (default 512; 0 = keep the input's)")
    parser.add_argument("--style-size", type=_size, default=512, help="long side for style images (default 512)")


def _add_training_args(parser: argparse.ArgumentParser, steps: int, batch: int, crop: int, lr: float) -> None:
    parser.add_argument("--run", required=True, help="run folder: checkpoint.pt, log.jsonl (re-run to resume)")
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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m artnet",
                     description="ArtNet: real-time universal style transfer (GoogLeNet encoder, S2 transform).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("stylize", help="stylise an image, or every image of a folder",
                       description="Stylise --content (an image, or a folder: every image in it, with a progress "
                                   "bar) with one or more --style images.")
    p.add_argument("--content", required=True, help="content image or folder of images")
    p.add_argument("--style", required=True, action="append", help="style image (repeat to mix styles)")
    p.add_argument("--weights", type=_weights, help="mixing weights for several styles, e.g. 0.7,0.3")
    p.add_argument("--mask", help="mask image: style 1 where white, style 2 where black (needs two --style)")
    p.add_argument("--out", required=True, help="output image (or folder when --content is a folder)")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.add_argument("--json", action="store_true", help="print a JSON report")
    _add_style_args(p)
    _add_runtime_args(p)

    p = sub.add_parser("video", help="stylise a video or a folder of frames, with temporal stabilisation",
                       description="Frame-by-frame stylisation with smoothed statistics and flow-guided blending "
                                   "(artnet.video). --compare also runs plain per-frame stylisation and reports "
                                   "both warping errors.")
    p.add_argument("--input", required=True, help="video file (.mp4 ...) or folder of frames")
    p.add_argument("--style", required=True, help="style image")
    p.add_argument("--out", required=True, help="output .mp4 file or folder for PNG frames")
    p.add_argument("--stabilize", choices=("none", "stats", "flow", "both"), default="both",
                   help="temporal stabilisation (default both)")
    p.add_argument("--momentum", type=_fraction, default=0.9, help="statistics moving-average momentum (0.9)")
    p.add_argument("--blend", type=_fraction, default=0.6, help="weight of the warped previous output (0.6)")
    p.add_argument("--max-frames", type=int, default=0, help="stop after this many frames (0: all)")
    p.add_argument("--compare", action="store_true",
                   help="also stylise without stabilisation and report both warping errors")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    p.add_argument("--json", action="store_true", help="print a JSON report")
    _add_style_args(p)
    p.set_defaults(transform="adain")
    _add_runtime_args(p)

    p = sub.add_parser("bench", help="time ArtNet against the VGG19 AdaIN network and the teacher",
                       description="Speed benchmark (artnet.bench): ms per image with cached and uncached style "
                                   "features, and peak memory, in one process.")
    from .bench import DEFAULT_SIZES, MODELS

    p.add_argument("--sizes", default=",".join(DEFAULT_SIZES), help=f"comma-separated WxH (default "
                                                                    f"{','.join(DEFAULT_SIZES)})")
    p.add_argument("--models", default=",".join(MODELS), help=f"comma-separated subset of {','.join(MODELS)}")
    p.add_argument("--repeats", type=positive_int, default=3, help="timed runs per row up to 1024x1024 (3)")
    p.add_argument("--transform", choices=TRANSFORM_CHOICES, default="adain",
                   help="transform for the artnet rows (default adain)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda ...")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (default: torch's choice)")
    p.add_argument("--tile", type=positive_int, default=1024, help="tile side in pixels (default 1024)")
    p.add_argument("--style-size", type=_size, default=512, help="style image side (default 512)")
    p.add_argument("--json", action="store_true", help="print {device, rows: [...]} as JSON")

    p = sub.add_parser("distill", help="train the GoogLeNet encoder on the teacher's VGG-like features",
                       description="Feature distillation from ../shared/weights/teacher-cd16x (see artnet.distill). "
                                   "Resumable: re-run the same command.")
    _add_training_args(p, steps=1800, batch=8, crop=160, lr=2e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4, help="AdamW weight decay (default 1e-4)")
    p.add_argument("--sparsity", type=float, default=1.0,
                   help="weight of the channel group-sparsity term that creates zero channels (default 1.0)")
    p.add_argument("--levels", type=_names,
                   help="comma-separated student levels matched to the teacher, from conv1,conv3,inception3b "
                        "(default conv1,inception3b; see artnet.distill)")

    p = sub.add_parser("prune", help="zero-channel prune the distilled encoder (core_pruning, criterion zero)",
                       description="Calibrate on all training images, remove channels that are zero on all of them, "
                                   "verify identical outputs, measure firing on held-out images (artnet.prune).")
    p.add_argument("--encoder", required=True, help="unpruned encoder weights (from distill --export)")
    p.add_argument("--out", required=True, help="pruned encoder weights to write (card and plan beside it)")
    p.add_argument("--force", action="store_true", help="overwrite --out")
    p.add_argument("--no-shared", action="store_true", help="calibrate on wheel images only")
    p.add_argument("--threads", type=int, default=0, help="CPU threads")
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    p = sub.add_parser("train-decoder", help="train the decoder to invert the (pruned) encoder",
                       description="Reconstruction training (pixel L1 + teacher perceptual loss), see "
                                   "artnet.train_decoder. Resumable: re-run the same command.")
    _add_training_args(p, steps=1000, batch=8, crop=160, lr=2e-3)
    p.add_argument("--encoder", default="", help="encoder weights (default: shipped pruned encoder) or imagenet")
    p.add_argument("--perceptual-weight", type=float, default=0.05, help="weight of the perceptual term (0.05)")
    p.add_argument("--objective", choices=("reconstruction", "adain"), default="reconstruction",
                   help="reconstruction (invert the encoder) or adain (teacher-scored content + style loss on "
                        "train content x style pairs, plus reconstruction; see artnet.train_decoder)")
    p.add_argument("--content-weight", type=float, default=1.0, help="adain objective: content term weight (1)")
    p.add_argument("--style-weight", type=float, default=1.0, help="adain objective: style term weight (1)")
    p.add_argument("--reconstruction-weight", type=float, default=1.0,
                   help="adain objective: weight of the reconstruction term (1)")
    p.add_argument("--init", default="", help="start from these decoder weights (e.g. weights/artnet_decoder.pt) "
                                              "instead of random ones")
    p.add_argument("--validation-size", type=_size, default=256,
                   help="adain objective: long side of the validation pairs scored at each checkpoint (256)")

    p = sub.add_parser("export", help="write encoder + AdaIN + decoder as one ONNX or TorchScript graph",
                       description="Export for deployment runtimes (artnet.export): inputs content, style (images "
                                   "in [0, 1], sides multiples of 8) and alpha; the written file is run and "
                                   "compared with PyTorch before the command succeeds.")
    p.add_argument("--format", required=True, choices=("onnx", "torchscript"), help="graph format")
    p.add_argument("--out", required=True, help="folder to write artnet_adain.{onnx,torchscript.pt} and its card to")
    p.add_argument("--encoder", default="pruned", help="pruned (default, shipped), unpruned or a weights file")
    p.add_argument("--decoder", help="decoder weights file (default: the shipped one)")
    p.add_argument("--force", action="store_true", help="overwrite an earlier export in --out")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (default: torch's choice)")
    p.add_argument("--json", action="store_true", help="print the export report as JSON")
    return parser


# -- commands ----------------------------------------------------------------------------------------------
def _transform_options(args: argparse.Namespace) -> dict[str, Any]:
    """Options of the chosen transform given on the command line (``--swap-weight``, ``--style-patches``: S2)."""
    given = {flag: (key, value) for flag, key, value in (("--swap-weight", "swap_weight", args.swap_weight),
                                                         ("--style-patches", "max_style_patches", args.style_patches))
             if value is not None}
    if given and args.transform != "s2":
        raise InputError(f"{next(iter(given))} applies to --transform s2, not {args.transform}")
    return dict(given.values())


def _load_net(args: argparse.Namespace):
    from prunelab.device import set_threads

    from .model import ArtNet

    set_threads(args.threads)
    return ArtNet.load(args.encoder, args.decoder, device=args.device, tile=args.tile)


def _stylize(args: argparse.Namespace) -> int:
    import time

    from tqdm import tqdm

    from .images import list_images, load_image, load_tensor, resize, save_image, to_tensor

    content = Path(args.content)
    out = Path(args.out)
    if not content.exists():
        raise InputError(f"{content}: no such file or folder")
    if content.is_dir():
        sources = list_images(content)
        if not sources:
            raise InputError(f"{content} holds no images")
        if out.exists() and not out.is_dir():
            raise InputError(f"{out} is a file; with a folder of contents --out must be a folder")
        targets = [out / f"{src.stem}.png" for src in sources]
    else:
        sources, targets = [content], [out]
    for target in targets:
        check_output_path(target, force=args.force)
    options = _transform_options(args)
    if args.weights is not None and len(args.weights) != len(args.style):
        raise InputError(f"got {len(args.weights)} weights for {len(args.style)} styles")
    styles = [load_tensor(path, args.style_size) for path in args.style]
    mask_array = load_image(args.mask) if args.mask else None
    folder_run = content.is_dir()
    first = None if folder_run else load_tensor(sources[0], args.size)  # a bad single content fails before the model
    net = _load_net(args)
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
    summary = {"transform": args.transform, "alpha": args.alpha, "styles": [str(s) for s in args.style],
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


def _video(args: argparse.Namespace) -> int:
    import time

    from tqdm import tqdm

    from .images import fit_long_side, load_tensor, resize, to_tensor, to_uint8
    from .video import FrameWriter, VideoStylizer, frame_count, read_frames, video_fps, warping_error

    source = Path(args.input)
    if not source.exists():
        raise InputError(f"{source}: no such file or folder")
    out = check_output_path(args.out, force=args.force)
    options = _transform_options(args)
    style_image = load_tensor(args.style, args.style_size)
    net = _load_net(args)
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
    if args.json:
        print_json(summary)
    else:
        for key, value in summary.items():
            print(f"{key}: {value}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from prunelab.device import resolve_device, set_threads

    from .bench import format_table, run_bench

    set_threads(args.threads)
    device = resolve_device(args.device)
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if not sizes or not models:
        raise InputError("give at least one size and one model")
    log = None if args.json else (lambda line: print(line, file=sys.stderr, flush=True))
    result = run_bench(sizes, models, device, args.repeats, args.tile, transform=args.transform,
                       style_size=args.style_size or 512, progress=log)
    result["command"] = "python -m artnet " + shlex.join(args.argv)
    if args.json:
        print_json(result)
    else:
        print(format_table(result))
    return 0


def _distill(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from .distill import DistillConfig, run_distillation
    from .weights import write_card

    _check_export(args)
    levels = {"levels": tuple(args.levels)} if args.levels else {}
    config = DistillConfig(steps=args.steps, batch=args.batch, crop=args.crop, lr=args.lr,
                           weight_decay=args.weight_decay, sparsity=args.sparsity, seed=args.seed,
                           threads=args.threads, device=args.device, use_shared=not args.no_shared, **levels)
    summary = run_distillation(config, args.run, export=args.export, progress=not args.no_progress)
    if args.export:
        write_card(args.export, _card("distilled GoogLeNet encoder (BatchNorm folded, not pruned)", summary, args,
                                      asdict(config)))
    _report(summary, args.json)
    return 0


def _prune(args: argparse.Namespace) -> int:
    from .pruning_run import run_pruning

    out = check_output_path(args.out, force=args.force)
    from prunelab.device import set_threads

    set_threads(args.threads)
    report = run_pruning(Path(args.encoder), out, use_shared=not args.no_shared,
                         command="python -m artnet " + shlex.join(args.argv))
    if args.json:
        print_json(report)
    else:
        from .pruning_run import format_report

        print(format_report(report))
    return 0


def _train_decoder(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from .train_decoder import DecoderConfig, run_decoder_training
    from .weights import write_card

    _check_export(args)
    config = DecoderConfig(encoder=args.encoder, steps=args.steps, batch=args.batch, crop=args.crop, lr=args.lr,
                           perceptual_weight=args.perceptual_weight, seed=args.seed, threads=args.threads,
                           device=args.device, use_shared=not args.no_shared, objective=args.objective,
                           content_weight=args.content_weight, style_weight=args.style_weight,
                           reconstruction_weight=args.reconstruction_weight,
                           validation_size=args.validation_size, init=args.init)
    summary = run_decoder_training(config, args.run, export=args.export, progress=not args.no_progress)
    if args.export:
        what = "decoder inverting the encoder " + (args.encoder or "weights/artnet_encoder.pt")
        write_card(args.export, _card(what, summary, args, asdict(config)))
    _report(summary, args.json)
    return 0


def _export(args: argparse.Namespace) -> int:
    from prunelab.device import set_threads

    from .export import export
    from .model import ArtNet

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file; --out must be a folder")
    if args.encoder == "imagenet":
        raise InputError("export the ImageNet encoder by passing its weights file and --decoder")
    set_threads(args.threads)
    net = ArtNet.load(args.encoder, args.decoder, device="cpu")
    report = export(net.encoder, net.decoder, args.format, out, force=args.force,
                    source={"encoder": args.encoder, "decoder": args.decoder or "shipped",
                            "command": "python -m artnet " + shlex.join(args.argv)})
    if args.json:
        print_json(report.to_dict())
    else:
        diff = "not checked" if report.max_abs_diff is None else f"max |diff| {report.max_abs_diff:.2e}"
        print(f"wrote {report.path} and {report.card}; checked with {report.checked_with}: {diff} "
              f"(tolerance {report.tolerance})")
    return 0


COMMANDS: dict[str, Handler] = {"stylize": _stylize, "video": _video, "bench": _bench, "distill": _distill,
                                "prune": _prune, "train-decoder": _train_decoder, "export": _export}


def _check_export(args: argparse.Namespace) -> None:
    if args.export:
        check_output_path(args.export, force=args.force)


def _card(what: str, summary: dict, args: argparse.Namespace, config: dict) -> dict:
    import datetime
    import platform

    return {
        "weights": Path(args.export).name,
        "what": what,
        "data": "../shared/data/style content (7) + style (20) images, and wheel images "
                "(skimage/sklearn/matplotlib; artnet.data.TRAIN_WHEEL); held out: artnet.data.HELDOUT_WHEEL "
                "+ every 4th mountain_2 frame" + (" [run with --no-shared: wheel images only]"
                                                  if getattr(args, "no_shared", False) else ""),
        "augmentation": "random resized square crops (0.3-1 of the short side), horizontal flips, brightness/"
                        "contrast/saturation jitter +-25%, 10% greyscale (artnet.data.RandomCrops)",
        "teacher": "MingSun-Tse/Collaborative-Distillation 16x VGG19 auto-encoders (MIT, Huan Wang et al.), "
                   "../shared/weights/teacher-cd16x",
        "seed": args.seed,
        "config": config,
        "summary": summary,
        "command": "python -m artnet " + shlex.join(args.argv),
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} CPU cores",
        "date": datetime.date.today().isoformat(),
    }


def _report(summary: dict, as_json: bool) -> None:
    if as_json:
        print_json(summary)
    else:
        for key, value in summary.items():
            print(f"{key}: {value}")


@cli_entry
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    return COMMANDS[args.command](args) or 0
