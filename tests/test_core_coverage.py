"""core_pruning on torchvision's classifiers: grouped convs, attention, shuffles, mobile blocks, and no collapse.

Every classification model of ``torchvision.models.list_models(module=torchvision.models)`` is pruned at a small
input with random weights (``weights=None``, never downloaded): one per family in the default run, all of them
under ``slow``. Each run asserts the output shape is kept, the FLOPs (re-counted with PyTorch's own
``FlopCounterMode``) are within ±2% of the target, and that replaying the plan on a fresh instance gives the
same shapes and outputs. Special (docs/core_pruning.md, "Models"): MaxViT-T (its attention blocks are left whole:
target 0.8); Swin/Swin V2 (residual widths head-consistently) and ShuffleNetV2 (only channels that never cross a
channel shuffle) through ``core_pruning.custom_layers``, with a small Swin in the default suite
(``tests/test_core_custom_layers.py``).
"""

from __future__ import annotations

import math
import re

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import core_pruning as cp

ALL = torchvision.models.list_models(module=torchvision.models)
DEFAULT_RUN = ["resnet18", "regnet_x_400mf", "mobilenet_v3_small", "efficientnet_b0", "squeezenet1_0",
               "convnext_tiny", "vit_b_16", "shufflenet_v2_x0_5", "inception_v3", "mnasnet0_5"]


def family(name: str) -> str:
    return re.match(r"[a-z]+", name).group(0)


def build(name: str) -> tuple[nn.Module, torch.Tensor]:
    """Random-weight model and a small input it accepts (the smallest sizes its architecture allows)."""
    torch.manual_seed(0)
    kwargs, size = {}, 32
    if name in ("inception_v3", "googlenet"):
        kwargs, size = {"aux_logits": False, "init_weights": False}, 75 if name == "inception_v3" else 32
    elif name.startswith("vit"):
        kwargs = {"image_size": 28 if name == "vit_h_14" else 32}  # a multiple of the patch size (14 for ViT-H)
        size = kwargs["image_size"]
    elif name == "alexnet":
        size = 64
    elif name == "maxvit_t":
        size = 224
    elif name.startswith("swin"):  # 32 px is a single window from stage 2 on; 64 px is closer to its use
        size = 64
    model = torchvision.models.get_model(name, weights=None, **kwargs).eval()
    return model, torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(1))


def target_of(name: str) -> float:
    return 0.8 if name.startswith("maxvit") else 0.5


def macs(model: nn.Module, x: torch.Tensor) -> int:
    """Independent count: FlopCounterMode (FLOPs = 2 MACs), MultiheadAttention's fused path off."""
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        torch.backends.mha.set_fastpath_enabled(True)
    flops = counter.get_total_flops()
    return flops // 2


def check_model(name: str) -> None:
    model, x = build(name)
    with torch.no_grad():
        shape = model(x).shape
    target = target_of(name)
    before = macs(model, x)
    result = cp.prune(model, x, criterion="cpmc", target_flops=target)
    with torch.no_grad():
        out = model(x)
    assert out.shape == shape
    assert abs(result.report["flops_ratio"] - target) <= 0.02, result.report["flops_ratio"]
    assert abs(macs(model, x) / before - target) <= 0.02  # FlopCounterMode alone (no CPU attention formula)
    fresh, _ = build(name)
    cp.apply_plan(fresh, cp.PruningPlan.from_dict(result.plan.to_dict()), x)
    assert [p.shape for p in fresh.state_dict().values()] == [p.shape for p in model.state_dict().values()]
    with torch.no_grad():
        assert torch.equal(fresh(x), out)
    # no collapsed layer: every pruned layer keeps at least the default fraction of its channels
    assert result.report["narrowest_layers"], "something was pruned"
    for row in result.report["narrowest_layers"]:
        assert row["kept"] >= math.ceil(0.1 * row["of"] - 1e-9), row


@pytest.mark.parametrize("name", DEFAULT_RUN)
def test_one_model_per_family(name):
    check_model(name)


def test_default_run_covers_every_family_or_says_why():
    families = {family(n) for n in ALL}
    covered = {family(n) for n in DEFAULT_RUN}
    # slow only: covered by test_core_engine.py (densenet, googlenet, vgg), by the grouped-conv test below
    # (resnext, wide), by test_core_custom_layers.py on a small Swin (swin), or too slow for the default run at any
    # input (alexnet's 9216x4096 classifier, maxvit)
    slow_only = {"resnext", "wide", "densenet", "googlenet", "vgg", "alexnet", "swin", "maxvit"}
    assert families <= covered | slow_only, sorted(families - covered - slow_only)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in ALL if n not in DEFAULT_RUN])
def test_every_torchvision_classifier(name):
    check_model(name)


class GroupedAttention(nn.Module):
    """A grouped-conv block (ResNeXt-style) then a token mixer with nn.MultiheadAttention: both structured."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, padding=1)
        self.reduce = nn.Conv2d(16, 32, 1)
        self.grouped = nn.Conv2d(32, 32, 3, padding=1, groups=4)
        self.bn = nn.BatchNorm2d(32)
        self.expand = nn.Conv2d(32, 16, 1)
        self.embed = nn.Linear(16, 24)
        self.attn = nn.MultiheadAttention(24, 4, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(24, 48), nn.GELU(), nn.Linear(48, 24))
        self.head = nn.Linear(24, 5)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        x = x + self.expand(torch.relu(self.bn(self.grouped(torch.relu(self.reduce(x))))))
        t = self.embed(x.flatten(2).transpose(1, 2))
        t = t + self.attn(t, t, t, need_weights=False)[0]
        t = t + self.mlp(t)
        return self.head(t.mean(1))


def _grouped_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = GroupedAttention().eval()
    model.bn.running_var.uniform_(0.5, 2.0)
    return model


XG = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(2))


@pytest.mark.parametrize("criterion", sorted(set(cp.CRITERIA) - {"zero"}))
@pytest.mark.parametrize("budget", ["target_flops", "target_params"])
def test_every_criterion_and_budget_keep_conv_groups_and_heads_consistent(criterion, budget):
    model = _grouped_model()
    calib = (XG, torch.tensor([0, 1])) if criterion == "taylor" else None
    result = cp.prune(model, XG[:1], criterion=criterion, calib_data=calib, **{budget: 0.6})
    key = "flops" if budget == "target_flops" else "params"
    assert abs(result.report[f"{key}_ratio"] - 0.6) <= 0.02
    assert model(XG).shape == (2, 5)
    g = model.grouped
    assert g.in_channels % 4 == 0 and g.out_channels % 4 == 0  # every conv group the same width
    assert model.attn.embed_dim % 4 == 0 and model.attn.head_dim * 4 == model.attn.embed_dim
    fresh = _grouped_model()
    cp.apply_plan(fresh, result.plan, XG[:1])
    assert torch.equal(fresh(XG), model(XG))


def test_grouped_conv_units_remove_the_same_local_channels_in_every_group():
    """A unit is local index j of every conv group: the kept input channels of the grouped conv line up."""
    model = _grouped_model()
    result = cp.prune(model, XG[:1], criterion="l1", target_flops=0.5)
    removed = result.report["removed"].get("reduce", [])
    assert removed, "the grouped conv's input group was pruned"
    local = [sorted(i % 8 for i in removed if i // 8 == grp) for grp in range(4)]
    assert all(lst == local[0] for lst in local), local


def test_zero_pruning_of_an_attention_model_removes_whole_units_only():
    """Embedding dims dead after ``embed``: local dim 1 of every head (1, 7, 13, 19) goes as one unit; dim 2 dead in
    only two heads stays (removing it would give heads of different sizes). Not lossless in general: the attention
    scale 1/sqrt(head_dim) changes with the head size."""
    model = _grouped_model()
    with torch.no_grad():
        for d in (1, 7, 13, 19, 2, 8):  # zero at every writer of the residual dim: embed, attention, MLP
            for layer in (model.embed, model.attn.out_proj, model.mlp[2]):
                layer.weight[d] = 0
                layer.bias[d] = 0
    result = cp.prune(model, XG[:1], criterion="zero", calib_data=XG)
    assert model.attn.embed_dim == 20 and model.attn.head_dim == 5
    assert result.report["removed"]["embed"] == [1, 7, 13, 19]
    assert model(XG).shape == (2, 5)


def test_default_floor_keeps_every_layer_usable_and_report_lists_the_narrowest():
    torch.manual_seed(0)
    x = torch.randn(1, 3, 32, 32)
    floored = torchvision.models.resnet50(weights=None).eval()
    report = cp.prune(floored, x, criterion="cpmc", target_flops=0.5).report
    convs = {n: m.out_channels for n, m in floored.named_modules() if isinstance(m, nn.Conv2d)}
    torch.manual_seed(0)
    original = {n: m.out_channels for n, m in torchvision.models.resnet50(weights=None).named_modules()
                if isinstance(m, nn.Conv2d)}
    assert min(convs[n] / original[n] for n in convs) >= 0.1 - 1e-9
    narrow = report["narrowest_layers"]
    assert narrow and narrow == sorted(narrow, key=lambda r: r["fraction"])
    assert narrow[0]["kept"] == min(convs[n] for n in convs if convs[n] / original[n] == narrow[0]["fraction"])
    torch.manual_seed(0)
    bare = torchvision.models.resnet50(weights=None).eval()
    loose = cp.prune(bare, x, criterion="cpmc", target_flops=0.5, min_kept_fraction=0.0).report
    assert loose["narrowest_layers"][0]["fraction"] < 0.1  # without the floor a layer collapses
