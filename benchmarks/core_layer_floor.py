"""What the default per-layer floor changes: narrowest layers with and without ``min_kept_fraction``.

For each model (seeded random weights, 224 px) and floor, ``cpmc`` prunes to 50% FLOPs; the table gives FLOPs and
params kept, how many convolutions end at <= 10% of their width and the narrowest layer. ``0.0`` is the floor of
one channel that was the default before ``min_kept_fraction=0.1``.

Run: ``python benchmarks/core_layer_floor.py [--models resnet50,densenet121] [--floors 0,0.1]``
"""

from __future__ import annotations

import argparse
import sys

import torch
import torchvision
from core_common import header, table
from torch import nn

import core_pruning as cp


def row(name: str, floor: float, x: torch.Tensor) -> dict:
    torch.manual_seed(0)
    model = torchvision.models.get_model(name, weights=None).eval()
    original = {n: m.out_channels for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    report = cp.prune(model, x, criterion="cpmc", target_flops=0.5, min_kept_fraction=floor).report
    kept = {n: m.out_channels / original[n] for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    narrow = report["narrowest_layers"][0]
    return {"model": name, "min_kept_fraction": floor, "FLOPs kept": f"{report['flops_ratio']:.4f}",
            "params kept": f"{report['params_ratio']:.3f}",
            "convs at <= 10% width": f"{sum(v <= 0.1 for v in kept.values())} / {len(kept)}",
            "narrowest layer": f"{narrow['layer']} {narrow['kept']}/{narrow['of']}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="resnet50,densenet121")
    parser.add_argument("--floors", default="0,0.1")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    rows = [row(m, float(f), x) for m in args.models.split(",") for f in args.floors.split(",")]
    print(header("Per-layer floor: cpmc to 50% FLOPs, 224 px, seeded random weights"))
    print(table(rows, list(rows[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
