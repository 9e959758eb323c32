"""The synthetic infant generator: determinism, speed independence, planted joints, calibration."""

from __future__ import annotations

import numpy as np
import pytest

from cp_predict.dataset_stats import summary_statistics
from cp_predict.features import FEATURE_NAMES, kinematic_features, mean_limb_speed
from cp_predict.metrics import auc_score
from cp_predict.preprocess import prepare
from cp_predict.simulate import GeneratorConfig, generate, planted_joints_of
from cp_predict.skeleton import JOINT_INDEX
from prunelab.errors import InputError


@pytest.fixture(scope="module")
def gen():
    return generate(GeneratorConfig(n=240, seed=3))


def test_shape_labels_and_determinism():
    a = generate(GeneratorConfig(n=10, seed=7, frames=150))
    b = generate(GeneratorConfig(n=10, seed=7, frames=150))
    c = generate(GeneratorConfig(n=10, seed=8, frames=150))
    assert a.data.shape == (10, 3, 150, 18) and a.labels.shape == (10,)
    np.testing.assert_array_equal(a.data, b.data)
    assert not np.array_equal(a.data, c.data)
    assert set(a.meta["pattern"]) <= {"fidgety", "absent_fidgety", "cramped_synchronised", "unilateral"}
    assert all((p == "fidgety") == (y == 0) for p, y in zip(a.meta["pattern"], a.labels, strict=True))


def test_artefacts_look_like_openpose(gen):
    conf = gen.data[:, 2]
    dropped = conf == 0
    assert 0.01 < dropped.mean() < 0.08
    assert np.all(gen.data[:, 0][dropped] == 0) and np.all(gen.data[:, 1][dropped] == 0)
    assert (dropped[:, :, JOINT_INDEX["r_ear"]].mean() > dropped[:, :, JOINT_INDEX["neck"]].mean())


def test_speed_baseline_is_near_chance(gen):
    """Overall speed is drawn independently of the label: the speed feature's AUC stays <= 0.70."""
    speed = mean_limb_speed(prepare(gen), gen.fps)
    auc = auc_score(gen.labels, speed)
    assert 0.30 <= auc <= 0.70, auc


def test_label_lives_in_movement_structure(gen):
    feats = kinematic_features(prepare(gen), gen.fps)
    col = {n: i for i, n in enumerate(FEATURE_NAMES)}
    side = {s: feats[:, [col[f"{s}_arm_fidgety_power"], col[f"{s}_leg_fidgety_power"]]].mean(axis=1) for s in "rl"}
    # at-risk infants lack the 1-4 Hz component on at least one side (unilateral infants: on one side only)
    assert auc_score(gen.labels, -np.minimum(side["r"], side["l"])) > 0.85



def test_cramped_synchronised_limbs_move_together():
    clean = generate(GeneratorConfig(n=160, seed=6, noise=False))  # no detector noise or L/R swaps
    feats = kinematic_features(prepare(clean), clean.fps)
    sync = feats[:, FEATURE_NAMES.index("cross_limb_correlation")]  # correlation of the limbs' speed profiles
    cramped = clean.meta["pattern"] == "cramped_synchronised"
    normal = clean.labels == 0
    assert np.median(sync[cramped]) > 0.5 > 0.3 > np.median(sync[normal])  # normal limbs: coupled, not locked
    assert auc_score(cramped[cramped | normal], sync[cramped | normal]) > 0.95


def test_unilateral_infants_lack_fidgety_movement_on_one_side_only():
    clean = generate(GeneratorConfig(n=300, seed=7, noise=False))
    feats = kinematic_features(prepare(clean), clean.fps)
    col = {n: i for i, n in enumerate(FEATURE_NAMES)}
    uni = clean.meta["pattern"] == "unilateral"
    assert uni.sum() >= 20 and set(clean.meta["affected_side"][uni]) == {"right", "left"}
    assert set(clean.meta["affected_side"][~uni]) == {""}
    for i in np.flatnonzero(uni):
        hit = "r" if clean.meta["affected_side"][i] == "right" else "l"
        spared = "l" if hit == "r" else "r"
        for limb in ("arm", "leg"):  # the affected side's limbs have less 1-4 Hz power than the spared side's
            assert feats[i, col[f"{hit}_{limb}_fidgety_power"]] < feats[i, col[f"{spared}_{limb}_fidgety_power"]]


def test_planted_joints_carry_the_label_alone():
    data = generate(GeneratorConfig(n=200, seed=4, planted_joints=("l_wrist", "l_ankle")))
    assert planted_joints_of(data) == ["l_wrist", "l_ankle"]
    x = prepare(data)
    feats = kinematic_features(x, data.fps)
    col = {n: i for i, n in enumerate(FEATURE_NAMES)}
    # the right arm is not planted: its fidgety power says nothing about the label ...
    assert 0.3 < auc_score(data.labels, feats[:, col["r_arm_fidgety_power"]]) < 0.7
    # ... while the planted left arm (wrist relative to shoulder) does
    assert auc_score(data.labels, -feats[:, col["l_arm_fidgety_power"]]) > 0.8


def test_bad_options_are_rejected():
    with pytest.raises(InputError, match="unknown joint 'l_hand' in planted_joints"):
        generate(GeneratorConfig(n=4, planted_joints=("l_hand",)))
    with pytest.raises(InputError, match="trunk joint"):
        generate(GeneratorConfig(n=4, planted_joints=("neck",)))
    with pytest.raises(InputError, match=r"^n must be 1\.\.100000, got 0$"):  # the parameter, not a CLI flag
        generate(GeneratorConfig(n=0))


@pytest.mark.shared
def test_generator_is_calibrated_against_mini_rgbd(shared_dir, gen):
    """Medians of the generator's statistics fall inside MINI-RGBD's 10-90 % range across infants."""
    from cp_predict.formats import read_npz

    real = summary_statistics(read_npz(shared_dir / "data" / "cp" / "mini_rgbd_openpose18.npz"))
    synthetic = summary_statistics(gen)
    for name in ("trunk_px", "low_conf_fraction", "limb_speed", "limb_accel", "limb_range", "limb_fidgety_power",
                 "head_speed", "cross_limb_correlation", "left_right_correlation"):
        lo, _, hi = real[name]
        assert lo <= synthetic[name][1] <= hi, (name, synthetic[name], real[name])
