"""The criteria benchmark's --merge: per-seed runs from separate processes fold into one results folder."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from core_criteria_mnist import merge_runs  # noqa: E402


def _run_folder(root: Path, name: str, rows: list[dict], seed: int) -> Path:
    folder = root / name
    (folder / "models").mkdir(parents=True)
    (folder / f"base_{seed}.pt").write_bytes(b"base")
    for row in rows:
        (folder / "models" / f"{row['criterion']}_{row['target']:g}_{row['seed']}.pt").write_bytes(b"m")
    (folder / "results.json").write_text(json.dumps(rows))
    return folder


def test_merge_keeps_existing_rows_and_adds_new_ones(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    kept = {"criterion": "l1", "target": 0.5, "seed": 0, "accuracy": 0.9}
    (out / "results.json").write_text(json.dumps([kept]))
    a = _run_folder(tmp_path, "a", [{**kept, "accuracy": 0.1}, {"criterion": "cpmc", "target": 0.5, "seed": 0}], 0)
    b = _run_folder(tmp_path, "b", [{"criterion": "cpmc", "target": 0.5, "seed": 1}], 1)
    merge_runs([a, b], out)
    rows = json.loads((out / "results.json").read_text())
    assert [(r["criterion"], r["seed"]) for r in rows] == [("l1", 0), ("cpmc", 0), ("cpmc", 1)]
    assert rows[0]["accuracy"] == 0.9  # a row already in --out is never replaced
    assert (out / "base_0.pt").is_file() and (out / "base_1.pt").is_file()
    assert (out / "models" / "cpmc_0.5_1.pt").is_file()


def test_merge_of_a_folder_without_results_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="no results.json"):
        merge_runs([tmp_path / "empty"], tmp_path / "out")
