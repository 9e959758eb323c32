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

UNRELIABLE_FRACTION = 0.2  # a joint below the confidence threshold this often is flagged
RECOMMENDED_SECONDS = 10.0


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
