"""Hand-crafted kinematic features of pre-processed positions (trunk lengths, fixed fps).

They feed the trivial baselines (mean limb speed threshold; logistic regression) and the generator's
calibration against MINI-RGBD. Speeds are in trunk lengths per second of the four end effectors
(wrists and ankles), the quantities a general-movements assessor looks at.
"""

from __future__ import annotations

import numpy as np

from cp_predict.skeleton import LIMBS

LIMB_NAMES: tuple[str, ...] = tuple(LIMBS)
FIDGETY_BAND_HZ = (1.0, 4.0)
LARGE_BAND_HZ = (0.1, 1.0)
PER_LIMB = ("speed", "speed_cv", "accel", "range", "fidgety_power")
FEATURE_NAMES: tuple[str, ...] = (
    *(f"{limb}_{name}" for limb in LIMB_NAMES for name in PER_LIMB),
    "cross_limb_correlation", "left_right_correlation", "head_speed",
)  # fmt: skip


def end_effector_velocity(x: np.ndarray, fps: float) -> np.ndarray:
    """Velocity of wrists and ankles relative to their proximal joint: ``(N, 4, 2, T-1)`` trunk lengths / s.

    Relative to the shoulder/hip so whole-body drift does not count as limb movement.
    """
    rel = np.stack([x[:, :, :, dist] - x[:, :, :, prox] for prox, _, dist in LIMBS.values()], axis=1)
    return np.diff(rel, axis=-1) * fps


def mean_limb_speed(x: np.ndarray, fps: float) -> np.ndarray:
    """The speed baseline's one feature: mean end-effector speed per infant, ``(N,)``."""
    speed = np.linalg.norm(end_effector_velocity(x, fps), axis=2)
    return speed.mean(axis=(1, 2))


def band_power_fraction(signal: np.ndarray, fps: float, band: tuple[float, float]) -> np.ndarray:
    """Fraction of the (mean-removed) power of ``signal`` (last axis = time) inside ``band`` Hz."""
    spec = np.abs(np.fft.rfft(signal - signal.mean(axis=-1, keepdims=True), axis=-1)) ** 2
    freqs = np.fft.rfftfreq(signal.shape[-1], d=1.0 / fps)
    inside = (freqs >= band[0]) & (freqs < band[1])
    return spec[..., inside].sum(axis=-1) / np.maximum(spec.sum(axis=-1), 1e-12)


def _pairwise_correlation(signals: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray:
    """Mean Pearson correlation over ``pairs`` of ``signals`` ``(N, K, T)``, per infant."""
    z = signals - signals.mean(axis=-1, keepdims=True)
    z /= np.maximum(z.std(axis=-1, keepdims=True), 1e-9)
    return np.mean([(z[:, a] * z[:, b]).mean(axis=-1) for a, b in pairs], axis=0)


def kinematic_features(x: np.ndarray, fps: float) -> np.ndarray:
    """``(N, len(FEATURE_NAMES))`` features of ``(N, 2, T, V)`` positions; see :data:`FEATURE_NAMES`.

    Per limb: mean speed, speed coefficient of variation (variability), mean acceleration magnitude,
    positional range (std of the position), fraction of velocity power in the fidgety band (1-4 Hz).
    Across limbs: mean correlation of the limbs' speed profiles (synchrony; cramped-synchronised
    movements drive the limbs together), left/right correlation, and head (nose) speed.
    """
    vel = end_effector_velocity(x, fps)  # (N, 4, 2, T-1)
    speed = np.linalg.norm(vel, axis=2)  # (N, 4, T-1)
    accel = np.linalg.norm(np.diff(vel, axis=-1), axis=2) * fps
    rel = np.stack([x[:, :, :, dist] - x[:, :, :, prox] for prox, _, dist in LIMBS.values()], axis=1)
    rng = np.sqrt(rel.var(axis=-1).sum(axis=2))
    fidgety = band_power_fraction(vel, fps, FIDGETY_BAND_HZ).mean(axis=2)
    mean_speed = speed.mean(axis=-1)
    per_limb = np.stack([mean_speed, speed.std(axis=-1) / np.maximum(mean_speed, 1e-9),
                         accel.mean(axis=-1), rng, fidgety], axis=-1)  # (N, 4, 5)
    all_pairs = [(a, b) for a in range(4) for b in range(a + 1, 4)]
    cross = _pairwise_correlation(speed, all_pairs)
    left_right = _pairwise_correlation(speed, [(0, 1), (2, 3)])
    head = np.linalg.norm(np.diff(x[:, :, :, 0], axis=-1), axis=1).mean(axis=-1) * fps
    return np.concatenate([per_limb.reshape(len(x), -1), np.stack([cross, left_right, head], axis=1)], axis=1)
