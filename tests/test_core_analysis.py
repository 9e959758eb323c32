"""core_pruning.analysis: rank similarity, removal overlap, score spread and weight-normality tests."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from core_pruning.analysis import (
    analyze,
    coefficient_of_variation,
    compare,
    global_removed,
    jaccard,
    layer_normality,
    layerwise_removed,
    normality_figure,
    normality_tests,
    rank_correlation,
    relative_gap,
    save_figure,
    score_criteria,
    similarity_figure,
    spread,
)
from core_pruning.models import build_model
from prunelab.errors import InputError

X28 = torch.randn(1, 1, 28, 28, generator=torch.Generator().manual_seed(0))


class WideStack(nn.Module):
    """Plain conv stack with i.i.d. Gaussian weights: the setting of the paper's CWDA analysis."""

    def __init__(self, width: int = 64, depth: int = 3, seed: int = 0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.convs = nn.ModuleList(nn.Conv2d(3 if i == 0 else width, width, 3, padding=1, bias=False)
                                   for i in range(depth))
        for conv in self.convs:
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * 0.05)
        self.fc = nn.Linear(width, 10)

    def forward(self, x):
        for conv in self.convs:
            x = torch.relu(conv(x))
        return self.fc(x.mean((2, 3)))


X8 = torch.randn(1, 3, 8, 8)


# -- building blocks, checked by hand -----------------------------------------------------------

def test_layerwise_and_global_removal_sets_by_hand():
    assert layerwise_removed(np.array([3.0, 1.0, 2.0, 0.5]), 0.5) == {1, 3}
    assert layerwise_removed(np.array([1.0, 2.0]), 0.99) == {0}  # at least one channel kept
    vectors = [np.array([0.1, 0.2, 0.3]), np.array([5.0, 0.05])]
    # 3 of 5 channels: 0.05 (g1 ch1), 0.1 (g0 ch0), 0.2 (g0 ch1); g1 would keep nothing if 5.0 went too
    assert global_removed(vectors, 0.6) == {(1, 1), (0, 0), (0, 1)}
    assert global_removed(vectors, 0.99) == {(1, 1), (0, 0), (0, 1)}  # floors: each group keeps one


def test_jaccard_and_relative_gap_by_hand():
    assert jaccard({1, 2}, {2, 3}) == pytest.approx(1 / 3)
    assert jaccard(set(), set()) == 1.0
    s = np.array([1.0, 2.0, 4.0, 5.0])
    assert relative_gap(s, {0, 1}) == pytest.approx((4.0 - 2.0) / 3.0)
    assert math.isnan(relative_gap(s, set()))
    assert coefficient_of_variation(np.array([1.0, 3.0])) == pytest.approx(0.5)


def test_rank_correlation_extremes_and_undefined():
    x = np.arange(10.0)
    assert rank_correlation(x, x ** 3) == pytest.approx((1.0, 1.0))
    assert rank_correlation(x, -x) == pytest.approx((-1.0, -1.0))
    assert all(math.isnan(v) for v in rank_correlation(x, np.ones(10)))


# -- similarity (blind spot 1) ------------------------------------------------------------------

def test_identical_criteria_give_correlation_one_and_overlap_one():
    scores = score_criteria(build_model("resnet20", in_channels=1).eval(), X28, ["l1"])
    pair = compare(scores, "l1", "l1", ratio=0.4)
    assert all(s.spearman == pytest.approx(1.0) and s.kendall == pytest.approx(1.0) for s in pair.layers)
    assert all(s.jaccard_layerwise == 1.0 for s in pair.layers)
    assert pair.jaccard_global == 1.0


def test_cpmc_without_costs_or_dependency_is_l1_in_every_statistic():
    """A different criterion that ranks exactly like l1 must be indistinguishable from it."""
    scores = score_criteria(build_model("resnet20", in_channels=1).eval(), X28, ["l1", "cpmc"],
                            criterion_options={"cpmc": {"flops_weight": 0.0, "params_weight": 0.0,
                                                        "dependency": False}})
    pair = compare(scores, "l1", "cpmc", ratio=0.5)
    assert pair.mean_spearman == pytest.approx(1.0)
    assert pair.mean_jaccard_layerwise == 1.0
    assert pair.jaccard_global == 1.0


def test_norm_criteria_rank_alike_on_gaussian_weights_and_random_does_not():
    scores = score_criteria(WideStack(), X8, ["l1", "l2", "fpgm", "random"])
    assert compare(scores, "l1", "l2").mean_spearman > 0.85
    assert compare(scores, "l2", "fpgm").mean_spearman > 0.85
    assert compare(scores, "l1", "fpgm").mean_spearman > 0.8
    assert abs(compare(scores, "l1", "random").mean_spearman) < 0.3
    assert compare(scores, "l1", "l2").mean_jaccard_layerwise > compare(scores, "l1", "random").mean_jaccard_layerwise


def test_l1_and_l2_disagree_on_filters_of_different_sparsity():
    """Dense small weights vs sparse large ones: L1 and L2 order such filters in opposite ways."""
    model = WideStack(width=16, depth=2)
    with torch.no_grad():
        w = torch.zeros(16, 16 * 9)
        for i in range(16):
            k = 16 * 9 - 8 * i  # filter i has k non-zeros of value a: L2 = a sqrt(k) rises, L1 = a k falls
            a = (1.0 + 0.01 * i) / math.sqrt(k)
            w[i, :k] = a
        model.convs[1].weight.copy_(w.reshape(16, 16, 3, 3))
    scores = score_criteria(model, X8, ["l1", "l2"])
    layer = compare(scores, "l1", "l2").layers[scores.layers.index("convs.1")]
    assert layer.spearman == pytest.approx(-1.0)
    assert layer.jaccard_layerwise == 0.0


# -- spread (blind spot 2) ----------------------------------------------------------------------

def test_norm_spread_matches_gaussian_theory_and_shrinks_with_filter_size():
    model = WideStack(width=128, depth=2, seed=1)
    scores = score_criteria(model, X8, ["l1", "l2"])
    d = 128 * 9
    l2 = spread(scores, "l2").layers[scores.layers.index("convs.1")].cv
    l1 = spread(scores, "l1").layers[scores.layers.index("convs.1")].cv
    assert l2 == pytest.approx(1 / math.sqrt(2 * d), rel=0.25)
    assert l1 == pytest.approx(math.sqrt(math.pi / 2 - 1) / math.sqrt(d), rel=0.25)
    small = spread(scores, "l2").layers[scores.layers.index("convs.0")].cv  # d = 27
    assert small > 3 * l2


def test_global_cut_on_raw_norms_empties_the_small_scale_layer():
    """Without per-layer normalisation a global norm cut removes the layer whose weights are smallest."""
    model = WideStack(width=32, depth=3)
    with torch.no_grad():
        model.convs[1].weight.mul_(0.01)
    raw = score_criteria(model, X8, ["l1"], criterion_options={"l1": {"normalization": "none"}})
    assert spread(raw, "l1", ratio=0.4).global_removed_per_layer["convs.1"] == 31  # all but the floor
    normalised = score_criteria(model, X8, ["l1"])  # layer_mean normalisation (the engine's default)
    assert spread(normalised, "l1", ratio=0.4).global_removed_per_layer["convs.1"] < 20


# -- normality (CWDA) ---------------------------------------------------------------------------

def test_planted_non_gaussian_layers_are_rejected_and_gaussian_ones_are_not():
    gen = np.random.default_rng(0)
    gaussian = [layer_normality(f"g{i}", gen.normal(0, 0.05, 4608), seed=i) for i in range(10)]
    assert sum(r.gaussian is False for r in gaussian) <= 2  # about alpha*2 of true nulls may be rejected
    uniform = layer_normality("u", gen.uniform(-0.1, 0.1, 4608))
    laplace = layer_normality("l", gen.laplace(0, 0.05, 4608))
    bimodal = layer_normality("b", np.concatenate([gen.normal(-0.1, 0.02, 2304), gen.normal(0.1, 0.02, 2304)]))
    for r in (uniform, laplace, bimodal):
        assert r.gaussian is False and r.verdict == "not gaussian", r
    assert laplace.excess_kurtosis > 2 and uniform.excess_kurtosis < -1
    tiny = layer_normality("t", gen.normal(size=9))
    assert tiny.gaussian is None and tiny.verdict == "too few weights"


def test_normality_tests_walk_conv_layers_and_subsample():
    model = WideStack(width=64, depth=2)
    with torch.no_grad():
        model.convs[1].weight.copy_(torch.rand(model.convs[1].weight.shape) - 0.5)  # uniform: planted
    results = {r.layer: r for r in normality_tests(model, alpha=0.01, max_samples=3000)}
    assert set(results) == {"convs.0", "convs.1"}
    assert results["convs.1"].weights == 64 * 64 * 9 and results["convs.1"].tested == 3000
    assert results["convs.0"].tested == results["convs.0"].weights == 64 * 27
    assert results["convs.1"].gaussian is False
    assert results["convs.0"].gaussian is True


# -- the one-call report, figures and errors ----------------------------------------------------

def test_analyze_report_is_json_and_text_and_figures_are_png(tmp_path):
    model = build_model("resnet20", in_channels=1).eval()
    calib = [(torch.randn(4, 1, 28, 28), torch.randint(0, 10, (4,)))]
    result = analyze(model, X28, ["l1", "l2", "taylor"], calib_data=calib, ratio=0.3)
    assert all(p.grad is None for p in model.parameters())  # taylor's gradients cleaned up
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert [(p["a"], p["b"]) for p in data["pairs"]] == [("l1", "l2"), ("l1", "taylor"), ("l2", "taylor")]
    assert data["normality"]["tested_layers"] == 21
    matrix = result.matrix()
    assert matrix.shape == (3, 3) and np.allclose(matrix, matrix.T) and np.all(np.diag(matrix) == 1)
    text = result.format_text()
    assert "l1 vs l2" in text and "layer3.2.conv2" in text
    for fig, name in ((normality_figure(model, result.normality, max_layers=4), "n.png"),
                      (similarity_figure(matrix, result.criteria), "s.png")):
        path = save_figure(fig, tmp_path / name)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(normality_figure(model, result.normality, max_layers=4).axes) == 8  # 4 layers x (hist, Q-Q)


@pytest.mark.parametrize("kwargs,match", [
    ({"criteria": ["nope"]}, "unknown criterion"),
    ({"criteria": ["l1", "l1"]}, "given twice"),
    ({"criteria": []}, "at least one"),
    ({"criteria": ["taylor"]}, "calibration data"),
    ({"criteria": ["l1"], "ratio": 1.0}, "ratio"),
    ({"criteria": ["l1"], "alpha": 0.0}, "alpha"),
    ({"criteria": ["l1"], "criterion_options": {"l2": {}}}, "not among"),
    ({"criteria": ["l1"], "ignored_layers": ["no.such"]}, "no layer named"),
])
def test_bad_analysis_arguments_raise_input_error(kwargs, match):
    with pytest.raises(InputError, match=match):
        analyze(build_model("resnet20", in_channels=1).eval(), X28, **kwargs)
