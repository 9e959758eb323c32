"""Pre-processing and augmentation: each step's defining property."""

from __future__ import annotations

import numpy as np
import pytest

from cp_predict.augment import AugmentConfig, augment, flip, rotate, time_warp
from cp_predict.data import validate_skeletons
from cp_predict.preprocess import (
    PreprocessConfig,
    interpolate_missing,
    normalise,
    prepare,
    resample,
    trunk_length,
    windows,
)
from cp_predict.simulate import GeneratorConfig, generate
from cp_predict.skeleton import JOINT_INDEX, L_HIP, NECK, R_HIP


@pytest.fixture(scope="module")
def gen():
    return generate(GeneratorConfig(n=6, seed=11))


def test_low_confidence_joints_are_linearly_interpolated():
    seq = np.ones((3, 10, 18))
    seq[0, :, 4] = np.arange(10.0)  # a wrist moving at constant speed
    seq[2, 3:6, 4] = 0.0  # three frames lost
    seq[0, 3:6, 4] = 0.0  # ... and OpenPose writes 0 there
    xy, reliable = interpolate_missing(seq, 0.1)
    np.testing.assert_allclose(xy[0, :, 4], np.arange(10.0))
    assert not reliable[3:6, 4].any() and reliable[:, 0].all()


def test_edges_are_held_and_never_seen_joint_follows_trunk():
    seq = np.ones((3, 6, 18))
    seq[0, :, 7] = [0, 0, 5, 6, 0, 0]
    seq[2, :, 7] = [0, 0, 1, 1, 0, 0]
    seq[2, :, 16] = 0  # r_ear never seen
    seq[0, :, NECK], seq[0, :, R_HIP], seq[0, :, L_HIP] = 2.0, 4.0, 6.0
    xy, _ = interpolate_missing(seq, 0.1)
    np.testing.assert_allclose(xy[0, :, 7], [5, 5, 5, 6, 6, 6])
    np.testing.assert_allclose(xy[0, :, 16], 0.5 * (2.0 + 5.0))


def test_normalise_centres_and_scales_by_the_trunk(gen):
    xy, _ = interpolate_missing(gen.data[0], 0.1)
    out = normalise(xy, gen.fps)
    assert trunk_length(out) == pytest.approx(1.0, rel=1e-6)
    centre = 0.5 * (out[:, :, NECK] + 0.5 * (out[:, :, R_HIP] + out[:, :, L_HIP]))
    assert np.abs(centre.mean(axis=1)).max() < 0.05
    # invariant to where the infant lies and how far the camera is
    moved = normalise(xy * 1.7 + np.array([0.2, -0.1])[:, None, None], gen.fps)
    np.testing.assert_allclose(moved, out, atol=1e-9)


def test_rotation_aligns_the_trunk_with_the_image_vertical(gen):
    xy, _ = interpolate_missing(gen.data[1], 0.1)
    angle = np.deg2rad(50)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    tilted = np.einsum("ij,jtv->itv", rot, xy)
    out = normalise(tilted, gen.fps, aspect=1.0, rotate=True)
    trunk = np.median(0.5 * (out[:, :, R_HIP] + out[:, :, L_HIP]) - out[:, :, NECK], axis=1)
    assert abs(trunk[0]) < 1e-3 and trunk[1] > 0.9  # along +y (image down), one trunk length


def test_resample_keeps_duration_and_linear_motion():
    t = np.arange(100) / 50.0
    seq = np.broadcast_to(t[None, :, None], (2, 100, 18)).copy()
    out = resample(seq, 50.0, 25.0)
    assert out.shape == (2, 50, 18)
    np.testing.assert_allclose(out[0, :, 0], np.arange(50) / 25.0)


def test_prepare_resamples_any_fps_to_the_model_rate(gen):
    fast = validate_skeletons(resample(gen.data[0], 25.0, 50.0)[None], fps=50.0)
    a = prepare(fast)[0]
    b = prepare(gen.subset([0]))[0]
    assert a.shape == b.shape == (2, 300, 18)
    assert np.median(np.abs(a - b)) < 0.02


def test_windows_cover_the_recording():
    assert windows(200, 300, 150) == [(0, 200)]
    w = windows(700, 300, 150)
    assert w[0] == (0, 300) and w[-1] == (400, 700) and all(b - a == 300 for a, b in w)


def test_flip_swaps_sides_and_is_an_involution(gen):
    x = prepare(gen)
    f = flip(x)
    np.testing.assert_allclose(f[:, 0, :, JOINT_INDEX["l_wrist"]], -x[:, 0, :, JOINT_INDEX["r_wrist"]])
    np.testing.assert_allclose(flip(f), x)


def test_rotation_and_time_warp_properties(gen):
    x = prepare(gen)
    r = rotate(x, np.full(len(x), 30.0))
    np.testing.assert_allclose(np.linalg.norm(r, axis=1), np.linalg.norm(x, axis=1), rtol=1e-5)
    w = time_warp(x, np.full(len(x), 0.1))
    np.testing.assert_allclose(w[:, :, [0, -1]], x[:, :, [0, -1]], atol=1e-6)
    assert not np.allclose(w, x)


def test_augment_is_seeded_and_switchable(gen):
    x = prepare(gen)
    a = augment(x, AugmentConfig(), np.random.default_rng(0))
    b = augment(x, AugmentConfig(), np.random.default_rng(0))
    np.testing.assert_array_equal(a, b)
    off = AugmentConfig(rotation_deg=0, scale=0, time_warp=0, jitter=0, flip=False)
    np.testing.assert_allclose(augment(x, off, np.random.default_rng(0)), x, atol=1e-6)


def test_config_round_trip():
    cfg = PreprocessConfig(fps=30.0, rotate=True)
    assert PreprocessConfig.from_dict(cfg.to_dict()) == cfg
