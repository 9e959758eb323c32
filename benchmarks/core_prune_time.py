"""Wall time of one-shot pruning: torchvision ResNet-50 (224x224) to 50% FLOPs (issue target: <= 10 s on 2 cores).

For each criterion and budget step size the script prunes a fresh ResNet-50 (seeded random weights) and
reports the wall time, the process CPU time (all threads; on a machine shared with other jobs the wall
clock also counts waiting for a core, CPU time does not), the number of global steps and the achieved
FLOPs. A CPU-time profile of the default run then splits the time into the engine's phases.

Run: ``python benchmarks/core_prune_time.py [--threads 2]``.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time

import torch
import torchvision
from core_common import header, table

import core_pruning as cp

PHASES = {  # (file suffix, function) -> label; cumulative CPU time of each
    ("counting.py", "run_model"): "forward passes (counting, output layers)",
    ("plan.py", "build_graph"): "Torch-Pruning dependency graph (trace)",
    ("groups.py", "collect_groups"): "group enumeration (per step)",
    ("engine.py", "select"): "global ranking and selection",
    ("plan.py", "apply_step"): "physical channel removal",
}


def fresh_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torchvision.models.resnet50().eval()


def timed_prune(criterion: str, step_fraction: float, x: torch.Tensor) -> dict:
    model = fresh_model()
    wall, cpu = time.perf_counter(), time.process_time()
    result = cp.prune(model, x, criterion=criterion, target_flops=0.5, step_fraction=step_fraction)
    return {"criterion": criterion, "step_fraction": step_fraction, "wall s": f"{time.perf_counter() - wall:.1f}",
            "CPU s (all threads)": f"{time.process_time() - cpu:.1f}", "steps": result.report["steps"],
            "FLOPs kept": f"{result.report['flops_ratio']:.4f}", "params kept": f"{result.report['params_ratio']:.3f}"}


def phase_profile(x: torch.Tensor) -> list[dict]:
    """CPU-time breakdown of the default cpmc run (cProfile with a process-time clock)."""
    model = fresh_model()
    profiler = cProfile.Profile(time.process_time)
    profiler.runcall(cp.prune, model, x, criterion="cpmc", target_flops=0.5)
    stats = pstats.Stats(profiler).stats
    total = max(v[3] for v in stats.values())
    rows = [{"phase": "whole prune() call", "CPU s": f"{total:.1f}", "calls": 1}]
    for (filename, _, function), (_, ncalls, _, cumulative, _) in stats.items():
        for (suffix, name), label in PHASES.items():
            if filename.endswith(suffix) and function == name:
                rows.append({"phase": label, "CPU s": f"{cumulative:.1f}", "calls": ncalls})
    scoring = sum(v[3] for (f, _, fn), v in stats.items() if fn == "score_all" and "criteria" in f)
    rows.append({"phase": "criterion scoring (score_all)", "CPU s": f"{scoring:.1f}",
                 "calls": sum(v[1] for (f, _, fn), v in stats.items() if fn == "score_all" and "criteria" in f)})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--criteria", default="cpmc,l1,fpgm")
    parser.add_argument("--step-fractions", default="0.05,0.25", help="engine step sizes (0.05 is the default)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    model = fresh_model()
    with torch.no_grad():
        model(x)
        start, cpu = time.perf_counter(), time.process_time()
        model(x)
        forward = (time.perf_counter() - start, time.process_time() - cpu)
    rows = [timed_prune(c, float(s), x) for s in args.step_fractions.split(",") for c in args.criteria.split(",")]
    phases = phase_profile(x)

    print(header("Pruning wall time: torchvision ResNet-50, 1x3x224x224, target 50% FLOPs"))
    print(f"reference: one ResNet-50 forward pass takes {forward[0]:.2f} s wall, {forward[1]:.2f} s CPU\n")
    print(table(rows, list(rows[0])))
    print("\nCPU-time profile of the default run (cpmc, step_fraction 0.05); phases overlap where one calls another\n")
    print(table(phases, list(phases[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
