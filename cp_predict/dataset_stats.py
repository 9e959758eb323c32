"""Summary statistics of a skeleton data set, to calibrate the generator against real recordings.

Each statistic is computed per infant and summarised by the median and the 10th/90th percentiles over
infants, so two data sets of very different sizes (12 MINI-RGBD infants, hundreds of generated ones)
compare fairly. ``benchmarks/cp_generator_calibration.py`` prints them side by side.
"""

from __future__ import annotations

import numpy as np

from cp_predict.data import SkeletonSet
from cp_predict.features import FEATURE_NAMES, kinematic_features
from cp_predict.preprocess import DEFAULT_ASPECT, PreprocessConfig, interpolate_missing, prepare, trunk_length
from cp_predict.quality import left_right_swap_fraction

SUMMARISED_FEATURES = ("speed", "speed_cv", "accel", "range", "fidgety_power")
HEIGHT_PX = 480  # canonical y is px / 480 - 0.5 for MINI-RGBD-like input


def per_infant_statistics(skeletons: SkeletonSet) -> dict[str, np.ndarray]:
    """Named arrays ``(N,)``: image placement, detector artefacts and kinematics."""
    aspect = float(skeletons.meta.get("aspect", DEFAULT_ASPECT))
    stats: dict[str, list[float]] = {"trunk_px": [], "low_conf_fraction": [], "swap_fraction": []}
    for seq in skeletons.data:
        xy, _ = interpolate_missing(seq, 0.1)
        iso = xy.copy()
        iso[0] *= aspect
        stats["trunk_px"].append(trunk_length(iso) * HEIGHT_PX)
        stats["low_conf_fraction"].append(float((seq[2] < 0.1).mean()))
        stats["swap_fraction"].append(left_right_swap_fraction(seq))
    out = {k: np.asarray(v) for k, v in stats.items()}
    feats = kinematic_features(prepare(skeletons, PreprocessConfig()), PreprocessConfig().fps)
    names = list(FEATURE_NAMES)
    for name in SUMMARISED_FEATURES:  # mean over the four limbs
        cols = [names.index(f"{limb}_{name}") for limb in ("r_arm", "l_arm", "r_leg", "l_leg")]
        out[f"limb_{name}"] = feats[:, cols].mean(axis=1)
    for name in ("cross_limb_correlation", "left_right_correlation", "head_speed"):
        out[name] = feats[:, names.index(name)]
    return out


def summary_statistics(skeletons: SkeletonSet) -> dict[str, tuple[float, float, float]]:
    """``{statistic: (10th percentile, median, 90th percentile)}`` over infants."""
    return {k: tuple(float(q) for q in np.percentile(v, [10, 50, 90]))
            for k, v in per_infant_statistics(skeletons).items()}
