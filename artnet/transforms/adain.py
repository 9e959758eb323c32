"""AdaIN (Huang & Belongie 2017): give each content channel the style's mean and standard deviation."""

from __future__ import annotations

from torch import Tensor

from .stats import StatsHook, StyleFeatures, as_chw, as_style, mean_std


def adain(content: Tensor, style: Tensor | StyleFeatures, content_mask: Tensor | None = None,
          stats_hook: StatsHook | None = None, eps: float = 1e-5) -> Tensor:
    """``(f_c - mu_c) / sigma_c * sigma_s + mu_s`` per channel; ``content_mask`` restricts mu_c, sigma_c.

    ``stats_hook("adain", (mu_c, sigma_c))`` may substitute the content statistics (video smoothing).
    Works in place on one output copy (bounded memory: one extra feature map).
    """
    content = as_chw(content)
    mu_c, sigma_c = mean_std(content, content_mask, eps=eps)
    if stats_hook is not None:
        mu_c, sigma_c = stats_hook("adain", (mu_c, sigma_c))
    mu_s, sigma_s = as_style(style).mean_std()
    dtype = content.dtype  # half-precision features (skip maps of large images) stay half: statistics are float32
    gain = (sigma_s / sigma_c).to(dtype)[:, None, None]
    return (content - mu_c.to(dtype)[:, None, None]).mul_(gain).add_(mu_s.to(dtype)[:, None, None])


def adain_batch(content: Tensor, style: Tensor, eps: float = 1e-5) -> Tensor:
    """Per-sample AdaIN of ``(N, C, H, W)`` features, differentiable and without chunking or hooks.

    The same statistics as :func:`adain` (population variance, ``sqrt(var + eps)``), for training losses and for
    exported graphs, where the bounded-memory single-image path does not fit.
    """
    mu_c, mu_s = content.mean((2, 3), keepdim=True), style.mean((2, 3), keepdim=True)
    sigma_c = (content.var((2, 3), unbiased=False, keepdim=True) + eps).sqrt()
    sigma_s = (style.var((2, 3), unbiased=False, keepdim=True) + eps).sqrt()
    return (content - mu_c) / sigma_c * sigma_s + mu_s
