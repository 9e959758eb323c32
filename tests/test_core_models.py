"""The model sweep: every supported architecture prunes to budget, runs, and is counted correctly."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models import get_model_weights

import core_pruning as cp
from core_pruning.models import TORCHVISION_MODELS, build_model


def torchvision_model(name: str) -> torch.nn.Module:
    kwargs = {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}
    torch.manual_seed(0)
    return torchvision.models.get_model(name, weights=None, **kwargs).eval()


def pytorch_flops(model: torch.nn.Module, x: torch.Tensor) -> int:
    """MACs as counted by PyTorch's own FlopCounterMode (which reports 2 FLOPs per MAC)."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("name", TORCHVISION_MODELS)
def test_counts_match_torchvision_published_figures(name):
    """Our FLOPs/params at 224x224 equal the GFLOPS and parameter counts torchvision publishes."""
    meta = list(get_model_weights(name))[0].meta
    flops, params = cp.count_flops_params(torchvision_model(name), torch.randn(1, 3, 224, 224))
    assert params == meta["num_params"]
    assert round(flops / 1e9, 3) == pytest.approx(meta["_ops"], abs=1e-3)


@pytest.mark.parametrize("name", TORCHVISION_MODELS)
def test_torchvision_models_prune_to_half_flops(name):
    model = torchvision_model(name)
    x = torch.randn(1, 3, 64, 64)
    result = cp.prune(model, x, criterion="cpmc", target_flops=0.5)
    assert abs(result.report["flops_ratio"] - 0.5) <= 0.02
    assert result.report["params_after"] < result.report["params_before"]
    with torch.no_grad():
        assert model(x).shape == (1, 1000)
    assert result.report["flops_after"] == pytorch_flops(model, x)


@pytest.mark.parametrize("name", ["resnet20", "resnet56", "vgg_small"])
@pytest.mark.parametrize("criterion", ["l1", "cpmc"])
def test_project_models_prune(name, criterion):
    model = build_model(name, num_classes=10, in_channels=1).eval()
    x = torch.randn(1, 1, 28, 28)
    result = cp.prune(model, x, criterion=criterion, target_flops=0.5)
    assert abs(result.report["flops_ratio"] - 0.5) <= 0.02
    assert result.report["flops_after"] == pytorch_flops(model, x)
    assert model(torch.randn(3, 1, 28, 28)).shape == (3, 10)


def test_user_module_with_concat_and_depthwise():
    """Any module Torch-Pruning can trace: a branchy net with concatenation and depthwise conv."""

    class Branchy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Conv2d(3, 48, 3, padding=1)
            self.b = torch.nn.Conv2d(3, 32, 1)
            self.dw = torch.nn.Conv2d(80, 80, 3, padding=1, groups=80)
            self.pw = torch.nn.Conv2d(80, 64, 1)
            self.head = torch.nn.Linear(64, 5)

        def forward(self, x):
            x = torch.cat([torch.relu(self.a(x)), torch.relu(self.b(x))], 1)
            x = torch.relu(self.pw(torch.relu(self.dw(x))))
            return self.head(x.mean((2, 3)))

    model = Branchy().eval()
    x = torch.randn(1, 3, 16, 16)
    result = cp.prune(model, x, criterion="l2", target_flops=0.5)
    assert abs(result.report["flops_ratio"] - 0.5) <= 0.02
    dw = model.dw
    assert dw.in_channels == dw.out_channels == dw.groups == model.a.out_channels + model.b.out_channels
    assert model(x).shape == (1, 5)
