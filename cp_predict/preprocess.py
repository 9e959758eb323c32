"""Turn raw skeletons into model input: clean, normalise, resample, cut into windows.

Steps, in order (each a small function so tests can check its defining property):

1. :func:`interpolate_missing` - joints whose confidence is below a threshold are linearly
   interpolated in time from that joint's reliable frames (held constant before the first / after the
   last reliable frame); a joint never seen reliably follows the trunk centre.
2. :func:`normalise` - coordinates are made isotropic (x times the image aspect ratio), centred on the
   trunk centre (midpoint of neck and mid-hip, smoothed over 1 s so detector jitter on the trunk does not
   leak into every joint) and divided by the median trunk length (neck to mid-hip), so 1 unit = one
   trunk length whatever the camera distance. Optionally rotated so the median neck->hip line points
   along +y (image down).
3. :func:`resample` - linear interpolation to a fixed frame rate (25 fps by default).
4. :func:`windows` - recordings longer than the window are cut into overlapping fixed-length windows;
   predictions are aggregated over windows by averaging logits (:func:`aggregate_logits`).

The output of :func:`prepare` is ``(N, 2, T, 18)`` float32 positions in trunk lengths.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from cp_predict.data import SkeletonSet
from cp_predict.skeleton import L_HIP, NECK, R_HIP

DEFAULT_ASPECT = 640 / 480  # MINI-RGBD: canonical x is px / 640 - 0.5, y is px / 480 - 0.5


@dataclass(frozen=True)
class PreprocessConfig:
    """Pre-processing settings; saved inside every model so prediction repeats training exactly."""

    fps: float = 25.0
    window: int = 300  # frames at ``fps`` (12 s, the length of the MINI-RGBD clips)
    stride: int = 150
    conf_threshold: float = 0.1
    rotate: bool = False
    smooth_centre_s: float = 1.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> PreprocessConfig:
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})


def interpolate_missing(seq: np.ndarray, conf_threshold: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Fill unreliable joints of one ``(3, T, V)`` sequence; return ``(xy (2, T, V), reliable (T, V))``."""
    xy = seq[:2].astype(np.float64).copy()
    reliable = seq[2] >= conf_threshold
    t_axis = np.arange(seq.shape[1])
    never = []
    for v in range(seq.shape[2]):
        ok = reliable[:, v]
        if ok.all():
            continue
        if not ok.any():
            never.append(v)
            continue
        for c in range(2):
            xy[c, :, v] = np.interp(t_axis, t_axis[ok], xy[c, ok, v])
    if never:
        seen = [v for v in range(seq.shape[2]) if v not in never]
        centre = _trunk_centre(xy) if {NECK, R_HIP, L_HIP} <= set(seen) else xy[:, :, seen].mean(axis=2)
        for v in never:
            xy[:, :, v] = centre
    return xy, reliable


def _trunk_centre(xy: np.ndarray) -> np.ndarray:
    """Midpoint of the neck and the mid-hip, per frame: ``(2, T)``."""
    mid_hip = 0.5 * (xy[:, :, R_HIP] + xy[:, :, L_HIP])
    return 0.5 * (xy[:, :, NECK] + mid_hip)


def trunk_length(xy: np.ndarray) -> float:
    """Median over frames of the neck to mid-hip distance (in the units of ``xy``)."""
    mid_hip = 0.5 * (xy[:, :, R_HIP] + xy[:, :, L_HIP])
    return float(np.median(np.linalg.norm(xy[:, :, NECK] - mid_hip, axis=0)))


def normalise(xy: np.ndarray, fps: float, aspect: float = DEFAULT_ASPECT, rotate: bool = False,
              smooth_centre_s: float = 1.0) -> np.ndarray:
    """Trunk-centred, trunk-length-scaled (optionally rotated) copy of one ``(2, T, V)`` sequence."""
    out = xy.astype(np.float64).copy()
    out[0] *= aspect
    centre = _moving_average(_trunk_centre(out), max(1, int(round(smooth_centre_s * fps))))
    out -= centre[:, :, None]
    length = trunk_length(out)
    out /= max(length, 1e-6)
    if rotate:
        mid_hip = 0.5 * (out[:, :, R_HIP] + out[:, :, L_HIP])
        direction = np.median(mid_hip - out[:, :, NECK], axis=1)
        angle = np.arctan2(direction[0], direction[1])  # 0 when the trunk already points along +y
        c, s = np.cos(angle), np.sin(angle)
        rot = np.array([[c, -s], [s, c]])
        out = np.einsum("ij,jtv->itv", rot, out)
    return out


def _moving_average(signal: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average along the last axis with edge padding (keeps the length)."""
    if width <= 1:
        return signal
    pad = width // 2
    padded = np.pad(signal, [(0, 0)] * (signal.ndim - 1) + [(pad, width - 1 - pad)], mode="edge")
    kernel = np.ones(width) / width
    return np.apply_along_axis(lambda s: np.convolve(s, kernel, mode="valid"), -1, padded)


def resample(seq: np.ndarray, fps_in: float, fps_out: float) -> np.ndarray:
    """Linearly resample ``(C, T, V)`` from ``fps_in`` to ``fps_out`` (same duration)."""
    if abs(fps_in - fps_out) < 1e-9:
        return seq
    t_in = np.arange(seq.shape[1]) / fps_in
    n_out = max(2, int(np.floor(t_in[-1] * fps_out + 1e-9)) + 1)
    t_out = np.arange(n_out) / fps_out
    flat = seq.transpose(0, 2, 1).reshape(-1, seq.shape[1])
    res = np.stack([np.interp(t_out, t_in, row) for row in flat])
    return res.reshape(seq.shape[0], seq.shape[2], n_out).transpose(0, 2, 1)


def windows(num_frames: int, window: int, stride: int) -> list[tuple[int, int]]:
    """``[start, stop)`` windows covering ``num_frames``; the last one ends at the last frame.

    A recording no longer than ``window`` is one window (the models pool over time, so any length works).
    """
    if num_frames <= window:
        return [(0, num_frames)]
    starts = list(range(0, num_frames - window + 1, stride))
    if starts[-1] != num_frames - window:
        starts.append(num_frames - window)
    return [(s, s + window) for s in starts]


def aggregate_logits(window_logits: np.ndarray) -> float:
    """One infant's logit from its windows' logits: the mean (a geometric mean of the odds)."""
    return float(np.mean(window_logits))


def prepare_sequence(seq: np.ndarray, fps: float, config: PreprocessConfig,
                     aspect: float = DEFAULT_ASPECT) -> np.ndarray:
    """Clean, normalise and resample one ``(3, T, V)`` recording to ``(2, T', V)`` float32."""
    xy, _ = interpolate_missing(seq, config.conf_threshold)
    norm = normalise(xy, fps, aspect=aspect, rotate=config.rotate, smooth_centre_s=config.smooth_centre_s)
    return resample(norm, fps, config.fps).astype(np.float32)


def prepare(skeletons: SkeletonSet, config: PreprocessConfig | None = None) -> np.ndarray:
    """Pre-process a whole set: ``(N, 2, T', V)`` float32 positions in trunk lengths at ``config.fps``."""
    config = config or PreprocessConfig()
    aspect = float(skeletons.meta.get("aspect", DEFAULT_ASPECT))
    return np.stack([prepare_sequence(seq, skeletons.fps, config, aspect) for seq in skeletons.data])
