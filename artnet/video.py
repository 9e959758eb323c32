"""Video style transfer with temporal stabilisation, and the warping error that measures flicker.

Plain per-frame stylisation flickers: small content changes move the content statistics and, for S2,
flip patch matches. Two stabilisers, usable together (``stabilize="both"``, the default):

* ``stats``: the content statistics each alignment uses (AdaIN mean/std, WCT mean/covariance, both S2
  alignments) are an exponential moving average over frames (``momentum``) instead of the current frame's
  own -- global colour and contrast no longer jump from frame to frame.
* ``flow``: the previous *output* is warped to the current frame with dense optical flow computed on the
  content frames (OpenCV DIS), and blended in where the flow is reliable (forward-backward consistent):
  ``o_t = (1 - b m) s_t + b m W(o_{t-1})`` with blend ``b`` and reliability mask ``m``.

The style is encoded once (cached :class:`~artnet.transforms.StyleFeatures`).

**Warping error** (Lai et al. 2018): ``E = mean_t  sum_p M_t(p) |O_t(p) - W(O_{t-1})(p)|^2 / sum_p M_t(p)``
with RGB in [0, 1], ``W`` warping by the backward flow of the *content* frames and ``M_t`` the
non-occlusion mask from a forward-backward check. To avoid grading the stabiliser with its own tool, the
measurement uses Farneback flow, not the DIS flow the stabiliser uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from prunelab.errors import InputError

from .images import list_images, load_image, to_tensor, to_uint8
from .model import ArtNet
from .transforms import StyleFeatures

STABILIZERS = ("none", "stats", "flow", "both")
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}


# -- frames in and out -------------------------------------------------------------------------------------
def read_frames(source: str | Path, max_frames: int = 0) -> Iterator[np.ndarray]:
    """RGB uint8 frames from a folder of images (sorted by name) or a video file."""
    source = Path(source)
    if not source.exists():
        raise InputError(f"{source}: no such file or folder")
    if source.is_dir():
        paths = list_images(source)
        if not paths:
            raise InputError(f"{source} holds no images")
        for i, path in enumerate(paths):
            if max_frames and i >= max_frames:
                return
            yield load_image(path)
        return
    capture = cv2.VideoCapture(str(source))
    if not capture.isOpened():
        raise InputError(f"{source} is not a readable video")
    count = 0
    try:
        while not max_frames or count < max_frames:
            ok, frame = capture.read()
            if not ok:
                break
            count += 1
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()
    if count == 0:
        raise InputError(f"{source} contains no decodable frames")


def frame_count(source: str | Path) -> int:
    """Number of frames of a video file or image folder (0 when a video does not say), for progress bars."""
    source = Path(source)
    if source.is_dir():
        return len(list_images(source))
    capture = cv2.VideoCapture(str(source))
    try:
        return int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    finally:
        capture.release()


def video_fps(source: str | Path, default: float = 24.0) -> float:
    """Frame rate of a video file; ``default`` for an image folder or a video that does not say."""
    source = Path(source)
    if source.is_dir():
        return default
    capture = cv2.VideoCapture(str(source))
    try:
        fps = capture.get(cv2.CAP_PROP_FPS)
        return float(fps) if fps and fps > 0 else default
    finally:
        capture.release()


class FrameWriter:
    """Write frames to a folder of PNGs (``out`` without video suffix) or to an MP4 file (``mp4v``)."""

    def __init__(self, out: str | Path, fps: float = 24.0):
        self.out = Path(out)
        self.fps = fps
        self.writer: cv2.VideoWriter | None = None
        self.count = 0
        self.is_video = self.out.suffix.lower() in VIDEO_SUFFIXES
        if not self.is_video:
            self.out.mkdir(parents=True, exist_ok=True)

    def write(self, frame: np.ndarray) -> None:
        """Append one ``(H, W, 3)`` uint8 RGB frame (the video file is written under a temporary name)."""
        if self.is_video:
            if self.writer is None:
                self.tmp = self.out.with_name(f".{self.out.stem}.partial{self.out.suffix}")
                height, width = frame.shape[:2]
                self.writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*"mp4v"), self.fps,
                                              (width, height))
                if not self.writer.isOpened():
                    raise InputError(f"cannot write video {self.out}")
            self.writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        else:
            from .images import save_image

            save_image(frame, self.out / f"frame_{self.count + 1:05d}.png")
        self.count += 1

    def close(self) -> None:
        """Finish the output: the complete video file replaces its temporary name at once."""
        if self.writer is not None:
            self.writer.release()
            self.tmp.replace(self.out)  # complete file appears at once


# -- optical flow and warping ------------------------------------------------------------------------------
def _grey(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def dis_flow(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Flow ``f`` (H, W, 2) with ``source(p) ~ target(p + f(p))`` (OpenCV DIS, medium preset)."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(_grey(source), _grey(target), None)


def farneback_flow(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Flow as :func:`dis_flow`, computed with Farneback's algorithm (used for measuring only)."""
    return cv2.calcOpticalFlowFarneback(_grey(source), _grey(target), None, 0.5, 4, 21, 5, 7, 1.5, 0)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample ``image`` at ``p + flow(p)`` (bilinear, border replicated): brings ``target`` onto ``source``."""
    height, width = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    return cv2.remap(image, grid_x + flow[..., 0], grid_y + flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def reliable_mask(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """1 where the backward flow is confirmed by the forward flow (Sundaram et al. 2010), else 0."""
    forward_at = warp(forward, backward)
    total = backward + forward_at
    bound = 0.01 * ((backward ** 2).sum(-1) + (forward_at ** 2).sum(-1)) + 0.5
    return ((total ** 2).sum(-1) < bound).astype(np.float32)


def warping_error(outputs: list[np.ndarray], contents: list[np.ndarray]) -> float:
    """Mean masked squared warping error between consecutive ``outputs`` (uint8 RGB), flows from ``contents``."""
    if len(outputs) != len(contents) or len(outputs) < 2:
        raise ValueError("need at least two output frames and as many content frames")
    errors = []
    for t in range(1, len(outputs)):
        backward = farneback_flow(contents[t], contents[t - 1])
        forward = farneback_flow(contents[t - 1], contents[t])
        mask = reliable_mask(backward, forward)
        previous = warp(outputs[t - 1].astype(np.float32) / 255.0, backward)
        diff = ((outputs[t].astype(np.float32) / 255.0 - previous) ** 2).sum(-1)
        errors.append(float((diff * mask).sum() / max(mask.sum(), 1.0)))
    return float(np.mean(errors))


# -- the stabilised stylizer -------------------------------------------------------------------------------
@dataclass
class EmaStats:
    """Exponential moving average of the content statistics, one entry per alignment step."""

    momentum: float
    state: dict[str, tuple[torch.Tensor, ...]] = field(default_factory=dict)

    def __call__(self, key: str, stats: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        old = self.state.get(key)
        new = stats if old is None else tuple(self.momentum * o + (1 - self.momentum) * s
                                              for o, s in zip(old, stats, strict=True))
        self.state[key] = new
        return new


class VideoStylizer:
    """Stylise frames in order, carrying the stabilisers' state from one frame to the next."""

    def __init__(self, net: ArtNet, style: StyleFeatures, transform: str = "adain", alpha: float | None = None,
                 stabilize: str = "both", momentum: float = 0.9, blend: float = 0.6, preserve_color: bool = False,
                 **transform_options):
        if stabilize not in STABILIZERS:
            raise InputError(f"unknown stabilisation {stabilize!r}; choose from {', '.join(STABILIZERS)}")
        if not 0.0 <= momentum < 1.0:
            raise InputError(f"{{option}} must be in [0, 1), got {momentum}", option="momentum")
        if not 0.0 <= blend < 1.0:
            raise InputError(f"{{option}} must be in [0, 1), got {blend}", option="blend")
        self.net, self.style, self.transform, self.alpha = net, style, transform, alpha
        self.stabilize, self.blend, self.preserve_color = stabilize, blend, preserve_color
        self.options = transform_options
        self.ema = EmaStats(momentum) if stabilize in ("stats", "both") else None
        self.previous: tuple[np.ndarray, np.ndarray] | None = None  # (content, output)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        result = self.net.stylize(to_tensor(frame), self.style, transform=self.transform, alpha=self.alpha,
                                  preserve_color=self.preserve_color, stats_hook=self.ema, **self.options)
        output = to_uint8(result.image)
        if self.stabilize in ("flow", "both") and self.previous is not None:
            prev_content, prev_output = self.previous
            if prev_content.shape == frame.shape:
                backward = dis_flow(frame, prev_content)
                forward = dis_flow(prev_content, frame)
                mask = reliable_mask(backward, forward)[..., None] * self.blend
                warped = warp(prev_output.astype(np.float32), backward)
                output = np.clip((1 - mask) * output + mask * warped + 0.5, 0, 255).astype(np.uint8)
        self.previous = (frame, output)
        return output
