"""Speed of ArtNet against the VGG19 AdaIN network and the teacher's enc4/dec4 + WCT, in one process.

A thin wrapper around ``python -m artnet bench`` (:mod:`artnet.bench`) that prints the table with the
command, machine and date, the targets, and can keep the raw JSON:

    python benchmarks/artnet_speed.py --json-out weights/artnet_speed_cpu.json

Targets (issue 5) on a 2-core CPU: ArtNet <= 100 ms at 512x512, <= 2 s at 2048x2048, >= 5x faster than
the VGG19 AdaIN network at every size. On a GPU: >= 300 FPS at 512x512 and >= 15 FPS at 3840x2160.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from artnet.bench import DEFAULT_SIZES, MODELS, format_table, run_bench
from artnet.training import pick_device


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(DEFAULT_SIZES))
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--tile", type=int, default=1024)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    device = pick_device(args.device)
    result = run_bench(args.sizes.split(","), args.models.split(","), device, args.repeats, args.tile,
                       progress=lambda line: print(line, file=sys.stderr, flush=True))
    result["command"] = "python " + " ".join([os.path.relpath(sys.argv[0]), *sys.argv[1:]])
    print(f"## ArtNet speed\ncommand: {result['command']}")
    print(format_table(result))
    print()
    for row in result["rows"]:
        if row["model"] == "artnet" and row["style_cached"]:
            target = {"512x512": 100.0, "2048x2048": 2000.0}.get(row["size"])
            speedup = row.get("speedup_vs_adain_vgg19")
            checks = []
            if target is not None:
                checks.append(f"<= {target:.0f} ms: {'MET' if row['ms'] <= target else 'NOT MET'}")
            if speedup is not None:
                checks.append(f">= 5x VGG19 AdaIN: {'MET' if speedup >= 5 else 'NOT MET'} ({speedup:.1f}x)")
            print(f"target artnet {row['size']}: {row['ms']:.0f} ms; " + "; ".join(checks))
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
