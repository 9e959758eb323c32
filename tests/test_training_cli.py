"""``python -m core_pruning train-prune``: outputs, JSON report, resume, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import core_pruning as cp
from core_pruning.__main__ import main
from core_pruning.models import build_model
from core_pruning.training.loop import Trainer

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


RUN = ["train-prune", "--model", "resnet20", "--data", "digits", "--method", "sfp", "--epochs", "2",
       "--finetune-epochs", "2", "--json", "--threads", "1"]  # --threads: equal float sums in every run


def _without_seconds(value):
    if isinstance(value, dict):
        return {k: _without_seconds(v) for k, v in value.items() if k != "seconds"}
    if isinstance(value, list):
        return [_without_seconds(v) for v in value]
    return value


def _weights(out: Path) -> dict[str, torch.Tensor]:
    x = torch.zeros(1, 1, 8, 8)
    return cp.load_pruned(build_model("resnet20", num_classes=10, in_channels=1), out / "model.pt", x).state_dict()


def _log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "checkpoints" / "log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """An uninterrupted run: 2 epochs of training with pruning, 2 of fine-tuning; its folder and JSON report."""
    out = tmp_path_factory.mktemp("straight") / "run"
    with pytest.MonkeyPatch.context() as patch:
        printed = []
        patch.setattr("core_pruning.commands.train_prune.print_json", printed.append)
        assert main([*RUN, "--out", str(out), "--no-progress"]) == 0
    return out, printed[0]


def test_an_interrupted_run_resumed_in_each_phase_equals_an_uninterrupted_one(finished, tmp_path, monkeypatch,
                                                                              capsys):
    straight, report = finished
    saves = []
    save = Trainer.save_checkpoint

    def save_then_interrupt(self, path=None):
        save(self, path)
        saves.append(self.epoch)
        if len(saves) in stop_after:
            raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "save_checkpoint", save_then_interrupt)
    stop_after = {1, 3}  # after training epoch 1 (pruning phase), then after fine-tuning epoch 1
    out = tmp_path / "run"
    assert main([*RUN, "--out", str(out)]) == 130
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["config.json", "log.jsonl", "train.pt"]
    assert main([*RUN, "--out", str(out), "--resume"]) == 130
    assert (out / "checkpoints" / "finetune.pt").is_file() and not (out / "model.pt").exists()
    capsys.readouterr()
    assert main([*RUN, "--out", str(out), "--resume", "--no-progress"]) == 0  # progress may change
    resumed = json.loads(capsys.readouterr().out)
    assert saves == [1, 2, 1, 2]  # every epoch trained once: nothing repeated, nothing skipped
    assert _without_seconds(resumed) == _without_seconds(report)
    for (name, a), b in zip(_weights(straight).items(), _weights(out).values()):
        assert torch.equal(a, b), name
    assert (out / "plan.json").read_text() == (straight / "plan.json").read_text()
    assert _without_seconds(_log(out)) == _without_seconds(_log(straight))
    assert [(r["phase"], r["epoch"]) for r in _log(out)] == [("train", 1), ("train", 2), ("finetune", 1),
                                                             ("finetune", 2)]
    assert json.loads((out / "checkpoints" / "config.json").read_text())["epochs"] == 2


@pytest.mark.parametrize("changed,setting", [
    (["--epochs", "3"], "epochs"),
    (["--target-flops", "0.4"], "target_flops"),
    (["--lr", "0.1"], "finetune_lr, lr"),  # the fine-tuning rate defaults to --lr / 10
    (["--option", "schedule=asymptotic"], "options"),
])
def test_resume_refuses_a_run_folder_with_other_settings(changed, setting, finished, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(finished[0], out)
    config = (out / "checkpoints" / "config.json").read_text()
    argv = [*RUN, "--out", str(out), "--resume", *changed]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error:")
    assert f"different settings ({setting})" in err and "use another --out folder" in err
    assert (out / "checkpoints" / "config.json").read_text() == config


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
