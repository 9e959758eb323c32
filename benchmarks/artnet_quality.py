"""Quality of ArtNet (S2, AdaIN, WCT) against the teacher's own VGG19-derived enc4/dec4 (AdaIN, WCT).

On the 7 content x 20 style grid of ``../shared/data/style`` at 512 px (long side), every method stylises
every pair (alpha 1 unless the method's name says otherwise), and the teacher network -- independent of
the ArtNet encoder -- scores the result:

* content loss: MSE of teacher relu4_1 (aux, VGG width) features, output vs content;
* style loss (mean/std): sum over relu1_1..relu4_1 of the mean squared differences of channel means and
  standard deviations, output vs style (style at 512 px);
* style loss (Gram): sum over the same layers of the mean squared Gram-matrix difference;
* edge SSIM: SSIM of Sobel edge magnitudes, output vs content (structure kept, higher is better).

Prints the table (means over all pairs, with the command, machine and date), the target check
("S2 has lower style loss than AdaIN at a content loss within 10% of AdaIN's"), and writes a small PNG grid
of examples plus the raw numbers as JSON.

    python benchmarks/artnet_quality.py --grid weights/artnet_quality_grid.png --json-out weights/artnet_quality.json

``--split test`` scores the stylisation split's held-out test pairs instead (:data:`artnet.data.STYLIZATION_SPLIT`:
4 contents x 5 styles that no decoder trained or tuned on) and prints issue 13's check -- each ArtNet method's
content and mean/std style loss as ratios to ``teacher_adain``, target <= 1.10 for both; ``--split validation``
the pairs where settings are chosen. ``--decoder`` scores other decoder weights in the ArtNet rows.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from core_common import header

from artnet import ArtNet
from artnet.data import SPLIT_PARTS, split_images
from artnet.images import fit_long_side, load_tensor, resize, to_tensor, to_uint8
from artnet.metrics import (
    content_loss,
    edge_ssim,
    style_loss_gram,
    style_loss_meanstd,
    teacher_features,
)
from artnet.teacher import load_teacher_decoder, load_teacher_encoder
from prunelab.paths import shared_path

METHODS = {  # name -> (network, transform, transform options)
    "artnet_s2": ("artnet", "s2", {}),  # default swap strength (artnet.transforms.s2.SWAP_WEIGHT)
    "artnet_s2_swap1": ("artnet", "s2", {"swap_weight": 1.0}),  # the plain sandwich: every patch swapped
    # the plain sandwich traded toward the raw content with alpha instead, to compare at equal content loss
    "artnet_s2_swap1_alpha0.8": ("artnet", "s2", {"swap_weight": 1.0, "alpha": 0.8}),
    "artnet_s2_wct": ("artnet", "s2", {"align": "wct"}),  # whitening/colouring as the "bread"
    "artnet_adain": ("artnet", "adain", {}),
    "artnet_wct": ("artnet", "wct", {}),
    "teacher_adain": ("teacher", "adain", {}),
    "teacher_wct": ("teacher", "wct", {}),
    "teacher_s2": ("teacher", "s2", {}),  # the S2 transform on the teacher's features: S2 independent of ArtNet
}
#: Run only when named in --methods (not part of the default table).
EXTRA_METHODS = {
    "artnet_s2_p1024": ("artnet", "s2", {"max_style_patches": 1024}),  # a 4x coarser style-patch grid: ~2x faster
    # the patch matching scored in float32 everywhere (the default, "auto", uses bfloat16 on AMX/AVX512-BF16 CPUs
    # and CUDA): shows what the reduced-precision argmax changes
    "artnet_s2_match_float32": ("artnet", "s2", {"match_dtype": "float32"}),
    # fixed alphas (the commands of docs/artnet.md before --alphas existed; --alphas adds any others)
    "artnet_s2_alpha0.8": ("artnet", "s2", {"alpha": 0.8}),
    "artnet_s2_alpha0.6": ("artnet", "s2", {"alpha": 0.6}),
    # cheaper patch matching (issue 13's S2-vs-teacher-WCT speed): half the style patches, or half the PCA
    # directions matched on
    "artnet_s2_p2048": ("artnet", "s2", {"max_style_patches": 2048}),
    "artnet_s2_k32": ("artnet", "s2", {"match_channels": 32}),
    "artnet_s2_k32_p2048": ("artnet", "s2", {"match_channels": 32, "max_style_patches": 2048}),
    "artnet_s2_k64_p4096": ("artnet", "s2", {"match_channels": 64, "max_style_patches": 4096}),
}
ALL_METHODS = {**METHODS, **EXTRA_METHODS}
GRID_PAIRS = (("golden_gate", "la_muse"), ("sailboat", "brushstrokes"), ("modern", "picasso_self_portrait"),
              ("cornell", "woman_with_hat_matisse"))


def make_grid(cells: list[list[np.ndarray]], labels: list[str], side: int, path: Path) -> None:
    """Rows of equally sized cells (each shrunk to fit ``side``, never enlarged) with a label strip on top, saved
    as a palette PNG (small file) or, for a ``.jpg`` path, a quality-90 JPEG (full colour, for 100 % crops)."""
    from PIL import Image, ImageDraw

    rows, cols = len(cells), len(cells[0])
    strip = 14
    canvas = Image.new("RGB", (cols * side, strip + rows * side), "white")
    draw = ImageDraw.Draw(canvas)
    for c, label in enumerate(labels):
        draw.text((c * side + 3, 1), label, fill="black")
    for r, row in enumerate(cells):
        for c, cell in enumerate(row):
            image = Image.fromarray(cell)
            image.thumbnail((side, side))
            canvas.paste(image, (c * side + (side - image.width) // 2, strip + r * side + (side - image.height) // 2))
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        canvas.save(path, quality=90)
    else:
        canvas.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=512, help="long side of contents and styles (512)")
    parser.add_argument("--contents", type=int, default=0, help="use only the first N contents (0: all 7)")
    parser.add_argument("--styles", type=int, default=0, help="use only the first N styles (0: all 20)")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help=f"comma-separated methods (default: all but {', '.join(EXTRA_METHODS)})")
    parser.add_argument("--grid", type=Path, help="write an example grid PNG here")
    parser.add_argument("--grid-side", type=int, default=112, help="grid cell side in pixels (112)")
    parser.add_argument("--json-out", type=Path, help="write all numbers here")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--split", type=_split_parts,
                        help="score a part of the stylisation split instead of the 7 x 20 grid (test: held out); "
                             "several parts joined by '+' pool their contents and styles (e.g. train+validation)")
    parser.add_argument("--alphas", type=_alphas, default=(),
                        help="comma-separated alphas in [0, 1]: adds an artnet_s2_alpha<A> row for each")
    parser.add_argument("--decoder", type=Path, help="decoder weights for the ArtNet rows (default: the shipped one)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    methods = [m for m in args.methods.split(",") if m]
    for alpha in args.alphas:
        ALL_METHODS[f"artnet_s2_alpha{alpha:g}"] = ("artnet", "s2", {"alpha": alpha})
        methods.append(f"artnet_s2_alpha{alpha:g}")
    unknown = [m for m in methods if m not in ALL_METHODS]
    if unknown:
        parser.error(f"unknown method {unknown[0]!r}; known: {', '.join(ALL_METHODS)}")
    contents, styles = (_split_images(args.split, args.size) if args.split else
                        (_grid_images("content", args.size), _grid_images("style", args.size)))
    contents, styles = contents[: args.contents or None], styles[: args.styles or None]
    nets = {"artnet": ArtNet.load(device="cpu", decoder=args.decoder),
            "teacher": ArtNet(load_teacher_encoder(4), load_teacher_decoder(4), device="cpu")}
    teacher = load_teacher_encoder(4)
    style_cache = {net: {} for net in nets}
    style_feats = {}
    per_method: dict[str, list[dict]] = {m: [] for m in methods}
    grid_images: dict[tuple[str, str, str], np.ndarray] = {}
    start = time.perf_counter()
    for content_path, load_content in contents:
        content = load_content()
        content_feats = teacher_features(teacher, content)
        for style_path, load_style in styles:
            style = load_style()
            if style_path.stem not in style_feats:
                style_feats[style_path.stem] = teacher_features(teacher, style)
            for method in methods:
                net_name, transform, options = ALL_METHODS[method]
                net = nets[net_name]
                if style_path.stem not in style_cache[net_name]:
                    style_cache[net_name] = {style_path.stem: net.encode_style(style, 0)}  # one style at a time
                result = net.stylize(content, style_cache[net_name][style_path.stem], transform=transform, **options)
                out_feats = teacher_features(teacher, result.image)
                per_method[method].append({
                    "content": content_path.stem, "style": style_path.stem,
                    "content_loss": content_loss(out_feats, content_feats),
                    "style_loss_meanstd": style_loss_meanstd(out_feats, style_feats[style_path.stem]),
                    "style_loss_gram": style_loss_gram(out_feats, style_feats[style_path.stem]),
                    "edge_ssim": edge_ssim(result.image, content),
                    "seconds": result.seconds,
                })
                if (content_path.stem, style_path.stem) in GRID_PAIRS:
                    grid_images[(content_path.stem, style_path.stem, method)] = to_uint8(result.image)
                    grid_images[(content_path.stem, style_path.stem, "content")] = to_uint8(content)
                    grid_images[(content_path.stem, style_path.stem, "style")] = to_uint8(style)
        print(f"done {content_path.stem} ({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)

    keys = ("content_loss", "style_loss_meanstd", "style_loss_gram", "edge_ssim", "seconds")
    summary = {m: {k: float(np.mean([r[k] for r in rows])) for k in keys} for m, rows in per_method.items()}
    pairs = len(contents) * len(styles)
    print(header(f"ArtNet quality: {len(contents)} contents x {len(styles)} styles = {pairs} pairs at {args.size} px"))
    print()
    print("| method | content loss (relu4_1) | style loss mean/std | style loss Gram | edge SSIM | s/image |")
    print("|---|---:|---:|---:|---:|---:|")
    for method, s in summary.items():
        print(f"| {method} | {s['content_loss']:.4f} | {s['style_loss_meanstd']:.4f} | {s['style_loss_gram']:.4f} | "
              f"{s['edge_ssim']:.3f} | {s['seconds']:.2f} |")
    verdict = {}
    for name in [m for m in summary if m.startswith("artnet_s2")] if "artnet_adain" in summary else []:
        s2, ada = summary[name], summary["artnet_adain"]
        wins = {k: sum(a[k] < b[k] for a, b in zip(per_method[name], per_method["artnet_adain"], strict=True))
                for k in ("style_loss_meanstd", "style_loss_gram")}
        v = {
            "content_loss_ratio_s2_over_adain": s2["content_loss"] / ada["content_loss"],
            "style_meanstd_ratio_s2_over_adain": s2["style_loss_meanstd"] / ada["style_loss_meanstd"],
            "style_gram_ratio_s2_over_adain": s2["style_loss_gram"] / ada["style_loss_gram"],
            "pairs_where_s2_style_meanstd_lower": wins["style_loss_meanstd"],
            "pairs_where_s2_style_gram_lower": wins["style_loss_gram"],
            "pairs": pairs,
        }
        v["target_met"] = v["style_meanstd_ratio_s2_over_adain"] < 1 and v["content_loss_ratio_s2_over_adain"] <= 1.1
        verdict[name] = v
        print()
        print(f"target ({name} style loss < artnet_adain's at content loss within 10%): "
              f"{'MET' if v['target_met'] else 'NOT MET'} -- content x{v['content_loss_ratio_s2_over_adain']:.3f}, "
              f"style mean/std x{v['style_meanstd_ratio_s2_over_adain']:.3f}, "
              f"Gram x{v['style_gram_ratio_s2_over_adain']:.3f}"
              f"; lower mean/std style loss on {wins['style_loss_meanstd']}/{pairs} pairs")
    if "teacher_adain" in summary:  # issue 13: ArtNet at least the teacher's AdaIN, each loss within 10 %
        ref = summary["teacher_adain"]
        print()
        for name in (m for m in summary if m.startswith("artnet_")):
            c = summary[name]["content_loss"] / ref["content_loss"]
            st = summary[name]["style_loss_meanstd"] / ref["style_loss_meanstd"]
            verdict.setdefault(name, {}).update(content_ratio_vs_teacher_adain=c, style_ratio_vs_teacher_adain=st,
                                                target_vs_teacher_met=c <= 1.10 and st <= 1.10)
            print(f"vs teacher_adain ({name}: content and mean/std style loss each <= 1.10x): "
                  f"{'MET' if c <= 1.10 and st <= 1.10 else 'NOT MET'} -- content x{c:.3f}, style x{st:.3f}")
    if args.grid and grid_images:
        shown = [p for p in GRID_PAIRS if (p[0], p[1], "content") in grid_images]
        columns = ["content", "style", *methods]
        cells = [[grid_images[(c, s, col)] for col in columns] for c, s in shown]
        make_grid(cells, [c.replace("artnet_", "ArtNet ").replace("teacher_", "teacher ") for c in columns],
                  args.grid_side, args.grid)
        print(f"grid: {args.grid} ({args.grid.stat().st_size / 1024:.0f} KB)")
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps({"summary": summary, "verdict": verdict, "size": args.size,
                                             "split": args.split or "grid", "decoder": str(args.decoder or ""),
                                             "rows": per_method}, indent=1) + "\n")
    return 0


def _grid_images(kind: str, size: int) -> list[tuple[Path, object]]:
    """``(path, loader)`` of the ``../shared/data/style`` grid's contents or styles, loaded at long side ``size``."""
    return [(path, lambda path=path: load_tensor(path, size))
            for path in sorted(shared_path("data", "style", kind).iterdir())]


def _alphas(text: str) -> tuple[float, ...]:
    """``--alphas``' value checked: comma-separated numbers in [0, 1]."""
    try:
        values = tuple(float(a) for a in text.split(",") if a.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"alphas must be comma-separated numbers, got {text!r}") from None
    if any(not 0.0 <= a <= 1.0 for a in values):
        raise argparse.ArgumentTypeError(f"each alpha must be in [0, 1], got {text!r}")
    return values


def _split_parts(text: str) -> str:
    """``--split``'s value checked: parts of :data:`SPLIT_PARTS` joined by ``+``, test never pooled."""
    parts = text.split("+")
    unknown = [p for p in parts if p not in SPLIT_PARTS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown split part {unknown[0]!r}; choose from {', '.join(SPLIT_PARTS)}")
    if "test" in parts and len(parts) > 1:
        raise argparse.ArgumentTypeError("the held-out test part is scored on its own, never pooled")
    return text


def _split_images(split: str, size: int) -> tuple[list, list]:
    """``(name, loader)`` lists of the contents and styles of the stylisation-split parts in ``split`` (joined by
    ``+``) at long side ``size``."""
    def loader(array: np.ndarray):
        def load() -> torch.Tensor:
            x = to_tensor(array)
            return resize(x, *fit_long_side(x.shape[2], x.shape[3], size))
        return load

    return tuple([(Path(name), loader(array)) for part in split.split("+")
                  for name, array in split_images(part, kind).items()]
                 for kind in ("content", "style"))


if __name__ == "__main__":
    sys.exit(main())
