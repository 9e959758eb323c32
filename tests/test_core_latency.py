"""Hardware-aware pruning: per-layer ``round_to`` and CPMC's measured-latency cost (``core_pruning.latency``)."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch
from torch import nn

import core_pruning as cp
from core_pruning.criteria import ScoringContext
from core_pruning.errors import UnreachableTarget
from core_pruning.groups import collect_groups, output_layers
from core_pruning.latency import LatencyModel, median_forward_seconds
from core_pruning.models import build_model
from core_pruning.plan import build_graph
from prunelab.errors import InputError

X28 = torch.randn(1, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def resnet20(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build_model("resnet20", num_classes=10, in_channels=1).eval()


def macs_timer(layer: nn.Module, x: torch.Tensor) -> float:
    """A device whose every layer takes exactly its multiply-accumulates (as seconds): latency == FLOPs."""
    with torch.no_grad():
        out = layer(x)
    if isinstance(layer, nn.Linear):
        return float(out.numel() * layer.in_features)
    per_position = layer.in_channels // layer.groups * math.prod(layer.kernel_size)
    return float(out.numel() * per_position)


def high_resolution_is_flat_timer(layer: nn.Module, x: torch.Tensor) -> float:
    """Layers reading 28x28 maps take the same time at any width (what the AVX-512 CPU showed for 16->k convs)."""
    return 1.0 if x.dim() == 4 and x.shape[-1] >= 28 else macs_timer(layer, x)


def scores(model: nn.Module, **options) -> tuple[list, list[torch.Tensor]]:
    crit = cp.get_criterion("cpmc", **options)
    groups = collect_groups(build_graph(model, X28), [model.fc])
    return groups, crit.score_all(groups, ScoringContext(model=model, example_inputs=X28))


def conv_widths(model: nn.Module) -> dict[str, int]:
    return {n: m.out_channels for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}


def test_per_layer_round_to_rounds_only_the_matching_groups_and_meets_the_budget():
    model = resnet20()
    report = cp.prune(model, X28, criterion="cpmc", target_flops=0.5, round_to={"layer1.*": 1, "*": 8}).report
    assert abs(report["flops_ratio"] - 0.5) <= 0.02
    for name, width in conv_widths(model).items():
        if not name.startswith(("layer1.", "conv1")):
            assert width % 8 == 0, (name, width)
    assert model(X28).shape == (1, 10)


def test_round_to_mapping_leaves_unmatched_groups_unrounded():
    """Only layer3 is rounded; layer1/layer2 may keep any count (with 1-channel blocks they end unrounded here)."""
    model = resnet20()
    cp.prune(model, X28, criterion="l1", target_flops=0.5, round_to={"layer3.*": 8})
    widths = conv_widths(model)
    assert all(w % 8 == 0 for n, w in widths.items() if n.startswith("layer3."))
    assert any(w % 8 for n, w in widths.items() if n.startswith(("layer1.", "layer2.")))


def test_round_to_sixteen_cannot_reach_a_third_of_resnet20_and_says_so():
    """Its 16-channel stage-1 groups cannot shrink in blocks of 16: the floors stop near 46% of the FLOPs."""
    with pytest.raises(UnreachableTarget, match=r"cannot reach 33.0% .* floors stop at 4\d\.\d%"):
        cp.prune(resnet20(), X28, criterion="cpmc", target_flops=0.33, round_to=16)
    assert issubclass(UnreachableTarget, InputError)  # the CLIs' one-line error, exit code 2


@pytest.mark.parametrize("bad", [0, -4, {"layer1.*": 0}, {}, "8", 2.5, True])
def test_bad_round_to_is_a_clear_error(bad):
    with pytest.raises(InputError, match="round_to"):
        cp.prune(resnet20(), X28, criterion="l1", target_flops=0.5, round_to=bad)


def _torchvision(name: str) -> nn.Module:
    import torchvision

    torch.manual_seed(0)
    kw = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
    return getattr(torchvision.models, name)(weights=None, **kw).eval()


@pytest.mark.parametrize("arch", ["resnet20", "mobilenet_v2", "googlenet"])  # residual, depthwise, concatenations
def test_latency_cost_on_a_device_where_time_is_macs_ranks_exactly_like_flops(arch):
    """The defining property of the cost model: if latency were FLOPs, ``cost="latency"`` would change nothing."""
    model = resnet20() if arch == "resnet20" else _torchvision(arch)
    x = X28 if arch == "resnet20" else torch.randn(1, 3, 64, 64)
    groups = collect_groups(build_graph(model, x), output_layers(model, x))
    ctx = ScoringContext(model=model, example_inputs=x)
    by_flops = cp.get_criterion("cpmc").score_all(groups, ctx)
    by_latency = cp.get_criterion("cpmc", example_inputs=x, cost="latency", latency_timer=macs_timer).score_all(
        groups, ctx)
    for group, f, t in zip(groups, by_flops, by_latency):
        torch.testing.assert_close(t, f, rtol=1e-6, atol=0, msg=group.root_name)


def test_latency_cost_keeps_channels_whose_removal_saves_no_time():
    """Where shrinking a layer buys nothing, FLOPs-costed ranking still prunes it; latency-costed ranking does not."""
    by_flops, by_latency = resnet20(), resnet20()
    cp.prune(by_flops, X28, criterion="cpmc", target_flops=0.5)
    cp.prune(by_latency, X28, criterion="cpmc", target_flops=0.5, cost="latency",
             latency_timer=high_resolution_is_flat_timer)
    stage1_internal = [f"layer1.{i}.conv1" for i in range(3)]  # read and consumed only at 28x28: zero saving
    assert sum(conv_widths(by_flops)[n] for n in stage1_internal) < 3 * 16
    assert all(conv_widths(by_latency)[n] == 16 for n in stage1_internal)
    assert abs(cp.count_flops_params(by_latency, X28)[0] / cp.count_flops_params(resnet20(), X28)[0] - 0.5) <= 0.02


def test_latency_cost_torch_pruning_adapter_scores_like_the_engine():
    model = resnet20()
    groups, expected = scores(model, example_inputs=X28, cost="latency", latency_timer=macs_timer)
    imp = cp.get_criterion("cpmc", example_inputs=X28, cost="latency", latency_timer=macs_timer)
    for group, want in zip(groups, expected):
        torch.testing.assert_close(imp(group.tp_group).double(), want, rtol=1e-5, atol=1e-9)


def test_latency_model_measures_each_shape_once_and_times_a_real_layer():
    calls = []

    def counting_timer(layer, x):
        calls.append((type(layer).__name__, tuple(x.shape)))
        return 1e-3

    model = resnet20()
    latency = LatencyModel(model, X28, batch_size=4, timer=counting_timer)
    first = latency.layer_seconds(model.layer2[1].conv1)
    again = latency.layer_seconds(model.layer2[2].conv1)  # same kernel, stride, widths and input size: cached
    assert first == again == 1e-3 and calls == [("Conv2d", (4, 32, 14, 14))]
    seconds = median_forward_seconds(nn.Conv2d(8, 8, 3, padding=1), torch.randn(2, 8, 16, 16), repeats=3)
    assert 0.0 < seconds < 1.0


def test_unknown_cost_and_bad_latency_options_are_refused():
    with pytest.raises(ValueError, match="cost"):
        cp.get_criterion("cpmc", cost="watts")
    with pytest.raises(ValueError, match="latency_block"):
        cp.get_criterion("cpmc", latency_block=0)


def test_cli_round_to_takes_per_layer_patterns_and_rejects_garbage(tmp_path):
    base = [sys.executable, "-m", "core_pruning", "prune", "--model", "resnet20", "--input-size", "1,28,28",
            "--criterion", "l1", "--target-flops", "0.5"]
    ok = subprocess.run([*base, "--round-to", "layer1.*=1,*=8", "--out", str(tmp_path / "a"), "--json"],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([*base, "--round-to", "layer1.*=x", "--out", str(tmp_path / "b")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "--round-to" in bad.stderr
    assert not (tmp_path / "b").exists()
