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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from core_pruning.latency import latency_ratio  # noqa: F401  (re-exported for the benchmarks)
from prunelab.machine import cpu_name

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


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    values = list(values)
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def save_json(data: Any, path: Path) -> None:
    """Write results atomically, so an interrupted run can resume from the last finished entry."""
    from prunelab.io import atomic_write_text

    atomic_write_text(json.dumps(data, indent=1), path)
