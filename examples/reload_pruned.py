"""Save a pruned model and load it back -- the question most often asked on Torch-Pruning's tracker.

A pruned model's layers have other shapes than its class builds, so ``load_state_dict`` into a fresh instance
fails, and pickling the whole model ties the file to the code. ``cp.save_pruned`` writes the replayable plan and
the weights in one file; ``cp.load_pruned`` rebuilds the base architecture, replays the plan and loads the
weights with ``torch.load(weights_only=True)`` (no pickled code runs). The plan alone (JSON) also replays.

Run: ``python examples/reload_pruned.py [--model resnext50_32x4d] [--out DIR]``
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
import torchvision

import core_pruning as cp


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnext50_32x4d", help="a torchvision classifier name")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--out", default=None, help="folder for the files (default: a temporary one)")
    args = parser.parse_args(argv)
    kwargs = {"image_size": args.image_size} if args.model.startswith("vit") else {}
    build = lambda: torchvision.models.get_model(args.model, weights=None, **kwargs).eval()  # noqa: E731
    x = torch.randn(1, 3, args.image_size, args.image_size)
    torch.manual_seed(0)
    model = build()
    # budgets: target_flops / target_params / keep_ratio are fractions KEPT; pruning_ratio is the fraction of
    # channels REMOVED, as Torch-Pruning's pruning_ratio (pruning_ratio=0.2 is keep_ratio=0.8)
    result = cp.prune(model, x, criterion="l1", target_flops=0.5)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        out.mkdir(parents=True, exist_ok=True)
        cp.save_pruned(model, result.plan, out / "pruned.pt")
        result.plan.save(out / "plan.json")
        reloaded = cp.load_pruned(build(), out / "pruned.pt", x)  # any fresh instance: the weights come from the file
        replayed = cp.apply_plan(build(), cp.PruningPlan.load(out / "plan.json"), x)  # shapes only
    with torch.no_grad():
        diff = (reloaded(x) - model(x)).abs().max().item()
    assert diff == 0.0
    assert [p.shape for p in replayed.parameters()] == [p.shape for p in model.parameters()]
    print(f"{args.model}: FLOPs kept {result.report['flops_ratio']:.3f}; reloaded output max |diff| {diff:.1e}")
    return diff


if __name__ == "__main__":
    main()
