"""The in-memory data set (:class:`SkeletonSet`) and the one place input is validated.

Every reader returns a :class:`SkeletonSet` built through :func:`validate_skeletons`, so a corrupt
file, a wrong shape, NaN/inf, a recording that is too short or an implausible frame rate is reported
once, at the boundary, as a one-line :class:`~prunelab.errors.InputError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cp_predict.skeleton import CHANNELS, NUM_JOINTS
from prunelab.errors import InputError

DEFAULT_FPS = 25.0
MIN_SECONDS = 4.0  # fidgety movements are judged over seconds; shorter clips carry too little motion
MIN_FPS, MAX_FPS = 5.0, 240.0
CONF_TOLERANCE = 0.01  # OpenPose scores can exceed 1 by rounding (MINI-RGBD has 1.0018); clipped to 1
MAX_FRAMES = 25 * 60 * 30  # 30 minutes at 25 fps: a guard against absurd (memory-exhausting) inputs


@dataclass
class SkeletonSet:
    """Skeleton sequences of N infants, all with the same length and frame rate.

    ``data`` is ``(N, 3, T, 18)`` float32 (x, y, confidence; OpenPose COCO-18 order), ``labels`` is
    ``(N,)`` int64 with 1 = abnormal / at risk (``None`` when unlabelled), ``subjects`` groups
    recordings of the same infant for subject-disjoint evaluation (defaults to ``names``), and
    ``meta`` carries optional extras such as the generator's planted joints.
    """

    data: np.ndarray
    labels: np.ndarray | None = None
    names: list[str] = field(default_factory=list)
    fps: float = DEFAULT_FPS
    subjects: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.names:
            self.names = [f"infant_{i:03d}" for i in range(len(self.data))]
        if not self.subjects:
            self.subjects = list(self.names)

    def __len__(self) -> int:
        return int(self.data.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.data.shape[2])

    @property
    def duration_s(self) -> float:
        return self.num_frames / self.fps

    def subset(self, index: np.ndarray | list[int]) -> SkeletonSet:
        """The infants at ``index`` (meta entries with one row per infant are subset too)."""
        idx = np.asarray(index, dtype=int)
        meta = {k: (v[idx] if isinstance(v, np.ndarray) and v.shape[:1] == (len(self),) else v)
                for k, v in self.meta.items()}
        return SkeletonSet(
            data=self.data[idx],
            labels=None if self.labels is None else self.labels[idx],
            names=[self.names[i] for i in idx],
            fps=self.fps,
            subjects=[self.subjects[i] for i in idx],
            meta=meta,
        )

    def require_labels(self) -> np.ndarray:
        if self.labels is None:
            raise InputError("this data set has no 'labels' (1 = at risk, 0 = normal); training needs them")
        return self.labels


def validate_skeletons(
    data: Any,
    labels: Any = None,
    names: Any = None,
    fps: Any = DEFAULT_FPS,
    subjects: Any = None,
    meta: dict[str, Any] | None = None,
    source: str = "input",
) -> SkeletonSet:
    """Check everything about a data set once and return it in canonical form.

    Raises :class:`InputError` naming the problem: wrong rank or channel/joint count, non-finite
    values, confidences outside [0, 1], a recording shorter than :data:`MIN_SECONDS`, an implausible
    frame rate, labels that are not 0/1 or do not match the number of infants.
    """
    try:
        arr = np.asarray(data, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{source}: skeleton data is not a numeric array ({exc})") from None
    if arr.ndim == 3:
        raise InputError(f"{source}: skeleton data must have shape (N, 3, T, 18), got the 3-D {tuple(arr.shape)}; "
                         "one infant needs a leading axis of 1 (data[None])")
    if arr.ndim != 4:
        raise InputError(f"{source}: skeleton data must have shape (N, 3, T, 18), got {tuple(arr.shape)}")
    n, c, t, v = arr.shape
    if c != len(CHANNELS):
        raise InputError(f"{source}: expected 3 channels (x, y, confidence) on axis 1, got {c} (shape {arr.shape})")
    if v != NUM_JOINTS:
        hint = " (OpenPose BODY_25? convert it to COCO-18)" if v == 25 else ""
        raise InputError(f"{source}: expected {NUM_JOINTS} joints (OpenPose COCO-18) on the last axis, got {v}{hint}")
    if n == 0:
        raise InputError(f"{source}: contains no infants")
    fps_value = _validate_fps(fps, source)
    if t > MAX_FRAMES:
        raise InputError(f"{source}: {t} frames is more than the {MAX_FRAMES} this tool accepts")
    if t / fps_value < MIN_SECONDS:
        raise InputError(
            f"{source}: recording too short: {t} frames at {fps_value:g} fps = {t / fps_value:.2f} s "
            f"(needs at least {MIN_SECONDS:g} s)"
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.argwhere(bad.any(axis=(1, 2, 3)))[0, 0])
        raise InputError(f"{source}: {int(bad.sum())} NaN/inf values (first in infant #{first}); "
                         "mark missing joints with confidence 0 instead")
    conf = arr[:, 2]
    if conf.min() < 0 or conf.max() > 1 + CONF_TOLERANCE:
        raise InputError(f"{source}: confidence channel must lie in [0, 1], found [{conf.min():.3g}, {conf.max():.3g}]")
    np.clip(conf, 0.0, 1.0, out=conf)
    empty = np.flatnonzero(conf.reshape(n, -1).max(axis=1) <= 0)
    if empty.size:
        raise InputError(f"{source}: infant #{int(empty[0])} has no detected joint in any frame (all confidences 0)")
    name_list = _validate_names(names, n, "names", source)
    subject_list = _validate_names(subjects, n, "subjects", source) if subjects is not None else None
    label_arr = None if labels is None else _validate_labels(labels, n, source)
    return SkeletonSet(data=arr, labels=label_arr, names=name_list, fps=fps_value,
                       subjects=subject_list or [], meta=dict(meta or {}))


def _validate_fps(fps: Any, source: str) -> float:
    try:
        value = float(np.asarray(fps).reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        raise InputError(f"{source}: frame rate {fps!r} is not a number") from None
    if not np.isfinite(value) or not MIN_FPS <= value <= MAX_FPS:
        raise InputError(f"{source}: frame rate {value:g} fps is outside the plausible {MIN_FPS:g}..{MAX_FPS:g} fps")
    return value


def _validate_labels(labels: Any, n: int, source: str) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.shape != (n,):
        raise InputError(f"{source}: 'labels' must have shape ({n},) to match the data, got {arr.shape}")
    if arr.dtype.kind not in "iub" and not (arr.dtype.kind == "f" and np.all(np.isfinite(arr))):
        raise InputError(f"{source}: 'labels' must be integers 0/1, got dtype {arr.dtype}")
    if not np.isin(arr, (0, 1)).all():
        raise InputError(f"{source}: 'labels' must be 0 (normal) or 1 (at risk), found {sorted(set(arr.tolist()))}")
    return arr.astype(np.int64)


def _validate_names(names: Any, n: int, what: str, source: str) -> list[str]:
    if names is None:
        return []
    values = [str(x) for x in np.asarray(names).reshape(-1).tolist()]
    if len(values) != n:
        raise InputError(f"{source}: '{what}' has {len(values)} entries for {n} infants")
    return values
