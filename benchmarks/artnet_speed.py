"""Speed of ArtNet against the teacher it was distilled from (enc4/dec4 + AdaIN, + WCT) and VGG19 AdaIN, in one process.

A thin wrapper around ``python -m artnet bench`` (:mod:`artnet.bench`) that prints the table with the
command, machine and date, the targets, and can keep the raw JSON:

    python benchmarks/artnet_speed.py --json-out weights/artnet_speed_cpu.json

Targets on a 2-core CPU: ArtNet <= 100 ms at 512x512, <= 2 s at 2048x2048, >= 5x faster than the VGG19 AdaIN
network at every size (issue 5); ArtNet AdaIN >= 2x the teacher's AdaIN at 512x512 and 1024x1024 and ArtNet S2 no
slower than the teacher's WCT (issue 13). On a GPU: >= 300 FPS at 512x512 and >= 15 FPS at 3840x2160.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from artnet.bench import DEFAULT_SIZES, MODELS, format_table, run_bench
from artnet.model import PRECISIONS
from artnet.runtime import retain_freed_memory
from prunelab.device import resolve_device


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(DEFAULT_SIZES))
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--tile", type=int, default=1024)
    parser.add_argument("--precision", choices=tuple(PRECISIONS), default="float32",
                        help="dtype of every network's convolutions (autocast), the same for all rows")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    device = resolve_device(args.device)
    if device.type == "cpu":
        retain_freed_memory()  # as `python -m artnet bench` and `stylize` do (artnet.runtime)
    result = run_bench(args.sizes.split(","), args.models.split(","), device, args.repeats, args.tile,
                       progress=lambda line: print(line, file=sys.stderr, flush=True), precision=args.precision)
    result["command"] = "python " + " ".join([os.path.relpath(sys.argv[0]), *sys.argv[1:]])
    print(f"## ArtNet speed\ncommand: {result['command']}")
    print(format_table(result))
    print()
    for line in target_lines(result["rows"], on_gpu=device.type == "cuda"):
        print(line)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


def _ms(rows: list[dict], model: str, size: str) -> float | None:
    return next((r["ms"] for r in rows if r["model"] == model and r["size"] == size and r["style_cached"]), None)


def target_lines(rows: list[dict], on_gpu: bool) -> list[str]:
    """One MET / NOT MET line per target whose rows were measured (style features cached)."""
    lines = []
    for size in ("512x512", "1024x1024"):
        ours, teacher = _ms(rows, "artnet", size), _ms(rows, "teacher_adain", size)
        if ours and teacher:
            ratio = teacher / ours
            lines.append(f"target artnet (adain) >= 2x teacher_adain at {size}: {'MET' if ratio >= 2 else 'NOT MET'}"
                         f" ({ratio:.2f}x: {ours:.0f} vs {teacher:.0f} ms)")
    for size in sorted({r["size"] for r in rows}):
        ours, teacher = _ms(rows, "artnet_s2", size), _ms(rows, "teacher_wct", size)
        if ours and teacher:
            lines.append(f"target artnet_s2 no slower than teacher_wct at {size}: "
                         f"{'MET' if ours <= teacher else 'NOT MET'} ({ours:.0f} vs {teacher:.0f} ms)")
    if on_gpu:
        for size, fps_target in (("512x512", 300), ("3840x2160", 15)):
            ours = _ms(rows, "artnet", size)
            if ours:
                fps = 1000 / ours
                lines.append(f"target artnet >= {fps_target} FPS at {size}: {'MET' if fps >= fps_target else 'NOT MET'}"
                             f" ({fps:.0f} FPS)")
    for row in rows:
        if row["model"] == "artnet" and row["style_cached"] and not on_gpu:
            target = {"512x512": 100.0, "2048x2048": 2000.0}.get(row["size"])
            speedup = row.get("speedup_vs_adain_vgg19")
            checks = []
            if target is not None:
                checks.append(f"<= {target:.0f} ms: {'MET' if row['ms'] <= target else 'NOT MET'}")
            if speedup is not None:
                checks.append(f">= 5x VGG19 AdaIN: {'MET' if speedup >= 5 else 'NOT MET'} ({speedup:.1f}x)")
            lines.append(f"target artnet {row['size']}: {row['ms']:.0f} ms; " + "; ".join(checks))
    return lines


if __name__ == "__main__":
    sys.exit(main())
