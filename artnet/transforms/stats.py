"""Feature statistics computed in bounded memory, and the per-style cache.

Features are ``(C, H, W)`` (a leading batch dimension of 1 is accepted). Sums run over chunks of
positions in float64, so a 4K image's 1/8-resolution features (about 130k positions x 480 channels)
never need a float64 copy or a ``C x N`` temporary. An optional ``mask`` of shape ``(H, W)`` (weights in
[0, 1]) restricts statistics to a region -- used for spatial control (one style per region).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

#: Positions per chunk when accumulating statistics or applying a channel-mixing matrix.
CHUNK_POSITIONS = 16384

#: ``hook(key, stats) -> stats``: lets a caller replace the content statistics a transform just measured,
#: e.g. by a running average over video frames (temporal stabilisation). ``key`` names the alignment step.
StatsHook = Callable[[str, tuple[Tensor, ...]], tuple[Tensor, ...]]


def with_prefix(hook: StatsHook | None, prefix: str) -> StatsHook | None:
    """The same hook with ``prefix`` added to every key (to tell several styles or steps apart)."""
    if hook is None:
        return None
    return lambda key, stats: hook(prefix + key, stats)


def as_chw(features: Tensor) -> Tensor:
    """Accept ``(1, C, H, W)`` or ``(C, H, W)``; return ``(C, H, W)``."""
    if features.dim() == 4:
        if features.shape[0] != 1:
            raise ValueError(f"expected a single feature map, got batch of {features.shape[0]}")
        features = features[0]
    if features.dim() != 3:
        raise ValueError(f"expected features of shape (C, H, W), got {tuple(features.shape)}")
    return features


def _flat_mask(mask: Tensor | None, features: Tensor) -> Tensor | None:
    if mask is None:
        return None
    if mask.shape[-2:] != features.shape[-2:]:
        raise ValueError(f"mask {tuple(mask.shape)} does not match features {tuple(features.shape)}")
    flat = mask.reshape(-1).to(features.device)
    if float(flat.sum()) <= 0:
        raise ValueError("mask selects no position")
    return flat


def mean_std(features: Tensor, mask: Tensor | None = None, eps: float = 1e-5,
             chunk: int = CHUNK_POSITIONS) -> tuple[Tensor, Tensor]:
    """Per-channel mean and standard deviation (float32, shape ``(C,)``); ``sqrt(var + eps)``.

    Two passes (mean, then centred squares) avoid the cancellation of ``E[x^2] - E[x]^2``; each chunk is
    reduced in float32 (fast path) and the chunk sums are accumulated in float64. Channels-last maps (the
    encoder's skip features) are read in place as ``positions x C`` rows: a ``C x N`` view of them would be a copy.
    """
    features = as_chw(features)
    flat, dim = _positions_view(features)
    weights = _flat_mask(mask, features)
    total = _total(flat.shape[dim], weights, flat.device)
    mean = _weighted_sum(flat, weights, chunk, lambda part: part, dim) / total
    mean32 = mean.to(_compute_dtype(flat.dtype)).unsqueeze(dim)
    var = _weighted_sum(flat, weights, chunk, lambda part: (part - mean32).square_(), dim) / total
    var = var.clamp_min(0)
    return mean.float(), torch.sqrt(var + eps).float()


def _positions_view(features: Tensor) -> tuple[Tensor, int]:
    """A copy-free 2-D view of ``(C, H, W)`` features and its positions dimension: ``(C, N), 1`` for contiguous
    maps, ``(N, C), 0`` for channels-last ones."""
    channels = features.shape[0]
    if channels > 1 and features.stride(0) == 1 and not features.is_contiguous():
        return features.permute(1, 2, 0).reshape(-1, channels), 0
    return features.reshape(channels, -1), 1


def _total(positions: int, weights: Tensor | None, device: torch.device) -> Tensor:
    if weights is None:
        return torch.tensor(float(positions), dtype=torch.float64, device=device)
    return weights.double().sum()


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 for half-precision features (stored small, e.g. skip maps of large images), else their own."""
    return torch.promote_types(dtype, torch.float32)


def _weighted_sum(flat: Tensor, weights: Tensor | None, chunk: int, transform, dim: int = 1) -> Tensor:
    """Per-channel sums of ``transform(positions chunk)`` over ``flat``'s positions dimension ``dim``."""
    total = flat.new_zeros(flat.shape[1 - dim], dtype=torch.float64)
    for start in range(0, flat.shape[dim], chunk):  # half-precision chunks are summed in float32 (no overflow)
        part = transform(flat.narrow(dim, start, min(chunk, flat.shape[dim] - start)).to(_compute_dtype(flat.dtype)))
        if weights is None:
            total += part.sum(dim).double()
        else:
            w = weights[start: start + part.shape[dim]].to(part.dtype)
            total += (part @ w if dim == 1 else w @ part).double()
    return total


def mean_cov(features: Tensor, mask: Tensor | None = None, chunk: int = CHUNK_POSITIONS) -> tuple[Tensor, Tensor]:
    """Per-channel mean ``(C,)`` and covariance ``(C, C)``, both float64.

    Computed on centred data (stable even when ``|mean| >> std``); each chunk's ``X X^T`` is a float32
    matrix product (fast), accumulated across chunks in float64.
    """
    features = as_chw(features)
    channels = features.shape[0]
    flat = features.reshape(channels, -1)
    weights = _flat_mask(mask, features)
    mean = mean_std(features, mask, chunk=chunk)[0].double()
    mean32 = mean.to(flat.dtype)[:, None]
    cov = flat.new_zeros(channels, channels, dtype=torch.float64)
    for start in range(0, flat.shape[1], chunk):
        centred = flat[:, start: start + chunk] - mean32
        if weights is None:
            cov += (centred @ centred.T).double()
        else:
            cov += ((centred * weights[start: start + chunk].to(centred.dtype)) @ centred.T).double()
    return mean, cov / _total(flat.shape[1], weights, flat.device).clamp_min(1.0)


def apply_affine(features: Tensor, matrix: Tensor, before: Tensor, after: Tensor,
                 chunk: int = CHUNK_POSITIONS) -> Tensor:
    """``matrix @ (f - before) + after`` over all positions, chunked; returns float32 ``(C', H, W)``."""
    features = as_chw(features)
    channels, height, width = features.shape
    flat = features.reshape(channels, -1)
    matrix32 = matrix.to(features.dtype)
    out = features.new_empty(matrix.shape[0], height * width)
    b = before.to(features.dtype)[:, None]
    a = after.to(features.dtype)[:, None]
    for start in range(0, flat.shape[1], chunk):
        out[:, start: start + chunk] = torch.addmm(a, matrix32, flat[:, start: start + chunk] - b)
    return out.reshape(-1, height, width)


@dataclass
class StyleFeatures:
    """Encoded style image plus statistics computed once and reused (the "style features cached" path).

    Everything derived from the style (mean/std, covariance eigendecomposition, S2 patch bank) is computed
    lazily on first use and kept, so stylising many contents or video frames with one style pays for it
    once.
    """

    features: Tensor
    #: The style's features at the skip levels of a decoder with skips (``{level: StyleFeatures}``), else empty.
    skips: dict[str, StyleFeatures] = field(default_factory=dict)
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.features = as_chw(self.features)

    def cached(self, key: str, make):
        """``make()`` the first time ``key`` is asked for, the kept value afterwards."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def mean_std(self) -> tuple[Tensor, Tensor]:
        """Cached per-channel mean and standard deviation (:func:`mean_std`)."""
        return self.cached("mean_std", lambda: mean_std(self.features))

    def mean_cov(self) -> tuple[Tensor, Tensor]:
        """Cached per-channel mean and covariance (:func:`mean_cov`)."""
        return self.cached("mean_cov", lambda: mean_cov(self.features))


def as_style(style: Tensor | StyleFeatures) -> StyleFeatures:
    """``style`` as :class:`StyleFeatures` (features are wrapped; cached ones pass through)."""
    return style if isinstance(style, StyleFeatures) else StyleFeatures(style)
