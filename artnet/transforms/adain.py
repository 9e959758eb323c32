"""AdaIN (Huang & Belongie 2017): give each content channel the style's mean and standard deviation."""

from __future__ import annotations

import torch
from torch import Tensor

from .stats import StatsHook, StyleFeatures, as_chw, as_style, mean_std


def adain(content: Tensor, style: Tensor | StyleFeatures, content_mask: Tensor | None = None,
          stats_hook: StatsHook | None = None, eps: float = 1e-5, alpha: float = 1.0) -> Tensor:
    """``(f_c - mu_c) / sigma_c * sigma_s + mu_s`` per channel; ``content_mask`` restricts mu_c, sigma_c.

    ``stats_hook("adain", (mu_c, sigma_c))`` may substitute the content statistics (video smoothing).
    ``alpha`` < 1 returns ``alpha * adain + (1 - alpha) * f_c`` in the same single pass (both are per-channel
    affine maps of ``f_c``, so the blend is one too). Works on one output copy (bounded memory).
    """
    content = as_chw(content)
    mu_c, sigma_c = mean_std(content, content_mask, eps=eps)
    if stats_hook is not None:
        mu_c, sigma_c = stats_hook("adain", (mu_c, sigma_c))
    mu_s, sigma_s = as_style(style).mean_std()
    dtype = content.dtype  # half-precision features (skip maps of large images) stay half: statistics are float32
    gain = sigma_s / sigma_c

    def per_channel(v: Tensor) -> Tensor:
        return v.to(dtype)[:, None, None]

    if alpha != 1:
        return torch.addcmul(per_channel((mu_s - mu_c * gain) * alpha), content, per_channel(gain * alpha + 1 - alpha))
    return (content - per_channel(mu_c)).mul_(per_channel(gain)).add_(per_channel(mu_s))


def adain_batch(content: Tensor, style: Tensor, eps: float = 1e-5) -> Tensor:
    """Per-sample AdaIN of ``(N, C, H, W)`` features, differentiable and without chunking or hooks.

    The same statistics as :func:`adain` (population variance, ``sqrt(var + eps)``), for training losses and for
    exported graphs, where the bounded-memory single-image path does not fit.
    """
    mu_c, mu_s = content.mean((2, 3), keepdim=True), style.mean((2, 3), keepdim=True)
    sigma_c = (content.var((2, 3), unbiased=False, keepdim=True) + eps).sqrt()
    sigma_s = (style.var((2, 3), unbiased=False, keepdim=True) + eps).sqrt()
    return (content - mu_c) / sigma_c * sigma_s + mu_s
