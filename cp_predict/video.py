"""Pose from video with BlazePose (optional extra: ``pip install 'prunelab[video]'``).

``mediapipe==0.10.21`` is the newest release whose wheel still carries the legacy ``mp.solutions.pose``
BlazePose graph; only ``model_complexity=1`` is inside the wheel (0 and 2 download models at run time
and fail offline). Its 33 landmarks are mapped to the OpenPose COCO-18 layout the classifier uses:
the neck, which BlazePose lacks, is the midpoint of the shoulders (with the lower of their two
visibilities as confidence); every other joint has a direct counterpart. Landmark ``visibility`` is used
as the confidence; frames where no person is found become missing joints (confidence 0).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cp_predict.data import SkeletonSet, validate_skeletons
from cp_predict.quality import quality_report
from cp_predict.skeleton import JOINT_NAMES, NUM_JOINTS
from prunelab.errors import InputError

INSTALL_HINT = "video input needs the optional extra: pip install 'prunelab[video]' (mediapipe==0.10.21)"

# OpenPose COCO-18 joint -> BlazePose landmark index (neck is computed from both shoulders).
BLAZEPOSE_INDEX: dict[str, int | tuple[int, int]] = {
    "nose": 0, "neck": (11, 12),
    "r_shoulder": 12, "r_elbow": 14, "r_wrist": 16,
    "l_shoulder": 11, "l_elbow": 13, "l_wrist": 15,
    "r_hip": 24, "r_knee": 26, "r_ankle": 28,
    "l_hip": 23, "l_knee": 25, "l_ankle": 27,
    "r_eye": 5, "l_eye": 2, "r_ear": 8, "l_ear": 7,
}  # fmt: skip


@dataclass
class ExtractionResult:
    skeletons: SkeletonSet
    quality: dict[str, Any]
    seconds_per_frame: float


def mediapipe_available() -> bool:
    """True when the ``video`` extra (mediapipe with BlazePose) can be imported."""
    try:
        import mediapipe  # noqa: F401
    except ImportError:
        return False
    return True


def blazepose_to_openpose18(landmarks: np.ndarray) -> np.ndarray:
    """``(T, 33, 3)`` BlazePose (x, y in [0, 1], visibility; NaN rows = no detection) -> ``(3, T, 18)`` canonical.

    Canonical coordinates are ``x - 0.5``, ``y - 0.5`` (like ``px / width - 0.5``); missing joints get
    confidence 0 and coordinates 0.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.ndim != 3 or lm.shape[1:] != (33, 3):
        raise ValueError(f"expected (T, 33, 3) landmarks, got {lm.shape}")
    out = np.zeros((3, lm.shape[0], NUM_JOINTS))
    for j, name in enumerate(JOINT_NAMES):
        src = BLAZEPOSE_INDEX[name]
        if isinstance(src, tuple):
            a, b = lm[:, src[0]], lm[:, src[1]]
            xy, vis = 0.5 * (a[:, :2] + b[:, :2]), np.minimum(a[:, 2], b[:, 2])
        else:
            xy, vis = lm[:, src, :2], lm[:, src, 2]
        out[0, :, j], out[1, :, j], out[2, :, j] = xy[:, 0] - 0.5, xy[:, 1] - 0.5, vis
    missing = ~np.isfinite(out).all(axis=0)
    out[:, missing] = 0.0
    out[2] = np.clip(out[2], 0.0, 1.0)
    return out


def extract_skeleton(video: str | Path, max_frames: int | None = None) -> ExtractionResult:
    """Run BlazePose on every frame of ``video``; return the skeleton and its quality report."""
    path = Path(video)
    if not path.is_file():
        raise InputError(f"{path} does not exist")
    try:
        import mediapipe as mp
    except ImportError:
        raise InputError(INSTALL_HINT) from None
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise InputError(f"{path.name}: cannot open this video (unsupported or damaged file)")
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    if not np.isfinite(fps) or fps <= 0:
        cap.release()
        raise InputError(f"{path.name}: the video does not state a frame rate")
    frames: list[np.ndarray] = []
    width = height = 0
    started = time.perf_counter()
    with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1, enable_segmentation=False,
                                min_detection_confidence=0.5, min_tracking_confidence=0.5) as pose:
        while max_frames is None or len(frames) < max_frames:
            ok, bgr = cap.read()
            if not ok:
                break
            height, width = bgr.shape[:2]
            result = pose.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            if result.pose_landmarks is None:
                frames.append(np.full((33, 3), np.nan))
            else:
                frames.append(np.array([[p.x, p.y, p.visibility] for p in result.pose_landmarks.landmark]))
    cap.release()
    if not frames:
        raise InputError(f"{path.name}: no frames could be read")
    elapsed = time.perf_counter() - started
    data = blazepose_to_openpose18(np.stack(frames))
    skeletons = validate_skeletons(data[None], names=[path.stem], fps=fps, meta={"aspect": width / height},
                                   source=path.name)
    quality = quality_report(skeletons.data[0], fps)
    quality["frames_with_pose"] = int(sum(np.isfinite(f).all() for f in frames))
    quality["image_size"] = [int(width), int(height)]
    return ExtractionResult(skeletons, quality, elapsed / len(frames))
