"""Does rounding kept channel counts (``round_to``) buy CPU speed at a FLOPs budget? ResNet-20, MNIST-5k bases.

Takes the base models of the criteria benchmark (``runs/core_criteria_mnist/base_<seed>.pt``; trained with its
recipe when missing), prunes each to ``--target`` of the FLOPs with every criterion x ``round_to`` pair -- no
fine-tuning: latency depends on the architecture alone -- and times it against its base with
``core_common.latency_ratio`` (batch 64, 1 thread, ``torch.inference_mode()``, alternating medians).
Channel counts that are multiples of 8 or 16 suit the CPU's vector width; the question is whether that shows.
It also prints where the unpruned model's CPU time goes, by operator (``torch.profiler``, first seed), and how
one 3x3 convolution of each ResNet-20 stage speeds up as its widths shrink (``--width-sweep``): the measured
staircase behind per-layer rounding and the ``cost="latency"`` option of ``cpmc``.

    python benchmarks/core_latency_rounding.py [--seeds 0,1,2,3,4] [--round-to 1 8 16 'layer1.*=1,*=16']
        [--criteria cpmc,l1] [--width-sweep]

Each ``--round-to`` value is what ``python -m core_pruning prune --round-to`` takes (a per-layer rule with ``=``).
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import torch
from core_common import REPO, header, latency_ratio, mean_std, table
from core_criteria_mnist import train_base

import core_pruning as cp
from core_pruning.commands.prune import parse_round_to
from core_pruning.datasets import load_dataset
from core_pruning.latency import median_forward_seconds


def operator_shares(model: torch.nn.Module, batch: torch.Tensor, calls: int = 20) -> list[dict]:
    """Share of the CPU time of each top-level operator type over ``calls`` forward passes (profiler)."""
    from torch.profiler import ProfilerActivity, profile

    with torch.inference_mode():
        for _ in range(3):
            model(batch)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(calls):
                model(batch)
    ops = ("aten::conv2d", "aten::batch_norm", "aten::relu_", "aten::relu", "aten::add", "aten::add_",
           "aten::adaptive_avg_pool2d", "aten::mean", "aten::linear")
    times = {e.key: e.cpu_time_total for e in prof.key_averages() if e.key in ops}
    total = sum(times.values())
    return [{"operator": k, "ms per call": f"{t / calls / 1e3:.2f}", "share": f"{100 * t / total:.1f}%"}
            for k, t in sorted(times.items(), key=lambda kv: -kv[1])]


def conv_speedups(c: int, widths: list[tuple[int, int]], size: int, batch: int = 64,
                  rounds: int = 15) -> list[float]:
    """Speed-up of 3x3 convolutions ``(c_in, c_out)`` over the full ``c -> c`` one on ``size`` x ``size`` maps.

    Medians of thread CPU time over ``rounds`` rounds, each round timing the full convolution and every
    candidate once in turn (alternating, as ``core_common.latency_ratio`` does: drifts of the machine's speed
    cancel).
    """
    layers = [(torch.nn.Conv2d(i, o, 3, padding=1, bias=False).eval(), torch.randn(batch, i, size, size))
              for i, o in [(c, c), *widths]]
    times: list[list[float]] = [[] for _ in layers]
    for _ in range(rounds):
        for slot, (conv, x) in enumerate(layers):
            times[slot].append(median_forward_seconds(conv, x, repeats=1, warmup=1, clock=time.thread_time))
    full, *rest = (statistics.median(t) for t in times)
    return [full / t for t in rest]


def width_sweep() -> list[dict]:
    """Speed-up of a k->k and a c->k convolution over the full c->c one, for each stage of ResNet-20 on 28x28 input."""
    rows = []
    for size, c in ((28, 16), (14, 32), (7, 64)):
        ks = sorted({c // 4, c // 2, c // 2 + 1, (3 * c) // 4, c - 1})
        speedups = conv_speedups(c, [w for k in ks for w in ((k, k), (c, k))], size)
        for k, same, narrow in zip(ks, speedups[::2], speedups[1::2]):
            rows.append({"maps": f"{size}x{size}", "full width": c, "kept k": k,
                         "MACs kept (k->k)": f"{(k / c) ** 2:.2f}",
                         "speed-up k->k": f"{same:.2f}x", "speed-up c->k": f"{narrow:.2f}x"})
    return rows


class _BaseRecipe:  # what train_base reads from the criteria benchmark's arguments
    base_epochs, steps_per_epoch = 10, None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--criteria", default="cpmc,l1")
    parser.add_argument("--round-to", nargs="+", default=["1", "8", "16", "layer1.*=1,*=16"])
    parser.add_argument("--target", type=float, default=0.5, help="fraction of FLOPs kept")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--width-sweep", action="store_true", help="also time single convolutions at shrinking widths")
    parser.add_argument("--bases", default=str(REPO / "runs" / "core_criteria_mnist"), help="folder of base_<seed>.pt")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    data = load_dataset("mnist5k", seed=0)
    x, batch = data.example_input, data.test.tensors[0][:64]
    seeds = [int(s) for s in args.seeds.split(",")]
    bases = {s: train_base(data, _BaseRecipe, Path(args.bases) / f"base_{s}.pt", s) for s in seeds}
    rows = []
    for name in args.criteria.split(","):
        for r in (parse_round_to(v) for v in args.round_to):
            runs = []
            for base in bases.values():
                model = copy.deepcopy(base)
                report = cp.prune(model, x, criterion=name, target_flops=args.target, round_to=r).report
                runs.append((report["flops_ratio"], report["params_ratio"],
                             latency_ratio(base, model, batch, repeats=args.repeats)["cpu_speedup"]))
            speed_m, speed_s = mean_std([s for *_, s in runs])
            rows.append({"criterion": name, "round_to": str(r).replace("'", ""),
                         "FLOPs kept": f"{mean_std([f for f, _, _ in runs])[0]:.3f}",
                         "params kept": f"{mean_std([p for _, p, _ in runs])[0]:.3f}",
                         "speed-up (CPU time)": f"{speed_m:.2f}x ± {speed_s:.2f}", "seeds": len(runs)})
    print(header(f"Channel rounding and CPU latency at {args.target:.0%} FLOPs (ResNet-20, batch 64, 1 thread)"))
    print(table(rows, list(rows[0])))
    print(f"\nwhere the unpruned model's CPU time goes (seed {seeds[0]}, batch 64, 1 thread, torch.profiler):")
    shares = operator_shares(bases[seeds[0]], batch)
    print(table(shares, list(shares[0])))
    if args.width_sweep:
        print("\none 3x3 convolution, batch 64, 1 thread, median thread CPU time, against the full-width c->c one:")
        sweep = width_sweep()
        print(table(sweep, list(sweep[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
