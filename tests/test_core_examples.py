"""The scripts in examples/ run (in-process, small inputs) and do what their docstrings say.

The ResNeXt-50 and ViT-B/16 scripts take 15-45 s each even at 32 px on a busy 2-core machine, so they run under
``slow``; the default run covers the same code paths through ``test_core_coverage.py`` (RegNet's grouped convs,
ViT-B/16) and reloads a pruned RegNet here."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from torch import nn

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_is_tested():
    assert {p.stem for p in EXAMPLES.glob("*.py")} == {"prune_resnext", "prune_vit", "prune_custom_loose_parameter",
                                                         "reload_pruned"}


@pytest.mark.slow
def test_resnext_example(capsys):
    result = load("prune_resnext").main(["--image-size", "32"])
    assert abs(result.report["flops_ratio"] - 0.5) <= 0.02
    assert "groups" in capsys.readouterr().out


@pytest.mark.slow
def test_vit_example():
    result = load("prune_vit").main(["--image-size", "32"])
    assert abs(result.report["flops_ratio"] - 0.5) <= 0.02
    assert result.report["removed"], "the ViT was pruned"


def test_custom_loose_parameter_example():
    module = load("prune_custom_loose_parameter")
    result = module.main([])
    assert abs(result.report["flops_ratio"] - 0.5) <= 0.02
    assert not result.report["unsupported"]


def test_loose_parameter_of_the_wrong_shape_leaves_its_group_whole():
    """A loose parameter that does not line up with its channels: the group is reported, not mis-pruned."""
    import torch

    import core_pruning as cp

    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
            self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
            self.mix = nn.Parameter(torch.ones(8, 3))  # (channels, 3): Torch-Pruning would prune its size-3 dim
            self.fc = nn.Linear(3, 4)

        def forward(self, x):
            x = torch.relu(self.conv1(x))
            x = torch.relu(self.conv2(x)).mean((2, 3)) @ self.mix
            return self.fc(x)

    model = Odd().eval()
    x = torch.randn(1, 3, 8, 8)
    result = cp.prune(model, x, criterion="l1", keep_ratio=0.9)
    assert "conv2" in result.report["unsupported"]
    assert model.conv2.out_channels == 8 and model(x).shape == (1, 4)


def test_reload_example():
    assert load("reload_pruned").main(["--model", "regnet_x_400mf", "--image-size", "32"]) == 0.0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnext50_32x4d", "vit_b_16"])
def test_reload_example_on_the_big_models(name):
    assert load("reload_pruned").main(["--model", name, "--image-size", "32"]) == 0.0
