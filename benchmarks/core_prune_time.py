"""Wall time of one-shot pruning: torchvision ResNet-50 (224x224) to 50% FLOPs (issue target: <= 10 s on 2 cores).

For each criterion and budget step size the script prunes a fresh ResNet-50 (seeded random weights) and
reports the wall time, the process CPU time (all threads; on a machine shared with other jobs the wall
clock also counts waiting for a core, CPU time does not), the number of global steps and the achieved
FLOPs. A CPU-time profile of the default run then splits the time into the engine's phases.

Then, per model of ``--models`` (default ResNet-50, ResNeXt-50 32x4d, ViT-B/16 at 224 px; ``swin_t`` gets our row
only): our ``prune()`` with
the default ``cpmc`` to 50% FLOPs, and side by side Torch-Pruning's own ``MetaPruner`` (global
``GroupMagnitudeImportance(p=2)``, its users' recipe: ``num_heads`` and ``hidden_dim`` reset for ViT) with its
channel ratio bisected until its FLOPs are within 0.5 points of the same target, all in one process. Kept FLOPs
are given by our counter (every matmul incl. attention) and by Torch-Pruning's ``count_ops_and_params``.
Timings are noisy: the machine's 2 cores are shared with other jobs.

Run: ``python benchmarks/core_prune_time.py [--threads 2] [--models resnet50,resnext50_32x4d,vit_b_16]``.
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import pstats
import sys
import time

import torch
import torch_pruning as tp
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


def build(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return torchvision.models.get_model(name, weights=None).eval()


def tp_flops(model: torch.nn.Module, x: torch.Tensor) -> int:
    return int(tp.utils.count_ops_and_params(model, x)[0])


def ours(name: str, x: torch.Tensor) -> dict:
    """Our default prune() of ``name`` to 50% FLOPs, timed."""
    model = build(name)
    base_tp = tp_flops(model, x)
    wall, cpu = time.perf_counter(), time.process_time()
    report = cp.prune(model, x, criterion="cpmc", target_flops=0.5).report
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    narrow = report["narrowest_layers"][0] if report["narrowest_layers"] else None
    return {"model": name, "method": "prunelab prune(cpmc)", "wall s": f"{wall:.1f}", "CPU s": f"{cpu:.1f}",
            "FLOPs kept (ours)": f"{report['flops_ratio']:.4f}", "FLOPs kept (TP counter)":
            f"{tp_flops(model, x) / base_tp:.4f}", "params kept": f"{report['params_ratio']:.3f}",
            "narrowest layer": f"{narrow['layer']} {narrow['kept']}/{narrow['of']}" if narrow else "-"}


def _metapruner(model: torch.nn.Module, x: torch.Tensor, ratio: float) -> tp.pruner.MetaPruner:
    """Torch-Pruning's recipe: global magnitude, classifier ignored; for ViT heads as channel groups."""
    heads = {m: m.num_heads for m in model.modules() if isinstance(m, torch.nn.MultiheadAttention)}
    classifier = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m.out_features == 1000]
    return tp.pruner.MetaPruner(model, x, importance=tp.importance.GroupMagnitudeImportance(p=2), global_pruning=True,
                                pruning_ratio=ratio, ignored_layers=classifier, num_heads=heads,
                                round_to=next(iter(heads.values()), None))


def torch_pruning(name: str, x: torch.Tensor, target: float = 0.5, tries: int = 10) -> dict:
    """MetaPruner with its channel ratio bisected to ``target`` FLOPs (ours); the last run's time beside the total."""
    base = build(name)
    flops0, tp0 = cp.count_flops_params(base, x)[0], tp_flops(base, x)
    lo, hi, best = 0.0, 0.95, None
    total, total_cpu = time.perf_counter(), time.process_time()
    for _ in range(tries):
        ratio = (lo + hi) / 2
        trial = copy.deepcopy(base)
        wall, cpu = time.perf_counter(), time.process_time()
        _metapruner(trial, x, ratio).step()
        if hasattr(trial, "hidden_dim") and hasattr(trial, "conv_proj"):
            trial.hidden_dim = trial.conv_proj.out_channels
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        kept = cp.count_flops_params(trial, x)[0] / flops0
        if best is None or abs(kept - target) < abs(best[0] - target):
            best = (kept, trial, wall, cpu, ratio)
        if abs(kept - target) <= 0.005:
            break
        lo, hi = (ratio, hi) if kept > target else (lo, ratio)
    total, total_cpu = time.perf_counter() - total, time.process_time() - total_cpu
    kept, model, wall, cpu, ratio = best
    assert model(x).shape[-1] == 1000
    return {"model": name, "method": f"Torch-Pruning MetaPruner (ratio {ratio:.3f})",
            "wall s": f"{wall:.1f} (bisection {total:.0f})", "CPU s": f"{cpu:.1f} (bisection {total_cpu:.0f})",
            "FLOPs kept (ours)": f"{kept:.4f}", "FLOPs kept (TP counter)": f"{tp_flops(model, x) / tp0:.4f}",
            "params kept": f"{cp.count_params(model) / cp.count_params(base):.3f}", "narrowest layer": "-"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--criteria", default="cpmc,l1,fpgm")
    parser.add_argument("--step-fractions", default="0.05,0.25", help="engine step sizes (0.05 is the default)")
    parser.add_argument("--models", default="resnet50,resnext50_32x4d,vit_b_16",
                        help="torchvision models for the side-by-side table with Torch-Pruning's MetaPruner")
    parser.add_argument("--skip-resnet50-table", action="store_true", help="only the side-by-side table")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    model = fresh_model()
    with torch.no_grad():
        model(x)
        start, cpu = time.perf_counter(), time.process_time()
        model(x)
        forward = (time.perf_counter() - start, time.process_time() - cpu)
    print(header("Pruning wall time: torchvision ResNet-50, 1x3x224x224, target 50% FLOPs"))
    print(f"reference: one ResNet-50 forward pass takes {forward[0]:.2f} s wall, {forward[1]:.2f} s CPU\n")
    if not args.skip_resnet50_table:
        rows = [timed_prune(c, float(s), x) for s in args.step_fractions.split(",") for c in args.criteria.split(",")]
        phases = phase_profile(x)
        print(table(rows, list(rows[0])))
        print("\nCPU-time profile of the default run (cpmc, step_fraction 0.05); phases overlap where one calls "
              "another\n")
        print(table(phases, list(phases[0])))
    side = []
    for name in [m for m in args.models.split(",") if m]:
        side.append(ours(name, x))
        if name.startswith("swin"):  # MetaPruner traces its window attention op by op (core_pruning.custom_layers)
            side.append({"model": name, "method": "Torch-Pruning MetaPruner: not run (torchvision Swin's attention "
                         "calls F.linear on qkv.weight; it needs a recipe of its own)"})
        else:
            side.append(torch_pruning(name, x))
        print(f"done {name}", file=sys.stderr, flush=True)
    print("\nprune() vs Torch-Pruning's MetaPruner at the same FLOPs target (50%, our FLOPs definition), 1x3x224x224, "
          "seeded random weights\n")
    print(table(side, list(side[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
