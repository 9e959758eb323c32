"""Training-time pruning methods: the defining property of each, exact removal, budgets, resume."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import core_pruning as cp
from core_pruning.datasets import load_dataset
from core_pruning.models import build_model
from core_pruning.training import Callback, TrainConfig, Trainer, evaluate
from core_pruning.training.cac import CAC, dcph_target_flops
from core_pruning.training.dais import DAIS
from core_pruning.training.filter_pruning import asymptotic_share
from core_pruning.training.ghfp import GHFP
from core_pruning.training.hfp import HFP
from core_pruning.training.masks import ChannelMasks
from core_pruning.training.pipeline import build_pruner, split_heldout
from core_pruning.training.selection import select_global, select_uniform
from core_pruning.training.sfp import SFP
from prunelab.errors import InputError


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def resnet(seed: int = 0, width: float = 1.0) -> nn.Module:
    torch.manual_seed(seed)
    return build_model("resnet20", num_classes=10, in_channels=1, width=width)


def config(**overrides) -> TrainConfig:
    return TrainConfig(**{"epochs": 2, "steps_per_epoch": 3, "batch_size": 32, "lr": 0.05, "progress": False,
                          **overrides})


def filter_norms(pruner, gi: int) -> torch.Tensor:
    """Norm of every root channel's filter rows in the group's first output layer."""
    member = pruner.masks.groups[gi].outputs[0]
    return member.module.weight.detach()[member.idxs].flatten(1).norm(dim=1)


class Snapshot(Callback):
    """Record the masks and filter norms at the start of epoch 2 and just before its end-of-epoch re-scoring."""

    def __init__(self, pruner) -> None:
        self.pruner, self.start, self.end = pruner, None, None

    def _grab(self):
        p = self.pruner
        return [(k.clone(), filter_norms(p, gi)) for gi, k in enumerate(p.masks.keep)]

    def on_epoch_start(self, trainer):
        if trainer.epoch == 1:
            self.start = self._grab()

    def on_train_epoch_end(self, trainer):  # listed before the pruner, so it runs before the re-scoring
        if trainer.epoch == 1:
            self.end = self._grab()


def run_two_epochs(cls, digits, **options):
    model = resnet()
    pruner = cls(model, digits.example_input, 0.5, **options)
    snap = Snapshot(pruner)
    Trainer(model, config(), [snap, pruner]).fit(digits.train)
    return pruner, snap


def test_sfp_zeroed_filters_keep_learning_and_revive(digits):
    pruner, snap = run_two_epochs(SFP, digits)
    revived = 0
    for (keep, start), (_, end) in zip(snap.start, snap.end):
        assert torch.all(start[~keep] == 0)  # zeroed at the end of epoch 1
        revived += int((end[~keep] > 0).sum())
    assert revived == sum(int((~k).sum()) for k, _ in snap.start)  # every zeroed filter received updates


def test_hfp_pruned_filters_stay_exactly_zero(digits):
    pruner, snap = run_two_epochs(HFP, digits)
    masked = 0
    for gi, ((keep, _), (keep_end, end)) in enumerate(zip(snap.start, snap.end)):
        assert torch.all(end[~keep] == 0)
        assert torch.all(keep_end == keep)  # frozen filters stay pruned (constant schedule)
        for norm in pruner.masks.groups[gi].norms:
            idx = torch.tensor([i for i, r in zip(norm.idxs, norm.root_idxs) if not keep[r]], dtype=torch.long)
            assert torch.all(norm.module.bias.detach()[idx] == 0)
        masked += int((~keep).sum())
    assert masked > 0


def test_ghfp_scales_pruned_updates_between_sfp_and_hfp(digits):
    """Same start, same batches: after the first step of epoch 2, GHFP's pruned filters are (1 - h) x SFP's."""
    results = {}  # epoch 1 in full, then the first step of epoch 2 (global step 4 of 6)
    for name, cls in (("sfp", SFP), ("ghfp", GHFP)):
        model = resnet()
        pruner = cls(model, digits.example_input, 0.5)
        stop = StopAtStep(4)
        trainer = Trainer(model, config(epochs=2, steps_per_epoch=3), [pruner, stop])
        with pytest.raises(_Stop):
            trainer.fit(digits.train)
        results[name] = (pruner, stop)
    sfp, ghfp = results["sfp"][0], results["ghfp"][0]
    h = ghfp.hardness(3 / 6)  # the hardness used on that step (progress after 3 of 6 steps)
    assert 0.0 < h < 1.0
    checked = 0
    for gi, keep in enumerate(sfp.masks.keep):
        assert torch.equal(keep, ghfp.masks.keep[gi])
        pairs = zip(sfp.masks.filter_slices(gi, scale=False), ghfp.masks.filter_slices(gi, scale=False))
        for s_slice, g_slice in pairs:  # the zeroed parameters: filter rows, biases, BatchNorm shifts
            s, g = s_slice.view(), g_slice.view()
            pruned = ~keep[s_slice.root]
            torch.testing.assert_close(g.index_select(s_slice.dim, torch.nonzero(pruned).flatten()),
                                       (1 - h) * s.index_select(s_slice.dim, torch.nonzero(pruned).flatten()))
            checked += int(pruned.sum())
    assert checked > 0


class _Stop(Exception):
    pass


class StopAtStep(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, trainer, batch):
        if trainer.global_step == self.step:
            raise _Stop


def test_ghfp_freeze_mode_freezes_a_growing_fraction(digits):
    model = resnet()
    pruner = GHFP(model, digits.example_input, 0.5, mode="freeze")
    Trainer(model, config(epochs=4, steps_per_epoch=2), [pruner]).fit(digits.train)
    pruned = sum(int((~k).sum()) for k in pruner.masks.keep)
    pinned = sum(int(p.sum()) for p in pruner.pinned)
    assert pinned == pruned  # h = 1 at the end: every pruned filter frozen
    half = GHFP(resnet(), digits.example_input, 0.5, mode="freeze")
    assert half.hardness(0.5) == pytest.approx(0.5)


def test_asymptotic_schedule_matches_asfp_anchor_points():
    assert asymptotic_share(0, 40) == 0.0
    assert asymptotic_share(10, 40) == pytest.approx(0.75, abs=1e-3)
    assert asymptotic_share(40, 40) == pytest.approx(1.0)
    shares = [asymptotic_share(e, 40) for e in range(41)]
    assert all(a < b for a, b in zip(shares, shares[1:]))


def test_uniform_and_global_selection_meet_budget_within_tolerance():
    model = resnet()
    masks = ChannelMasks(model, torch.randn(1, 1, 8, 8))
    scores = [torch.rand(g.size, generator=torch.Generator().manual_seed(i)) for i, g in enumerate(masks.groups)]
    for target in (0.7, 0.5, 0.3):
        keep = select_uniform(masks, scores, target)
        assert target - 0.02 <= masks.flops_fraction(keep) <= target
        rates = [1 - float(k.float().mean()) for k in keep]
        assert max(rates) - min(rates) < 0.15  # one rate for all groups, up to rounding
        for k, s in zip(keep, scores):  # the lowest-scored channels of each group go
            if (~k).any() and k.any():
                assert s[~k].max() <= s[k].min()
        masks.keep = [torch.ones(g.size, dtype=torch.bool) for g in masks.groups]
        keep = select_global(masks, scores, target)
        assert target - 0.02 <= masks.flops_fraction(keep) <= target
    with pytest.raises(InputError, match="cannot reach"):
        select_uniform(masks, scores, 0.001)


def test_soft_flops_are_differentiable_and_exact_on_binary_values():
    model = resnet()
    masks = ChannelMasks(model, torch.randn(1, 1, 8, 8))
    soft = [torch.full((g.size,), 0.5, requires_grad=True) for g in masks.groups]
    masks.flops(soft).backward()
    assert all(bool((s.grad > 0).all()) for s in soft)  # every channel costs FLOPs
    assert float(masks.flops([torch.ones(g.size) for g in masks.groups])) == masks.base_flops


def test_dais_indicators_become_binary_and_flops_penalty_pulls_to_target(digits):
    train, heldout = split_heldout(digits.train, 0.2)
    model = resnet()
    pruner = DAIS(model, digits.example_input, heldout, 0.5, t_start=1.0, t_end=0.05, alpha_init=2.0,
                  flops_weight=20.0, l1=0.0, alpha_lr=0.2)
    assert pruner.expected_flops() > 0.75
    start_binariness = pruner.binariness()
    gap_start = abs(pruner.expected_flops() - 0.5)
    result = Trainer(model, config(epochs=3, steps_per_epoch=8), [pruner]).fit(train)
    temps = [h["temperature"] for h in result.history]
    binariness = [h["binariness"] for h in result.history]
    assert temps == sorted(temps, reverse=True)
    assert binariness[-1] < start_binariness and binariness[-1] < 0.05
    assert abs(result.final["expected_flops"] - 0.5) < gap_start / 2


def test_dais_flops_penalty_gradient_points_toward_the_target(digits):
    model = resnet()
    for alpha_init, sign in ((3.0, 1.0), (-3.0, -1.0)):  # expected FLOPs ~1 (above 0.5), ~0 (below)
        pruner = DAIS(model, digits.example_input, digits.test, 0.5, alpha_init=alpha_init, l1=0.0)
        loss = pruner.regularizer(pruner.indicators())
        grads = torch.autograd.grad(loss, pruner.alphas)
        assert all(bool((sign * g >= 0).all()) for g in grads)  # gradient descent lowers/raises alpha
        assert any(bool((sign * g > 0).any()) for g in grads)


def test_cac_ranks_a_planted_useless_channel_lowest(digits):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.Conv2d(6, 16, 3, padding=1),
                          nn.BatchNorm2d(16), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))
    cp.train(model, digits.train, epochs=5, lr=0.1, batch_size=32, progress=False)
    useless = 2
    with torch.no_grad():  # channel 2 of the first layer now outputs exactly 0: disabling it changes nothing
        model[1].weight[useless] = 0
        model[1].bias[useless] = 0
    pruner = CAC(model, digits.example_input, 1.0, drop_prob=0.1, decay=1.0, seed=1)  # estimate only, remove none
    Trainer(model, config(epochs=4, steps_per_epoch=None, batch_size=64, lr=1e-8, momentum=0.0, weight_decay=0.0),
            [pruner]).fit(digits.train)
    first = next(gi for gi, g in enumerate(pruner.masks.groups) if g.root is model[0])
    for criterion in ("loss", "accuracy"):
        pruner.criterion = criterion
        scores = pruner.scores()[first]
        assert int(torch.argmin(scores)) == useless, (criterion, scores)
        assert abs(float(scores[useless])) < 0.3 * float(scores.max())  # ~0 up to sampling noise


@pytest.mark.parametrize("method", ["sfp", "hfp", "ghfp", "cac", "dais"])
def test_physical_model_meets_budget_and_equals_masked_model(method, digits):
    model = resnet()
    x = digits.example_input
    train, heldout = split_heldout(digits.train, 0.2)
    options = {"end": 0.5} if method == "cac" else {}
    pruner = build_pruner(method, model, x, 0.5, heldout=heldout, **options)
    Trainer(model, config(epochs=2, steps_per_epoch=4), [pruner]).fit(train)
    masked = pruner.masked_model().eval()
    probe = digits.test.tensors[0][:32]
    with torch.no_grad():
        expected = masked(probe)
    result = pruner.finalize()
    assert 0.48 <= result.report["flops_ratio"] <= 0.5
    assert result.report["flops_ratio"] == pytest.approx(result.report["masked_flops_ratio"])
    with torch.no_grad():
        torch.testing.assert_close(result.model(probe), expected, rtol=1e-4, atol=1e-5)
    assert result.plan.criterion == method and result.plan.num_removed > 0
    replayed = cp.apply_plan(resnet(seed=9), cp.PruningPlan.from_dict(result.plan.to_dict()), x)
    replayed.load_state_dict(result.model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(replayed.eval()(probe), expected, rtol=1e-4, atol=1e-5)


class Crash(Callback):
    def on_epoch_start(self, trainer):
        if trainer.epoch == self.at:
            raise KeyboardInterrupt

    def __init__(self, at: int | None) -> None:
        self.at = at


@pytest.mark.parametrize("method", ["cac", "dais"])
def test_interrupted_pruning_run_resumes_exactly(method, digits, tmp_path):
    train, heldout = split_heldout(digits.train, 0.2)

    def run(crash_at, checkpoint):
        model = resnet()
        options = {"start": 0.1, "end": 0.9, "interval": 2} if method == "cac" else {}
        pruner = build_pruner(method, model, digits.example_input, 0.5, heldout=heldout, **options)
        trainer = Trainer(model, config(epochs=3, steps_per_epoch=3, checkpoint=checkpoint), [pruner, Crash(crash_at)])
        trainer.fit(train, digits.test)
        return model, pruner

    ref_model, ref = run(None, None)
    ckpt = str(tmp_path / "ckpt.pt")
    with pytest.raises(KeyboardInterrupt):
        run(2, ckpt)
    model, pruner = run(None, ckpt)
    assert all(torch.equal(a, b) for a, b in zip(ref.masks.keep, pruner.masks.keep))
    for (name, a), b in zip(ref_model.state_dict().items(), model.state_dict().values()):
        assert torch.equal(a, b), name


def test_dcph_target_is_baseline_over_double_width_flops(digits):
    x = digits.example_input
    target = dcph_target_flops(lambda w: resnet(width=w), x)
    base, _ = cp.count_flops_params(resnet(), x)
    wide, _ = cp.count_flops_params(resnet(width=2.0), x)
    assert target == pytest.approx(base / wide) and 0.2 < target < 0.3
    model = resnet(width=2.0)
    pruner = CAC(model, x, target, end=0.5)
    Trainer(model, config(epochs=2, steps_per_epoch=4), [pruner]).fit(digits.train)
    result = pruner.finalize()
    assert base * 0.98 - 1 <= cp.count_flops_params(result.model, x)[0] <= base
    assert evaluate(result.model, digits.test)["n"] == len(digits.test)


def test_method_inputs_are_validated(digits):
    x = digits.example_input
    with pytest.raises(InputError, match="target_flops"):
        SFP(resnet(), x, 1.5)
    with pytest.raises(InputError, match="schedule"):
        SFP(resnet(), x, 0.5, schedule="linear")
    with pytest.raises(InputError, match="needs data"):
        SFP(resnet(), x, 0.5, criterion="taylor")
    with pytest.raises(InputError, match="mode"):
        GHFP(resnet(), x, 0.5, mode="other")
    with pytest.raises(InputError, match="criterion"):
        CAC(resnet(), x, 0.5, criterion="entropy")
    with pytest.raises(InputError, match="held-out"):
        DAIS(resnet(), x, None, 0.5)
    with pytest.raises(InputError, match="no option"):
        build_pruner("sfp", resnet(), x, 0.5, temperature=3)
    with pytest.raises(InputError, match="unknown method"):
        build_pruner("obd", resnet(), x, 0.5)
    with pytest.raises(InputError, match="no layer"):
        HFP(resnet(), x, 0.5, ignored_layers=["nope"])
    frozen = copy.deepcopy(resnet())
    with pytest.raises(InputError, match="cannot reach"):
        pruner = HFP(frozen, x, 0.01, min_channels=8)
        Trainer(frozen, config(epochs=1, steps_per_epoch=1), [pruner]).fit(digits.train)


DDP_PRUNE_SCRIPT = """
import json, sys, torch
from core_pruning.datasets import load_dataset
from core_pruning.models import build_model
from core_pruning.training import distributed, train_prune

torch.set_num_threads(1)
data = load_dataset("digits")
out = {}
for method in ("sfp", "cac", "dais"):
    torch.manual_seed(0)
    model = build_model("resnet20", num_classes=10, in_channels=1)
    options = {"interval": 2} if method == "cac" else {}
    result = train_prune(method, model, data.train, data.test, data.example_input, epochs=2, finetune_epochs=1,
                         method_options=options,
                         train_options={"steps_per_epoch": 4, "batch_size": 32, "progress": False})
    out[method] = {"plan": result.plan.to_dict(), "accuracy": result.report["final_accuracy"],
                   "weights": float(sum(p.double().sum() for p in model.parameters()))}
rank = distributed.current().rank
with open(f"{sys.argv[1]}/rank{rank}.json", "w") as f:
    json.dump(out, f)
"""


@pytest.mark.slow
def test_pruning_methods_under_torchrun_agree_across_processes(tmp_path):
    """Under DDP (2 Gloo processes) every process removes the same channels and ends with the same weights."""
    script = tmp_path / "ddp_prune.py"
    script.write_text(DDP_PRUNE_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          str(script), str(tmp_path)], env=env, timeout=600, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    for method in ("sfp", "cac", "dais"):
        assert ranks[0][method]["plan"] == ranks[1][method]["plan"], method
        assert ranks[0][method]["plan"]["steps"][0]["prunes"], method
        assert ranks[0][method]["accuracy"] == ranks[1][method]["accuracy"]
        assert ranks[0][method]["weights"] == pytest.approx(ranks[1][method]["weights"], rel=1e-6)
