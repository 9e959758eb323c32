"""Data-quality report for one recording: can its prediction be trusted at all?

Reported with every prediction (and by ``extract`` for videos): length, frame rate, how often the infant
was detected, how much was interpolated, which joints are unreliable, the longest gap, and how often the
pose estimator swapped left and right. A swap flips the sign of the cross product between the trunk
axis (neck -> mid-hip) and the shoulder line (right -> left shoulder), which a mere rotation of the
infant does not, so swaps are counted as frames where that sign disagrees with the recording's majority.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cp_predict.skeleton import JOINT_NAMES, L_HIP, L_SHOULDER, LIMBS, NECK, R_HIP, R_SHOULDER
from prunelab.errors import InputError

UNRELIABLE_FRACTION = 0.2  # a joint below the confidence threshold this often is flagged
RECOMMENDED_SECONDS = 10.0
# Fidgety movements are 1-5 Hz (generator: 1-4 Hz); sampling must be at least twice the band's top (Nyquist),
# so recordings below 10 fps cannot show them and are refused rather than up-sampled into fake smoothness.
MIN_ASSESSABLE_FPS = 10.0
# "Not assessable" gates (a result with no probability). Movement: the median over the four limbs of the
# wrist's / ankle's range of motion relative to its shoulder / hip (5th-95th percentile of the 0.5 s-smoothed
# distance, trunk lengths); the threshold sits between real infants and frozen ones (docs/notes/cp_predict.md).
MIN_LIMB_RANGE = 0.025
SMOOTH_S = 0.5  # moving-average window of the range-of-motion measure (damps detector jitter)
MIN_DETECTED_FRACTION = 0.5  # the infant (half of its joints) found in at least half of the frames
MAX_END_EFFECTOR_MISSING = 0.6  # any wrist/ankle missing more often than this: its limb cannot be judged


def _longest_run(mask: np.ndarray) -> int:
    best = run = 0
    for value in mask:
        run = run + 1 if value else 0
        best = max(best, run)
    return best


def left_right_swap_fraction(seq: np.ndarray, conf_threshold: float = 0.1) -> float:
    """Fraction of usable frames whose body handedness disagrees with the majority (see module docstring)."""
    x, y, c = seq
    usable = (c[:, [NECK, R_HIP, L_HIP, R_SHOULDER, L_SHOULDER]] >= conf_threshold).all(axis=1)
    if usable.sum() < 2:
        return 0.0
    trunk = np.stack([0.5 * (x[:, R_HIP] + x[:, L_HIP]) - x[:, NECK], 0.5 * (y[:, R_HIP] + y[:, L_HIP]) - y[:, NECK]])
    shoulders = np.stack([x[:, L_SHOULDER] - x[:, R_SHOULDER], y[:, L_SHOULDER] - y[:, R_SHOULDER]])
    sign = np.sign(trunk[0] * shoulders[1] - trunk[1] * shoulders[0])[usable]
    majority = np.sign(sign.sum()) or 1.0
    return float(np.mean(sign != majority))


def require_frame_rate(fps: float, what: str = "input") -> None:
    """Refuse (one-line :class:`InputError`) a frame rate too low to show fidgety movement."""
    if fps < MIN_ASSESSABLE_FPS:
        raise InputError(f"{what}: {fps:g} fps is below the {MIN_ASSESSABLE_FPS:g} fps needed to see 1-5 Hz "
                         "fidgety movement (up-sampling cannot recover it); record at 25 fps or more")


def limb_range_of_motion(seq: np.ndarray, fps: float, conf_threshold: float = 0.1) -> float:
    """Median over the four limbs of the end effector's range of motion relative to its proximal joint.

    Trunk lengths; 5th-95th percentile of the :data:`SMOOTH_S` moving average of the distance, over frames where both
    joints were detected (NaN when a limb has fewer than 1 s of such frames; the median skips it).
    """
    x, y, c = (np.asarray(a, dtype=float) for a in seq)
    mid_hip = np.stack([0.5 * (x[:, R_HIP] + x[:, L_HIP]), 0.5 * (y[:, R_HIP] + y[:, L_HIP])])
    ok_trunk = (c[:, [NECK, R_HIP, L_HIP]] >= conf_threshold).all(axis=1)
    trunk = np.linalg.norm(np.stack([x[:, NECK], y[:, NECK]]) - mid_hip, axis=0)[ok_trunk]
    scale = float(np.median(trunk)) if trunk.size else 0.0
    if scale <= 1e-6:
        return 0.0
    width = max(1, int(round(SMOOTH_S * fps)))
    ranges = []
    for prox, _, dist in LIMBS.values():
        ok = (c[:, prox] >= conf_threshold) & (c[:, dist] >= conf_threshold)
        if ok.sum() < fps:
            continue
        d = np.hypot(x[ok, dist] - x[ok, prox], y[ok, dist] - y[ok, prox]) / scale
        if len(d) > width:
            d = np.convolve(d, np.ones(width) / width, mode="valid")
        ranges.append(float(np.percentile(d, 95) - np.percentile(d, 5)))
    return float(np.median(ranges)) if ranges else 0.0


def assessability(seq: np.ndarray, fps: float, conf_threshold: float = 0.1) -> dict[str, Any]:
    """The gate's verdict for one ``(3, T, 18)`` recording: ``{"assessable", "verdict", "reasons", ...}``.

    Not assessable (no probability is given) when the infant is mostly undetected, a wrist or ankle is
    missing most of the time, or the limbs barely move (a frozen or motionless skeleton: movement quality
    cannot be judged from no movement).
    """
    conf = np.asarray(seq[2])
    low = conf < conf_threshold
    detected = float(((~low).mean(axis=1) >= 0.5).mean())
    reasons = []
    if detected < MIN_DETECTED_FRACTION:
        reasons.append(f"infant detected in only {100 * detected:.0f}% of frames "
                       f"(at least {100 * MIN_DETECTED_FRACTION:.0f}% needed)")
    missing = {JOINT_NAMES[chain[-1]]: float(low[:, chain[-1]].mean()) for chain in LIMBS.values()}
    worst = max(missing, key=missing.get)
    if missing[worst] > MAX_END_EFFECTOR_MISSING:
        reasons.append(f"{worst} missing in {100 * missing[worst]:.0f}% of frames "
                       f"(at most {100 * MAX_END_EFFECTOR_MISSING:.0f}% allowed)")
    motion = limb_range_of_motion(seq, fps, conf_threshold)
    if not reasons and motion < MIN_LIMB_RANGE:
        reasons.append(f"near-motionless: limb range of motion {motion:.3f} trunk lengths "
                       f"(at least {MIN_LIMB_RANGE:g} needed)")
    return {"assessable": not reasons, "verdict": "assessable" if not reasons else "not assessable",
            "reasons": reasons, "limb_range_of_motion": round(motion, 4)}


def quality_report(seq: np.ndarray, fps: float, conf_threshold: float = 0.1) -> dict[str, Any]:
    """Quality of one ``(3, T, 18)`` recording as a JSON-ready dict (with human-readable ``warnings``)."""
    conf = seq[2]
    t = conf.shape[0]
    low = conf < conf_threshold
    per_joint = low.mean(axis=0)
    detected = (~low).mean(axis=1) >= 0.5
    limb_joints = sorted({j for chain in LIMBS.values() for j in chain})
    longest_gap = max(_longest_run(low[:, j]) for j in limb_joints) / fps
    swaps = left_right_swap_fraction(seq, conf_threshold)
    never = [JOINT_NAMES[j] for j in range(len(JOINT_NAMES)) if low[:, j].all()]
    unreliable = {JOINT_NAMES[j]: round(float(per_joint[j]), 3) for j in np.argsort(-per_joint)
                  if per_joint[j] > UNRELIABLE_FRACTION and JOINT_NAMES[j] not in never}
    warnings = []
    if t / fps < RECOMMENDED_SECONDS:
        warnings.append(f"short recording ({t / fps:.1f} s); at least {RECOMMENDED_SECONDS:g} s is recommended")
    if detected.mean() < 0.9:
        warnings.append(f"infant detected in only {100 * detected.mean():.0f}% of frames")
    if never:
        warnings.append(f"never detected: {', '.join(never)}")
    limb_unreliable = [n for n in unreliable if JOINT_INDEX_OF[n] in limb_joints]
    if limb_unreliable:
        warnings.append(f"unreliable limb joints (interpolated often): {', '.join(limb_unreliable)}")
    if longest_gap > 2.0:
        warnings.append(f"a limb joint is missing for {longest_gap:.1f} s in a row")
    if swaps > 0.05:
        warnings.append(f"left/right labels swapped in {100 * swaps:.0f}% of frames (pose-estimator error)")
    return {
        "frames": int(t),
        "duration_s": round(t / fps, 2),
        "fps": float(fps),
        "detected_frame_fraction": round(float(detected.mean()), 3),
        "low_confidence_fraction": round(float(low.mean()), 4),
        "unreliable_joints": unreliable,
        "never_detected": never,
        "longest_limb_gap_s": round(float(longest_gap), 2),
        "left_right_swap_fraction": round(swaps, 3),
        "warnings": warnings,
    }


JOINT_INDEX_OF = {name: i for i, name in enumerate(JOINT_NAMES)}
