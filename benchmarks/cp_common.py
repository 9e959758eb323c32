"""Shared pieces of the cp_predict benchmarks (``python benchmarks/cp_<name>.py``).

The header (command, machine, date) and Markdown tables come from ``core_common`` beside this file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core_common import header, machine, table  # noqa: F401  (re-exported for the cp_* scripts)

from cp_predict import RESEARCH_NOTICE  # noqa: F401
from cp_predict.data import SkeletonSet
from cp_predict.formats import read_npz, save_npz
from cp_predict.simulate import GeneratorConfig, generate


def cell(entry: dict[str, Any], digits: int = 2) -> str:
    """``0.97 [0.95, 0.99]`` from a metrics entry (with ``11/12`` counts for proportions)."""
    text = f"{entry['value']:.{digits}f} [{entry['ci'][0]:.{digits}f}, {entry['ci'][1]:.{digits}f}]"
    return f"{text} ({entry['count']})" if "count" in entry else text


def generated(work: Path, n: int, seed: int, planted: tuple[str, ...] = ()) -> SkeletonSet:
    """A generated data set, cached as ``work/gen_<n>_<seed>[_<planted>].npz`` (deterministic from the seed)."""
    tag = f"_{'-'.join(planted)}" if planted else ""
    path = work / f"gen_{n}_{seed}{tag}.npz"
    if path.exists():
        return read_npz(path)
    data = generate(GeneratorConfig(n=n, seed=seed, planted_joints=planted))
    work.mkdir(parents=True, exist_ok=True)
    save_npz(data, path)
    return data


def save_json(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, default=float) + "\n")
