"""Prune ResNeXt-50 (32x4d): grouped 3x3 convolutions keep every conv group the same width.

A grouped convolution only stays valid when each of its ``groups`` loses the same number of input (and output)
channels at the same local positions. ``core_pruning.prune`` ranks such channels in units -- local index ``j`` of
every group at once -- so any criterion and budget works; the report lists the narrowest layers (the default
floor keeps at least 10% of every layer).

Run: ``python examples/prune_resnext.py`` (224 px, about a minute on 2 CPU cores; ``--image-size 64`` is quick)
"""

from __future__ import annotations

import argparse

import torch
import torchvision
from torch import nn

import core_pruning as cp


def main(argv: list[str] | None = None) -> cp.PruneResult:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--target-flops", type=float, default=0.5)
    parser.add_argument("--criterion", default="cpmc")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    model = torchvision.models.resnext50_32x4d(weights=None).eval()  # or weights="DEFAULT" with internet
    x = torch.randn(1, 3, args.image_size, args.image_size)
    result = cp.prune(model, x, criterion=args.criterion, target_flops=args.target_flops)
    assert model(x).shape == (1, 1000)
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d) and m.groups > 1:
            assert m.in_channels % m.groups == 0 and m.out_channels % m.groups == 0, name
    print(f"FLOPs kept {result.report['flops_ratio']:.3f}, params kept {result.report['params_ratio']:.3f}")
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d) and m.groups > 1:
            print(f"{name}: {m.in_channels} -> {m.out_channels} channels in {m.groups} groups")
    print("narrowest:", ", ".join(f"{r['layer']} {r['kept']}/{r['of']}" for r in result.report["narrowest_layers"]))
    return result


if __name__ == "__main__":
    main()
