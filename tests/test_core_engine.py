"""core_pruning engine: budgets, floors, criteria properties, zero-channel losslessness, plans, errors."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from torch import nn

import core_pruning as cp
from core_pruning.counting import LayerShapes
from core_pruning.models import build_model
from prunelab.errors import InputError

X28 = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def small_resnet(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = build_model("resnet20", num_classes=10, in_channels=1).eval()
    for m in model.modules():  # non-trivial BN statistics so that BN-based criteria differ from weights
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data.uniform_(0.2, 1.5)
            m.running_mean.normal_(0, 0.1)
    return model


class Plain(nn.Module):
    """conv -> relu -> conv -> relu -> pool -> linear, small enough to compute things by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 6, 3, padding=1)
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        return self.fc(x.mean((2, 3)))


@pytest.mark.parametrize("kind,key", [("target_flops", "flops"), ("target_params", "params"),
                                      ("keep_ratio", "channels")])
@pytest.mark.parametrize("fraction", [0.5, 0.33])
def test_budget_is_met_within_two_percent(kind, key, fraction):
    model = small_resnet()
    result = cp.prune(model, X28[:1], criterion="l1", **{kind: fraction})
    report = result.report
    achieved = report[f"{key}_after"] / report[f"{key}_before"]
    assert abs(achieved - fraction) <= 0.02, (kind, achieved)
    assert model(X28).shape == (2, 10)


@pytest.mark.parametrize("round_to", [2, 4, 8])
@pytest.mark.parametrize("criterion", ["l1", "cpmc"])
def test_budget_is_met_within_two_percent_with_rounded_channel_counts(round_to, criterion):
    """Whole blocks of round_to channels are selected: every kept count a multiple, the budget still met.

    (Rounding after a channel-wise selection overshot: 47.7% of the FLOPs kept for 50% at round_to=2.)"""
    torch.manual_seed(0)
    model = build_model("resnet20", num_classes=10, in_channels=1)
    report = cp.prune(model, X28[:1], criterion=criterion, target_flops=0.5, round_to=round_to).report
    assert abs(report["flops_after"] / report["flops_before"] - 0.5) <= 0.02
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d) and m.out_channels >= round_to:
            assert m.out_channels % round_to == 0, (name, m.out_channels)
    assert model(X28).shape == (2, 10)


def test_keep_ratio_pruning_ratio_and_the_deprecated_channel_ratio_name_one_budget():
    """keep_ratio is the fraction kept; pruning_ratio the fraction removed (Torch-Pruning's meaning); channel_ratio,
    the old name of keep_ratio, warns and prunes exactly as keep_ratio does."""
    import warnings

    def plan(**budget):
        return cp.prune(small_resnet(), X28[:1], criterion="l1", **budget).plan.to_dict()["steps"]

    kept = plan(keep_ratio=0.75)
    assert plan(pruning_ratio=0.25) == kept
    with pytest.warns(DeprecationWarning, match="keep_ratio"):
        assert plan(channel_ratio=0.75) == kept
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new names do not warn
        plan(keep_ratio=0.9)
    for bad in ({"keep_ratio": 0.5, "pruning_ratio": 0.5}, {"keep_ratio": 0.5, "channel_ratio": 0.5}):
        with pytest.raises(InputError, match="not keep_ratio and"):
            plan(**bad)
    with pytest.raises(InputError, match="exactly one of"):
        plan(keep_ratio=0.5, target_flops=0.5)
    for bad in (1.0, -0.1, 1.5, float("nan")):
        with pytest.raises(InputError, match=r"pruning_ratio must be a fraction of channels to remove in \[0, 1\)"):
            plan(pruning_ratio=bad)


def test_global_selector_passes_over_what_overshoots_and_else_takes_the_least_overshoot():
    """The one tolerance rule (core_pruning.selection), used by prune and by CAC/DAIS."""
    from core_pruning.selection import AdditiveSavings, select_global

    costs = [[5.0, 1.0, 1.0], [3.0, 2.0]]

    def run(ranked, need, limit, room=(3, 2), in_order=False):
        savings = AdditiveSavings(lambda g, u: costs[g][u])
        return select_global(ranked, list(room), savings, need, limit, in_order), savings.total

    ranked = [(0, 0), (1, 0), (0, 1), (1, 1), (0, 2)]
    assert run(ranked, need=4.0, limit=4.5) == ({1: [0], 0: [1]}, 4.0)  # 5 passed over, then lowest first
    assert run(ranked, need=4.0, limit=4.5, room=(3, 0)) == ({0: [1, 2]}, 2.0)  # floors: short of need
    assert run(ranked, need=1.0, limit=0.5) == ({0: [1]}, 1.0)  # nothing fits: the least overshoot
    assert run(ranked, need=4.0, limit=4.5, in_order=True) == ({1: [0]}, 3.0)  # group 0 passed over whole
    assert run([(0, 0), (0, 1), (1, 0)], need=3.0, limit=3.5, in_order=True) == ({1: [0]}, 3.0)  # 0 closed
    assert run([], need=1.0, limit=1.0) == ({}, 0.0)


def test_block_selection_never_takes_a_later_block_of_a_passed_over_group():
    """A group whose first (rounding) block would overshoot is skipped whole: its next block alone would leave
    a kept count that is no multiple of round_to."""
    from types import SimpleNamespace

    from core_pruning.engine import Limits, _Pruner

    limits = Limits(round_to=4)
    pruner = SimpleNamespace(limits=limits, floor=lambda g: limits.floor(g.size, 4), block=lambda g: 4)
    ten, eight = SimpleNamespace(size=10), SimpleNamespace(size=8)  # blocks: 10 -> 2 then 4; 8 -> 4
    scores = [torch.arange(10, dtype=torch.float64), torch.arange(8, dtype=torch.float64) + 2.5]
    costs = [torch.tensor([50.0, 50.0] + [1.0] * 8, dtype=torch.float64), torch.ones(8, dtype=torch.float64)]
    chosen = _Pruner._select_blocks(pruner, [ten, eight], scores, costs, need=8.0, limit=10.0)
    assert 0 not in chosen  # its first block costs 100 > limit, and its cheap second block must not go alone
    assert sorted(chosen[1]) == [0, 1, 2, 3]
    for gi, picked in chosen.items():
        assert ((ten, eight)[gi].size - len(picked)) % 4 == 0


def test_count_flops_params_matches_hand_computation():
    model = Plain()
    flops, params = cp.count_flops_params(model, torch.randn(1, 3, 10, 10))
    assert flops == 100 * 8 * 3 * 9 + 100 * 6 * 8 * 9 + 6 * 4
    assert params == (8 * 27 + 8) + (6 * 72 + 6) + (6 * 4 + 4)


def test_count_flops_matches_pytorch_flop_counter_after_pruning():
    from torch.utils.flop_counter import FlopCounterMode

    model = small_resnet()
    cp.prune(model, X28[:1], criterion="cpmc", target_flops=0.4)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(X28[:1])
    assert cp.count_flops_params(model, X28[:1])[0] * 2 == counter.get_total_flops()


def test_floors_are_honoured_in_global_mode():
    model = small_resnet()
    before = {n: m.out_channels for n, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    cp.prune(model, X28[:1], criterion="l1", target_flops=0.2, min_channels=3, max_layer_ratio=0.75, round_to=2,
             step_fraction=0.2)
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            assert m.out_channels >= 3
            assert m.out_channels >= before[name] * 0.25 - 1e-9
            assert m.out_channels % 2 == 0, (name, m.out_channels)


def test_impossible_target_is_a_clear_error():
    with pytest.raises(InputError, match="floors"):
        cp.prune(small_resnet(), X28[:1], criterion="l1", target_flops=0.05, max_layer_ratio=0.5)


@pytest.mark.parametrize("kwargs,match", [
    ({"criterion": "nope", "target_flops": 0.5}, "unknown criterion"),
    ({"criterion": "l1"}, "exactly one"),
    ({"criterion": "l1", "target_flops": 0.5, "target_params": 0.5}, "exactly one"),
    ({"criterion": "l1", "target_flops": 1.5}, r"\(0, 1\]"),
    ({"criterion": "l1", "target_flops": float("nan")}, r"\(0, 1\]"),
    ({"criterion": "cpmc", "target_flops": 0.5, "bogus": 1}, "no option 'bogus'"),
    ({"criterion": "taylor", "target_flops": 0.5}, "calibration data"),
    ({"criterion": "zero"}, "calibration data"),
    ({"criterion": "zero", "target_flops": 0.5, "calib_data": X28}, "do not give a target"),
    ({"criterion": "l1", "target_flops": 0.5, "ignored_layers": ["no.such"]}, "no layer named"),
])
def test_bad_arguments_raise_input_error(kwargs, match):
    with pytest.raises(InputError, match=match):
        cp.prune(small_resnet(), X28[:1], **kwargs)


def test_classifier_is_never_pruned_and_ignored_layers_are_kept():
    model = small_resnet()
    result = cp.prune(model, X28[:1], criterion="l1", target_flops=0.4, ignored_layers=["layer1.0.conv1"])
    assert model.fc.out_features == 10
    assert model.layer1[0].conv1.out_channels == 16
    assert "fc" not in result.report["removed"]


def _global_ranking(model, criterion, **options):
    crit = cp.get_criterion(criterion, **options)
    from core_pruning.criteria import ScoringContext
    from core_pruning.groups import collect_groups
    from core_pruning.plan import build_graph

    x = torch.randn(1, 3, 28, 28) if isinstance(model, Plain) else X28[:1]
    groups = collect_groups(build_graph(model, x), [model.fc])
    scores = crit.score_all(groups, ScoringContext(model=model, example_inputs=x))
    return groups, scores


def test_l1_scores_equal_manual_filter_norms():
    model = Plain()
    groups, scores = _global_ranking(model, "l1", normalization="none")
    by_root = {g.root_name: s for g, s in zip(groups, scores)}
    torch.testing.assert_close(by_root["conv1"].float(), model.conv1.weight.detach().abs().sum((1, 2, 3)))
    torch.testing.assert_close(by_root["conv2"].float(), model.conv2.weight.detach().abs().sum((1, 2, 3)))


def test_cpmc_without_costs_and_dependency_ranks_like_l1():
    model = small_resnet()
    _, l1 = _global_ranking(model, "l1", normalization="layer_mean")
    _, cpmc = _global_ranking(model, "cpmc", flops_weight=0.0, params_weight=0.0, dependency=False)
    assert torch.equal(torch.argsort(torch.cat(l1), stable=True), torch.argsort(torch.cat(cpmc), stable=True))


def test_cpmc_dependency_counts_the_next_layer_slice():
    model = Plain()
    with torch.no_grad():  # make conv1 channel 0 tiny in its own filter but heavily read by conv2
        model.conv1.weight[0].mul_(1e-3)
        model.conv2.weight[:, 0].mul_(100)
    groups, scores = _global_ranking(model, "cpmc", flops_weight=0.0, params_weight=0.0, combine="additive")
    conv1 = scores[[g.root_name for g in groups].index("conv1")]
    filters = model.conv1.weight.detach().abs().sum((1, 2, 3))
    slices = model.conv2.weight.detach().abs().sum((0, 2, 3))
    value = filters / filters.mean() + slices / slices.mean()
    torch.testing.assert_close(conv1.float(), value / value.mean())  # additive: normalised by the group's mean
    groups, raw = _global_ranking(model, "cpmc", flops_weight=0.0, params_weight=0.0, group_normalization="none")
    torch.testing.assert_close(raw[[g.root_name for g in groups].index("conv1")].float(), value)
    groups, filter_only = _global_ranking(model, "cpmc", flops_weight=0.0, params_weight=0.0, dependency=False)
    assert int(torch.argmin(filter_only[[g.root_name for g in groups].index("conv1")])) == 0
    assert int(torch.argmin(conv1)) != 0


@pytest.mark.parametrize("normalization", ["none", "layer_max", "global_max"])
def test_cpmc_weight_value_honours_the_normalization(normalization):
    """layer_* normalise each block (filter, consumer slice) in its layer; none sums raw norms; global_* rescales
    the summed values of the whole network by one statistic."""
    model = Plain()
    groups, scores = _global_ranking(model, "cpmc", flops_weight=0.0, params_weight=0.0,
                                     normalization=normalization, group_normalization="none")
    conv1 = scores[[g.root_name for g in groups].index("conv1")]
    filters = model.conv1.weight.detach().abs().sum((1, 2, 3)).double()
    slices = model.conv2.weight.detach().abs().sum((0, 2, 3)).double()
    if normalization == "layer_max":
        filters, slices = filters / filters.max(), slices / slices.max()
    expected = filters + slices
    if normalization == "global_max":
        expected = expected / max(float(s.abs().max()) for s in _raw_cpmc_values(model))
    torch.testing.assert_close(conv1.double(), expected, rtol=1e-5, atol=1e-8)


def _raw_cpmc_values(model):
    _, raw = _global_ranking(model, "cpmc", flops_weight=0.0, params_weight=0.0, normalization="none",
                             group_normalization="none")
    return raw


def test_cpmc_ratio_rule_values_a_residual_stream_by_everything_that_depends_on_it():
    """Ratio rule without costs: a channel read by many layers outranks a plain one with the same relative weights."""
    model = small_resnet()
    groups, scores = _global_ranking(model, "cpmc", combine="ratio", flops_weight=0.0, params_weight=0.0)
    by_root = {g.root_name: (g, s) for g, s in zip(groups, scores)}
    stream, s_stream = by_root["conv1"]  # stem + every block's conv2 in stage 1, read by 7 layers
    plain, s_plain = by_root["layer1.0.conv1"]  # one filter, one consumer
    assert len(stream.outputs) + len(stream.inputs) > 2 * (len(plain.outputs) + len(plain.inputs))
    assert s_stream.mean() > 2 * s_plain.mean()


@pytest.mark.parametrize("combine", ["additive", "ratio", "sum"])
def test_cpmc_prefers_removing_expensive_layers_at_equal_magnitude(combine):
    """With equal normalised magnitudes, the FLOPs term decides: the costlier layer is pruned first."""
    model = Plain()
    with torch.no_grad():
        for m in (model.conv1, model.conv2, model.fc):
            m.weight.fill_(0.1)
    groups, scores = _global_ranking(model, "cpmc", params_weight=0.0, flops_weight=1.0, combine=combine)
    by_root = {g.root_name: s for g, s in zip(groups, scores)}
    shapes = LayerShapes(model, torch.randn(1, 3, 28, 28))
    costs = {g.root_name: g.channel_costs(shapes)[0][0] for g in groups}
    cheap, dear = sorted(costs, key=costs.get)
    assert by_root[dear].max() < by_root[cheap].min()


def test_cpmc_additive_rule_adds_log_scaled_costs_to_the_group_normalised_value():
    """COP's form: M / mean(M in group) + fw * (1 - log2 F / max log2 F) + pw * (1 - log2 P / max log2 P)."""
    model = small_resnet()
    groups, scores = _global_ranking(model, "cpmc", flops_weight=0.7, params_weight=0.3, combine="additive")
    _, values = _global_ranking(model, "cpmc", flops_weight=0.0, params_weight=0.0, group_normalization="none")
    shapes = LayerShapes(model, X28[:1])
    costs = [g.channel_costs(shapes) for g in groups]
    max_f = max(float(f.log2().max()) for f, _ in costs)
    max_p = max(float(p.log2().max()) for _, p in costs)
    for value, score, (f, p) in zip(values, scores, costs):
        expected = value / value.mean() + 0.7 * (1 - f.log2() / max_f) + 0.3 * (1 - p.log2() / max_p)
        torch.testing.assert_close(score, expected)


def test_cpmc_default_is_the_ratio_rule_weight_value_per_unit_of_cost():
    """The default: M / ((F / mean F) ** 0.5 * (P / mean P) ** 0.5), means over every prunable channel."""
    model = small_resnet()
    groups, scores = _global_ranking(model, "cpmc")
    _, values = _global_ranking(model, "cpmc", flops_weight=0.0, params_weight=0.0, combine="ratio")
    shapes = LayerShapes(model, X28[:1])
    costs = [g.channel_costs(shapes) for g in groups]
    mean_f = float(torch.cat([f for f, _ in costs]).double().mean())
    mean_p = float(torch.cat([p for _, p in costs]).double().mean())
    for value, score, (f, p) in zip(values, scores, costs):
        expected = value / ((f.double() / mean_f) ** 0.5 * (p.double() / mean_p) ** 0.5)
        torch.testing.assert_close(score, expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("combine", ["additive", "ratio"])
def test_cpmc_compares_layers_by_relative_weight_value(combine):
    """Scaling one layer's weights (and its consumer's, as BatchNorm would make free) leaves every score unchanged."""
    model = Plain()
    groups, before = _global_ranking(model, "cpmc", combine=combine)
    with torch.no_grad():
        model.conv1.weight.mul_(50)
        model.conv2.weight.mul_(0.01)
    _, after = _global_ranking(model, "cpmc", combine=combine)
    for b, a in zip(before, after):
        torch.testing.assert_close(a, b)


def test_cpmc_torch_pruning_adapter_scores_like_the_engine():
    import torch_pruning as tp

    model = small_resnet()
    groups, scores = _global_ranking(model, "cpmc")
    imp = cp.get_criterion("cpmc", example_inputs=X28[:1])
    for group, expected in zip(groups, scores):
        torch.testing.assert_close(imp(group.tp_group).double(), expected, rtol=1e-5, atol=1e-6)
    assert isinstance(imp, tp.importance.Importance)


def test_fpgm_scores_the_median_filter_lowest():
    model = Plain()
    with torch.no_grad():
        base = torch.randn(3, 3, 3)
        for i in range(8):
            model.conv1.weight[i] = base * (1 + 0.5 * (i - 3.5))  # filter 3/4 sit in the middle of the line
    groups, scores = _global_ranking(model, "fpgm", normalization="none")
    s = scores[[g.root_name for g in groups].index("conv1")]
    assert int(torch.argmin(s)) in (3, 4)
    assert int(torch.argmax(s)) in (0, 7)


def test_bn_scale_follows_gamma():
    model = small_resnet()
    groups, scores = _global_ranking(model, "bn_scale", normalization="none")
    g = [g for g in groups if g.root_name == "layer1.0.conv1"][0]
    s = scores[groups.index(g)]
    torch.testing.assert_close(s.float(), model.layer1[0].bn1.weight.detach().abs())


def test_taylor_uses_data_and_differs_from_weights():
    model = small_resnet()
    targets = torch.randint(0, 10, (2,))
    result = cp.prune(model, X28[:1], criterion="taylor", target_flops=0.6, calib_data=[(X28, targets)])
    assert abs(result.report["flops_ratio"] - 0.6) <= 0.02
    assert all(p.grad is None for p in model.parameters())


def test_random_criterion_is_seeded():
    a = cp.prune(small_resnet(), X28[:1], criterion="random", target_flops=0.5, seed=3).report["removed"]
    b = cp.prune(small_resnet(), X28[:1], criterion="random", target_flops=0.5, seed=3).report["removed"]
    c = cp.prune(small_resnet(), X28[:1], criterion="random", target_flops=0.5, seed=4).report["removed"]
    assert a == b and a != c


# -- zero-channel pruning -----------------------------------------------------------------------

def planted_dead_model() -> tuple[nn.Module, dict[str, list[int]]]:
    """ResNet-20 whose BN biases kill chosen channels after ReLU on any input."""
    model = small_resnet(1)
    dead = {"layer1.0.conv1": [1, 5, 9], "layer2.1.conv1": [0, 31], "layer3.2.conv1": list(range(10, 20))}
    with torch.no_grad():
        for name, idxs in dead.items():
            bn = model.get_submodule(name.replace("conv1", "bn1"))
            bn.weight[idxs] = 0.0
            bn.bias[idxs] = -1.0
    return model, dead


def test_zero_pruning_finds_all_planted_dead_channels_and_is_lossless():
    model, dead = planted_dead_model()
    calib = torch.randn(16, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        before = model(calib)
    result = cp.prune(model, calib[:1], criterion="zero", calib_data=calib)
    for name, idxs in dead.items():
        assert set(idxs) <= set(result.report["removed"].get(name, [])), name
    with torch.no_grad():
        after = model(calib)
    assert (after - before).abs().max().item() <= 1e-5
    assert result.report["flops_after"] < result.report["flops_before"]


def test_frozen_model_and_no_grad_prune_as_a_trainable_one():
    """Inference code loads pretrained weights frozen (``requires_grad_(False)``), runs under ``no_grad`` and makes
    inference-mode tensors; Torch-Pruning traces through autograd, which then saw the last layer alone (budget
    pruning crashed on an empty ranking, zero-channel pruning silently removed nothing) or refused the example
    input. All of them now prune as for a trainable model, and the parameters come back frozen."""
    model, dead = planted_dead_model()
    model.requires_grad_(False)
    calib = torch.randn(8, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        result = cp.prune(model, calib[:1], criterion="zero", calib_data=calib)
    for name, idxs in dead.items():
        assert set(idxs) <= set(result.report["removed"].get(name, [])), name
    assert not any(p.requires_grad for p in model.parameters())
    frozen = small_resnet(1).requires_grad_(False)
    with torch.inference_mode():
        example = torch.randn(1, 1, 28, 28)  # an inference tensor, as inference code makes them
    budget = cp.prune(frozen, example, criterion="l1", target_flops=0.5)
    assert budget.report["flops_ratio"] == pytest.approx(0.5, abs=0.02)
    assert not any(p.requires_grad for p in frozen.parameters())


def test_zero_pruning_folds_constant_channels_losslessly():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, padding_mode="reflect"), nn.ReLU(),
                          nn.Conv2d(8, 8, 3, padding=1, padding_mode="reflect"), nn.ReLU(), nn.Conv2d(8, 4, 1))
    with torch.no_grad():
        model[0].weight[2] = 0.0
        model[0].bias[2] = 0.7  # channel 2: constant 0.7 after ReLU
        model[2].weight[5] = 0.0
        model[2].bias[5] = -0.3  # channel 5 of the second conv: dead
    calib = torch.randn(4, 3, 12, 12)
    with torch.no_grad():
        before = model(calib)
    plain = cp.prune(copy.deepcopy(model), calib[:1], criterion="zero", calib_data=calib)
    assert plain.report["removed"] == {"2": [5]}
    result = cp.prune(model, calib[:1], criterion="zero", calib_data=calib, fold_constant=True)
    assert result.report["removed"] == {"0": [2], "2": [5]}
    assert result.report["folded_constant_channels"] == 1
    with torch.no_grad():
        assert (model(calib) - before).abs().max().item() <= 1e-5


# -- plans --------------------------------------------------------------------------------------

def test_plan_replays_to_identical_model(tmp_path):
    original = small_resnet(2)
    twin = small_resnet(2)
    result = cp.prune(original, X28[:1], criterion="cpmc", target_flops=0.5)
    path = result.plan.save(tmp_path / "plan.json")
    assert json.loads(path.read_text())["format"] == "prunelab-plan/1"
    cp.apply_plan(twin, cp.PruningPlan.load(path), X28[:1])
    assert [p.shape for p in twin.parameters()] == [p.shape for p in original.parameters()]
    with torch.no_grad():
        torch.testing.assert_close(twin(X28), original(X28), rtol=0, atol=0)


def test_zero_plan_with_folds_replays(tmp_path):
    model, _ = planted_dead_model()
    twin, _ = planted_dead_model()
    calib = torch.randn(8, 1, 28, 28)
    result = cp.prune(model, calib[:1], criterion="zero", calib_data=calib, fold_constant=True)
    cp.apply_plan(twin, result.plan, calib[:1])
    with torch.no_grad():
        torch.testing.assert_close(twin(calib), model(calib), rtol=0, atol=0)


def test_save_and_load_pruned_model(tmp_path):
    model = small_resnet(3)
    result = cp.prune(model, X28[:1], criterion="l2", target_flops=0.5)
    cp.save_pruned(model, result.plan, tmp_path / "pruned.pt")
    loaded = cp.load_pruned(build_model("resnet20", in_channels=1).eval(), tmp_path / "pruned.pt", X28[:1])
    with torch.no_grad():
        torch.testing.assert_close(loaded(X28), model(X28), rtol=0, atol=0)


def test_plan_on_wrong_architecture_is_a_clear_error():
    result = cp.prune(small_resnet(), X28[:1], criterion="l1", target_flops=0.5)
    with pytest.raises(cp.PlanMismatch, match="made for CifarResNet"):
        cp.apply_plan(build_model("vgg_small", in_channels=1), result.plan, X28[:1])
    result.plan.model_class = ""
    with pytest.raises(cp.PlanMismatch):
        cp.apply_plan(build_model("vgg_small", in_channels=1), result.plan, X28[:1])


def test_corrupt_plan_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "plan.json"
    bad.write_text("{not json")
    with pytest.raises(cp.PlanMismatch, match="cannot read plan"):
        cp.PruningPlan.load(bad)
    bad.write_text(json.dumps({"format": "other"}))
    with pytest.raises(cp.PlanMismatch, match="not a prunelab plan"):
        cp.PruningPlan.load(bad)


def test_criteria_work_as_torch_pruning_importance():
    import torch_pruning as tp

    for name in ["l1", "l2", "fpgm", "bn_scale", "cpmc", "random"]:
        model = small_resnet()
        imp = cp.get_criterion(name, example_inputs=X28[:1])
        pruner = tp.pruner.MetaPruner(model, X28[:1], importance=imp, pruning_ratio=0.3, ignored_layers=[model.fc])
        pruner.step()
        assert model(X28).shape == (2, 10)
        assert cp.count_params(model) < cp.count_params(small_resnet())

    model, _ = planted_dead_model()
    imp = cp.get_criterion("zero").calibrate(model, torch.randn(8, 1, 28, 28))
    group = [g for g in tp.DependencyGraph().build_dependency(model, X28[:1]).get_all_groups(ignored_layers=[model.fc])
             if g[0].dep.target.module is model.layer1[0].conv1][0]
    scores = imp(group)
    assert set(torch.nonzero(scores == 0).flatten().tolist()) == {1, 5, 9}


def test_output_layers_are_not_confused_by_reused_tensor_ids():
    """A conv whose output was freed mid-forward must not be taken for the output layer when the returned
    tensor (here a ReLU result) happens to reuse its Python id; such convs were wrongly kept whole."""
    from core_pruning.groups import output_layers

    class Chain(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.convs = nn.ModuleList(nn.Conv2d(4, 4, 3, padding=1) for _ in range(4))

        def forward(self, x):
            for i, conv in enumerate(self.convs):
                x = nn.functional.max_pool2d(x, 2) if i == 2 else x
                x = torch.relu(conv(x))
            return x

    for width in (16, 32, 64):  # several allocation patterns
        assert output_layers(Chain().eval(), torch.randn(1, 4, width, width)) == []
    model = small_resnet()
    assert output_layers(model, X28[:1]) == [model.fc]
