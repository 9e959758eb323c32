"""``python -m core_pruning train-prune``: outputs, JSON report, resume, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import core_pruning as cp
from core_pruning.__main__ import main
from core_pruning.models import build_model

BASE = ["train-prune", "--model", "resnet20", "--data", "digits", "--epochs", "1", "--no-progress", "--threads", "1"]


def test_train_prune_writes_a_loadable_smaller_model_and_a_json_report(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*BASE, "--method", "hfp", "--finetune-epochs", "1", "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert 0.48 <= report["flops_ratio"] <= 0.5 and report["method"] == "hfp"
    assert report["max_output_diff"] < 1e-4 and report["masked_accuracy"] == report["pruned_accuracy"]
    assert len(report["history"]) == 1 and len(report["finetune_history"]) == 1
    assert json.loads((out / "report.json").read_text())["flops_after"] == report["flops_after"]
    x = torch.zeros(1, 1, 8, 8)
    model = cp.load_pruned(build_model("resnet20", num_classes=10, in_channels=1), out / "model.pt", x)
    assert cp.count_flops_params(model, x)[0] == report["flops_after"]
    assert cp.PruningPlan.load(out / "plan.json").criterion == "hfp"
    # a finished run resumes to the same result without training again
    assert main([*BASE, "--method", "hfp", "--finetune-epochs", "1", "--out", str(out), "--json", "--resume"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["final_accuracy"] == report["final_accuracy"] and again["flops_after"] == report["flops_after"]


@pytest.mark.parametrize("args,message", [
    (["--method", "obd"], "unknown method"),
    (["--method", "sfp", "--target-flops", "1.5"], "--target-flops"),
    (["--method", "sfp", "--option", "temperature=2"], "no option 'temperature'"),
    (["--method", "sfp", "--option", "novalue"], "KEY=VALUE"),
    (["--method", "sfp", "--dcph"], "--dcph"),
    (["--method", "sfp", "--epochs", "0"], "--epochs"),
    (["--method", "sfp", "--threads", "0"], "--threads"),
    (["--method", "ghfp", "--option", "mode=melt"], "mode"),
])
def test_bad_input_is_one_line_and_exit_code_2(args, message, tmp_path, capsys):
    argv = [*BASE, "--out", str(tmp_path / "out"), *args]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and len(err.splitlines()) == 1


def test_unknown_model_or_data_and_existing_output_are_refused(tmp_path, capsys):
    assert main(["train-prune", "--method", "sfp", "--model", "lenet", "--data", "digits", "--epochs", "1",
                 "--out", str(tmp_path / "a")]) == 2
    assert main(["train-prune", "--method", "sfp", "--model", "resnet20", "--data", "cifar", "--epochs", "1",
                 "--out", str(tmp_path / "b")]) == 2
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "x").write_text("keep me")
    assert main([*BASE, "--method", "sfp", "--out", str(taken)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (taken / "x").read_text() == "keep me"


@pytest.mark.slow
def test_train_prune_runs_unchanged_under_torchrun(tmp_path):
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(repo)}
    out = tmp_path / "ddp"
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          "-m", "core_pruning", *BASE, "--method", "cac", "--batch-size", "32", "--out", str(out),
                          "--json"], env=env, timeout=600, capture_output=True, text=True, cwd=repo)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)  # one JSON document: only the main process prints
    assert 0.48 <= report["flops_ratio"] <= 0.5
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints", "model.pt", "plan.json", "report.json"]
