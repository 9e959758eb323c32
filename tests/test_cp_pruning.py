"""Pruning the attention model with core_pruning (CPMC): budget met, checkpoint replays, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core_pruning import count_flops_params
from cp_predict.cli import main
from cp_predict.formats import save_npz
from cp_predict.models import TrainConfig
from cp_predict.predictor import load_model, save_model
from cp_predict.pruning import LogitOnly, example_input, prune_trained
from cp_predict.simulate import GeneratorConfig, generate
from cp_predict.training import train
from prunelab.errors import InputError


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(1)
    data = generate(GeneratorConfig(n=30, seed=51))
    return train(data, "attention", cv="kfold", k=3, train_config=TrainConfig(epochs=1, min_steps=0)), data


def test_prune_meets_the_flops_budget_and_reloads_exactly(trained, tmp_path):
    model, data = trained
    before = count_flops_params(LogitOnly(model.final.net), example_input(model.final))[0]
    pruned, report = prune_trained(model, target_flops=0.5)
    after = count_flops_params(LogitOnly(pruned.final.net), example_input(pruned.final))[0]
    assert after <= 0.5 * before and report["flops_ratio"] <= 0.5
    assert model.final.prune_plan is None  # the original is untouched
    save_model(pruned, tmp_path / "p")
    again = load_model(tmp_path / "p")
    x = torch.randn(2, 2, 300, 18)
    torch.testing.assert_close(again.final.net(x)[0], pruned.final.net(x)[0])
    with pytest.raises(InputError, match="already pruned"):
        prune_trained(again)


def test_only_the_attention_model_is_pruned(trained):
    _, data = trained
    baseline = train(data, "logreg", cv="kfold", k=3)
    with pytest.raises(InputError, match="attention model only"):
        prune_trained(baseline)


def test_prune_cli_with_fine_tuning(trained, tmp_path, capsys):
    model, data = trained
    save_model(model, tmp_path / "m")
    save_npz(data, tmp_path / "d.npz")
    code = main(["prune", "--model", str(tmp_path / "m"), "--out", str(tmp_path / "p"), "--data",
                 str(tmp_path / "d.npz"), "--fine-tune-epochs", "1", "--test", str(tmp_path / "d.npz"), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["flops_ratio"] <= 0.5 and report["fine_tune_epochs"] == 1
    assert report["latency_ms_after"] > 0 and "auc" in report["test_after"]
    assert np.isfinite(report["test_after"]["brier"]["value"])
    code = main(["prune", "--model", str(tmp_path / "m"), "--out", str(tmp_path / "q"), "--target-flops", "1.5"])
    assert code == 2 and "--target-flops" in capsys.readouterr().err
