"""Shared pieces of the core_pruning benchmarks: the header (command, machine, date), tables, CPU latency.

Imported by the sibling ``core_*.py`` scripts (run them as ``python benchmarks/core_<name>.py``).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core_pruning.utils import cpu_name

REPO = Path(__file__).resolve().parents[1]


def machine() -> str:
    return (f"{cpu_name()}, torch {torch.__version__} "
            f"({torch.get_num_threads()} intra-op threads), Python {platform.python_version()}")


def header(title: str) -> str:
    """Title, exact command, machine and date: printed above every table."""
    command = "python " + " ".join([os.path.relpath(sys.argv[0], REPO), *sys.argv[1:]])
    date = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return f"## {title}\ncommand: {command}\nmachine: {machine()}\ndate: {date}"


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Markdown table of ``rows`` (dicts) with the given column keys; values printed as given."""
    cells = [[str(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c) for i, c in enumerate(columns)]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    lines += ["| " + " | ".join(v.ljust(w) for v, w in zip(r, widths)) + " |" for r in cells]
    return "\n".join(lines)


@torch.no_grad()
def latency_ratio(baseline: nn.Module, candidate: nn.Module, x: torch.Tensor, repeats: int = 15,
                  warmup: int = 3) -> dict[str, float]:
    """Median latency of ``baseline`` and ``candidate`` on ``x`` over ``repeats`` alternating forward passes.

    Returns wall-clock medians (``base_ms``, ``pruned_ms``, ``speedup``) and thread CPU-time medians
    (``base_cpu_ms``, ``pruned_cpu_ms``, ``cpu_speedup``). On a machine shared with other jobs the wall clock
    also counts time spent waiting for a core; with ``torch.set_num_threads(1)`` every op runs on the
    calling thread, so its CPU time is the compute the model itself needs, much less disturbed by others.
    Alternating the two models cancels slow drifts of the load. Both run under ``torch.inference_mode()``,
    as a deployed model does: with autograd recording, every layer also saves its inputs for a backward
    pass that never comes, a per-layer cost that is not the model's latency.
    """
    baseline.eval()
    candidate.eval()
    wall: dict[int, list[float]] = {0: [], 1: []}
    cpu: dict[int, list[float]] = {0: [], 1: []}
    with torch.inference_mode():
        for _ in range(warmup):
            baseline(x)
            candidate(x)
        for _ in range(repeats):
            for key, model in ((0, baseline), (1, candidate)):
                start, start_cpu = time.perf_counter(), time.thread_time()
                model(x)
                cpu[key].append(time.thread_time() - start_cpu)
                wall[key].append(time.perf_counter() - start)
    base, cand = statistics.median(wall[0]), statistics.median(wall[1])
    base_cpu, cand_cpu = statistics.median(cpu[0]), statistics.median(cpu[1])
    return {"base_ms": base * 1e3, "pruned_ms": cand * 1e3, "speedup": base / cand,
            "base_cpu_ms": base_cpu * 1e3, "pruned_cpu_ms": cand_cpu * 1e3, "cpu_speedup": base_cpu / cand_cpu}


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    values = list(values)
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def save_json(data: Any, path: Path) -> None:
    """Write results atomically, so an interrupted run can resume from the last finished entry."""
    from core_pruning.utils import atomic_write_text

    atomic_write_text(json.dumps(data, indent=1), path)
