"""Explanation checks: deletion/insertion vs random orders, randomisation, planted-joint precision."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cp_predict.explain import (
    deletion_insertion,
    freeze_joints,
    planted_recovery,
    precision_at_k,
    randomisation_check,
)
from cp_predict.models import TrainConfig, create_model
from cp_predict.models.base import RiskModel
from cp_predict.preprocess import prepare
from cp_predict.simulate import GeneratorConfig, generate
from cp_predict.skeleton import JOINT_INDEX

WRIST = JOINT_INDEX["l_wrist"]


class WristSpeedOracle(RiskModel):
    """A model that looks at the left wrist only (its importance is known exactly)."""

    name = "oracle"

    def fit(self, x, y, fps, seed=0):
        return self

    def decision_function(self, x, fps):
        speed = np.linalg.norm(np.diff(x[:, :, :, WRIST], axis=2), axis=1).mean(axis=1) * fps
        return 4.0 * (speed - 0.5)

    def joint_importance(self, x, fps):
        imp = np.full((len(x), 18), 0.01)
        imp[:, WRIST] = 1.0
        return imp

    def state(self):
        return {}

    @classmethod
    def from_state(cls, state):
        return cls()


@pytest.fixture(scope="module")
def x():
    return prepare(generate(GeneratorConfig(n=12, seed=31)))


def test_freeze_removes_motion_but_keeps_posture(x):
    frozen = np.zeros((len(x), 18), bool)
    frozen[:, WRIST] = True
    out = freeze_joints(x, frozen)
    assert np.ptp(out[:, :, :, WRIST], axis=2).max() == 0
    np.testing.assert_allclose(out[:, :, 0, WRIST], x[:, :, :, WRIST].mean(axis=2), rtol=1e-5)
    np.testing.assert_array_equal(out[:, :, :, 0], x[:, :, :, 0])


def test_faithful_ranking_beats_random_orders(x):
    oracle = WristSpeedOracle()
    good = deletion_insertion(oracle, x, 25.0, oracle.joint_importance(x, 25.0), n_random=20, seed=0)
    assert good["deletion"]["area"] < good["deletion"]["random_mean"]
    assert good["insertion"]["area"] > good["insertion"]["random_mean"]
    assert good["deletion"]["fraction_random_better"] < 0.1
    assert good["insertion"]["fraction_random_better"] < 0.1
    worst = -oracle.joint_importance(x, 25.0)  # the wrist last
    bad = deletion_insertion(oracle, x, 25.0, worst, n_random=20, seed=0)
    assert bad["deletion"]["fraction_random_better"] > 0.9
    assert len(good["deletion"]["curve"]) == 19


def test_randomisation_cascade_shows_what_attention_depends_on(x):
    torch.manual_seed(0)
    cfg = TrainConfig(epochs=1, batch_size=8, min_steps=0)
    model = create_model("attention", cfg).fit(x, np.arange(len(x)) % 2, 25.0)
    steps = randomisation_check(model, x[:8], 25.0, seed=1)
    assert [s["layers"][-1] for s in steps] == ["head", "backbone", "attention", "encoder"]
    # attention weights are computed before the head and backbone: randomising those cannot change them
    assert steps[0]["spearman"] == pytest.approx(1.0) and steps[1]["spearman"] == pytest.approx(1.0)
    assert steps[-1]["spearman"] < 0.9
    assert randomisation_check(create_model("speed").fit(x, np.arange(len(x)) % 2, 25.0), x, 25.0) == []


def test_precision_at_k():
    imp = np.zeros(18)
    imp[[JOINT_INDEX["l_wrist"], JOINT_INDEX["nose"]]] = [1.0, 0.9]
    assert precision_at_k(imp, ["l_wrist", "l_ankle"]) == 0.5
    imp[JOINT_INDEX["l_ankle"]] = 0.95
    assert precision_at_k(imp, ["l_wrist", "l_ankle"]) == 1.0
    per = np.tile(imp, (4, 1))
    rec = planted_recovery(per, np.array([1, 1, 0, 0]), ["l_wrist", "l_ankle"])
    assert rec["precision_at_k_mean_importance"] == 1.0 and rec["precision_at_k_per_at_risk_infant"] == 1.0
    with pytest.raises(ValueError):
        precision_at_k(imp, [])


@pytest.mark.slow
@pytest.mark.parametrize("planted", [("l_wrist", "l_ankle"), ("l_elbow", "l_wrist", "l_knee", "l_ankle")])
def test_attention_recovers_planted_joints(planted):
    """The defining property of the planted-joint option: the attention weights find the planted joints.

    With two planted joints every single model must find both (joint dropout made this seed-independent:
    seeds 0-4 all gave precision@2 = 1.0 here, without it 1.0, 0.5, 0.5, 1.0, 1.0). With four (the whole left
    arm and leg) a single model trained on these 400 infants still misses one joint at some seeds (seeds 0-4:
    0.75, 1.0, 1.0, 0.75, 1.0), so there the mean importance of three seeds is tested, as ``predict()``
    averages over models.
    """
    from cp_predict.augment import AugmentConfig

    torch.set_num_threads(1)
    train = generate(GeneratorConfig(n=400, seed=1, planted_joints=planted))
    test = generate(GeneratorConfig(n=100, seed=2, planted_joints=planted))
    cfg = TrainConfig(epochs=30, augment=AugmentConfig(flip=False))
    imps = []
    for seed in range(3):
        model = create_model("attention", cfg).fit(prepare(train), train.labels, 25.0, seed=seed)
        imp = model.joint_importance(prepare(test), 25.0)
        imps.append(imp / imp.sum(axis=1, keepdims=True))
        if len(planted) == 2:
            assert planted_recovery(imp, test.labels, list(planted))["precision_at_k_mean_importance"] == 1.0, seed
    rec = planted_recovery(np.mean(imps, axis=0), test.labels, list(planted))
    assert rec["precision_at_k_mean_importance"] >= 0.8


def _unrecorded(config: GeneratorConfig):
    """Generated infants whose planted joints are NOT written into the data (as a real recording or another
    generator would be): training must not be able to see them."""
    data = generate(config)
    data.meta = {k: v for k, v in data.meta.items() if k not in ("planted_joints", "generator", "pattern")}
    return data


def test_training_settings_do_not_depend_on_recorded_planted_joints():
    from cp_predict.training import train_config_for

    recorded = generate(GeneratorConfig(n=8, seed=1, planted_joints=("r_wrist", "r_ankle")))
    hidden = _unrecorded(GeneratorConfig(n=8, seed=1, planted_joints=("r_wrist", "r_ankle")))
    assert train_config_for(recorded) == train_config_for(hidden)
    cfg, notes = train_config_for(hidden)
    assert cfg.augment.flip is False and notes == []


def test_occlusion_importance_finds_the_oracles_joint(x):
    from cp_predict.explain import occlusion_importance

    imp = occlusion_importance(WristSpeedOracle(), x, 25.0)
    assert (imp.argmax(axis=1) == WRIST).all() and np.allclose(imp.sum(axis=1), 1.0)


def test_side_asymmetry_measures_movement_per_side(x):
    from cp_predict.explain import side_asymmetry

    still_left = x.copy()
    left = [JOINT_INDEX[f"l_{p}"] for p in ("elbow", "wrist", "knee", "ankle")]
    still_left[..., left] = still_left[..., left].mean(axis=2, keepdims=True)
    imp = np.zeros((len(x), 18))
    imp[:, JOINT_INDEX["r_wrist"]] = 1.0
    out = side_asymmetry(imp, still_left, 25.0)
    assert all(o["movement"] == pytest.approx(1.0) and o["movement_side"] == "right" for o in out)
    assert all(o["importance"] == 1.0 and o["importance_side"] == "right" for o in out)


SIDES = {("r", 2): ("r_wrist", "r_ankle"), ("l", 2): ("l_elbow", "l_knee"),
         ("r", 3): ("r_elbow", "r_wrist", "r_ankle"), ("l", 3): ("l_elbow", "l_wrist", "l_ankle")}


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("side,k", list(SIDES))
def test_explanations_name_the_planted_side_without_being_told(side, k, seed):
    """Issue 15: with the default training settings (whatever augmentation they use) on one-sided planted
    joints that the file does not record, the mean top-k joints and each at-risk infant's top-k lie on the
    planted side. One model per case (400 training / 100 test infants)."""
    torch.set_num_threads(1)
    planted = SIDES[(side, k)]
    train = _unrecorded(GeneratorConfig(n=400, seed=100 + seed, planted_joints=planted))
    test = _unrecorded(GeneratorConfig(n=100, seed=200 + seed, planted_joints=planted))
    model = create_model("attention", TrainConfig()).fit(prepare(train), train.labels, 25.0, seed=seed)
    imp = model.joint_importance(prepare(test), 25.0)
    at_risk = imp[test.labels == 1]
    names = list(JOINT_INDEX)
    top_mean = [names[i] for i in np.argsort(-at_risk.mean(axis=0))[:k]]
    assert all(n.startswith(f"{side}_") for n in top_mean), top_mean
    per_infant = np.mean([all(names[i].startswith(f"{side}_") for i in np.argsort(-row)[:k]) for row in at_risk])
    assert per_infant >= 0.9, per_infant


@pytest.mark.slow
def test_one_model_gives_different_top_joints_to_infants_with_different_planted_joints():
    """Issue 18: per-infant explanations follow the infant's movement. One model trained on at-risk infants
    whose abnormal dynamics sit in the left wrist and ankle for half of them and in the right elbow and knee
    for the other half; two test infants, one of each kind, must get different top-2 joints from the attention,
    each naming one of its own planted joints. The pooled SE attention failed this on the current generator
    (2026-12-03 16:27: the right-planted infant's top two were l_ankle, l_elbow; both infants got the same
    top two, a prior); the per-joint attention (``PerJointAttention``) computes each joint's weight from that
    joint's own movement. (Occlusion importance, measured the same way on 2026-12-03, failed this too: the
    right-planted infant's top 2 were l_elbow, l_hip - freezing a joint is no neutral reference for an
    at-risk prediction, see docs/cp_predict.md.)"""
    from cp_predict.data import SkeletonSet

    torch.set_num_threads(1)
    a, b = ("l_wrist", "l_ankle"), ("r_elbow", "r_knee")
    parts = [_unrecorded(GeneratorConfig(n=200, seed=s, planted_joints=p)) for s, p in ((301, a), (302, b))]
    train = SkeletonSet(data=np.concatenate([p.data for p in parts]), labels=np.concatenate([p.labels for p in parts]),
                        names=parts[0].names + [n + "b" for n in parts[1].names], fps=25.0)
    model = create_model("attention", TrainConfig()).fit(prepare(train), train.labels, 25.0, seed=0)
    tests = [_unrecorded(GeneratorConfig(n=30, seed=s, planted_joints=p)) for s, p in ((303, a), (304, b))]
    names = list(JOINT_INDEX)
    tops = []
    for t, planted in zip(tests, (a, b), strict=True):
        imp = model.joint_importance(prepare(t), 25.0)
        infant = int(np.flatnonzero(t.labels == 1)[0])
        tops.append({names[i] for i in np.argsort(-imp[infant])[:2]})
        assert precision_at_k(imp[infant], list(planted)) >= 0.5, tops[-1]
    assert tops[0] != tops[1]


def test_batched_inference_equals_one_call_per_window_and_joint(monkeypatch):
    """Occlusion stacks every joint's frozen copy, and inference every time window, into one forward: same numbers."""
    import cp_predict.explain as explain_module
    import cp_predict.models.neural as neural
    from cp_predict.predictor import load_model

    model = load_model().final
    x = prepare(generate(GeneratorConfig(n=6, seed=3)))
    batched = explain_module.occlusion_importance(model, x, 25.0), model._window_means(x)
    monkeypatch.setattr(explain_module, "OCCLUSION_BATCH", 1)
    monkeypatch.setattr(neural, "WINDOW_BATCH", 1)
    single = explain_module.occlusion_importance(model, x, 25.0), model._window_means(x)
    assert np.allclose(batched[0], single[0], atol=1e-6)
    assert np.allclose(batched[1][0], single[1][0], atol=1e-6) and np.allclose(batched[1][1], single[1][1], atol=1e-6)
