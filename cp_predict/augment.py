"""Training-time augmentation of pre-processed positions ``(N, 2, T, V)`` (trunk-length units).

Each transform keeps what identifies fidgety vs. abnormal movement (independence of limbs, variability,
small fast components) while varying what should not matter: camera roll (rotation), infant size / zoom
(scale), moment-to-moment tempo (a smooth monotone time warp) and detector noise (joint jitter). All take a
``numpy.random.Generator``.

**Left/right flip (mirror x and swap the joint labels) exists but is off by default.** Body side *does*
matter here: unilateral CP shows as one-sided abnormal movement, and with flip on the attention learns
"this joint on either side". With flip off the model keeps side identity and its explanation names the side the
movement came from (the measurements: ``docs/notes/cp_predict.md``; the AUC cost: ``benchmarks/cp_flip_cost.py``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from cp_predict.skeleton import FLIP_PERMUTATION


@dataclass(frozen=True)
class AugmentConfig:
    """Strengths of each augmentation; a zero (or ``False``) switches it off."""

    rotation_deg: float = 15.0
    scale: float = 0.1
    time_warp: float = 0.08
    jitter: float = 0.01
    flip: bool = False  # off: it makes explanations side-blind (module docstring)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> AugmentConfig:
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})


def rotate(x: np.ndarray, degrees: np.ndarray) -> np.ndarray:
    """Rotate each sequence of ``(N, 2, T, V)`` about the trunk centre (the origin) by its angle."""
    rad = np.deg2rad(degrees)
    c, s = np.cos(rad)[:, None, None], np.sin(rad)[:, None, None]
    return np.stack([c * x[:, 0] - s * x[:, 1], s * x[:, 0] + c * x[:, 1]], axis=1)


def time_warp(x: np.ndarray, strength: np.ndarray) -> np.ndarray:
    """Resample along time with ``u -> u + a sin(pi u)`` (``|a| < 1/pi`` keeps it monotone; ends fixed)."""
    n, _, t, _ = x.shape
    u = np.linspace(0.0, 1.0, t)
    out = np.empty_like(x)
    for i in range(n):
        src = (u + strength[i] * np.sin(np.pi * u)) * (t - 1)
        lo = np.clip(np.floor(src).astype(int), 0, t - 1)
        hi = np.clip(lo + 1, 0, t - 1)
        w = (src - lo)[None, :, None]
        out[i] = (1 - w) * x[i][:, lo] + w * x[i][:, hi]
    return out


def flip(x: np.ndarray) -> np.ndarray:
    """Mirror left <-> right: negate x and swap the left and right joint labels."""
    out = x[..., list(FLIP_PERMUTATION)].copy()
    out[:, 0] *= -1
    return out


def augment(x: np.ndarray, config: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """Apply every enabled augmentation with per-sequence random strength; returns a new float32 array."""
    n = x.shape[0]
    out = x.astype(np.float32, copy=True)
    if config.time_warp:
        out = time_warp(out, rng.uniform(-config.time_warp, config.time_warp, n))
    if config.rotation_deg:
        out = rotate(out, rng.uniform(-config.rotation_deg, config.rotation_deg, n))
    if config.scale:
        out = out * rng.uniform(1 - config.scale, 1 + config.scale, n)[:, None, None, None]
    if config.flip:
        mirror = rng.random(n) < 0.5
        if mirror.any():
            out[mirror] = flip(out[mirror])
    if config.jitter:
        out = out + rng.normal(0.0, config.jitter, out.shape)
    return out.astype(np.float32)
