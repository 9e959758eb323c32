"""Prune a user's model whose forward uses a loose ``nn.Parameter`` (not inside any layer).

Torch-Pruning users hit this often: a learnable per-channel scale or bias applied as ``x * self.scale`` is not
part of a conv/linear/norm layer, so a tracer that only knows layers would leave it at the old width and the
pruned model would fail. Torch-Pruning detects such parameters and prunes their last non-singleton dimension
with the channels they touch; ``core_pruning.prune`` relies on that and checks the dimension matches (a
parameter whose shape does not line up leaves its group whole, listed in ``report["unsupported"]``).

Run: ``python examples/prune_custom_loose_parameter.py``
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

import core_pruning as cp


class ScaledNet(nn.Module):
    """conv -> a learnable per-channel scale (a loose parameter) -> conv -> pool -> linear."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, padding=1)
        self.scale = nn.Parameter(torch.linspace(0.5, 1.5, width).view(1, width, 1, 1))
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.fc = nn.Linear(2 * width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv1(x)) * self.scale
        x = torch.relu(self.conv2(x))
        return self.fc(x.mean((2, 3)))


def main(argv: list[str] | None = None) -> cp.PruneResult:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--target-flops", type=float, default=0.5)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    model = ScaledNet().eval()
    x = torch.randn(1, 3, args.image_size, args.image_size)
    result = cp.prune(model, x, criterion="cpmc", target_flops=args.target_flops)
    assert model.scale.shape[1] == model.conv1.out_channels  # the loose parameter followed its channels
    assert model(x).shape == (1, 10)
    print(f"FLOPs kept {result.report['flops_ratio']:.3f}; conv1 {model.conv1.out_channels}/32 channels, "
          f"scale {tuple(model.scale.shape)}; groups left whole: {result.report['unsupported'] or 'none'}")
    return result


if __name__ == "__main__":
    main()
