"""Whitening and colouring transform (Li et al. 2017), numerically stable.

Content features are whitened (decorrelated, unit variance), then coloured with the style covariance:
``f = C_s^{1/2} C_c^{-1/2} (f_c - mu_c) + mu_s``. Stability measures:

* covariances and eigendecompositions in float64 (``torch.linalg.eigh``, symmetric by construction);
* rank deficiency (dead channels, flat images, fewer positions than channels) is handled by keeping only
  eigen-directions with eigenvalue above ``rel_tol * max_eigenvalue``; the others are projected out rather
  than divided by ~0 (which would amplify rounding noise);
* a small ridge ``eps * mean(kept eigenvalues)`` regularises the inverse square root;
* negative eigenvalues from rounding are clipped to 0 before the style square root.

The 3-step product is folded into one ``C x C`` matrix applied in chunks of positions (bounded memory).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .stats import StatsHook, StyleFeatures, apply_affine, as_chw, as_style, mean_cov


def _whitening(cov: Tensor, rel_tol: float, eps: float) -> Tensor:
    values, vectors = torch.linalg.eigh(cov)
    top = float(values.max().clamp_min(0))
    keep = values > max(top * rel_tol, 1e-12)
    if not bool(keep.any()):
        return torch.zeros_like(cov)
    ridge = eps * float(values[keep].mean())
    inv_sqrt = torch.where(keep, (values.clamp_min(0) + ridge).rsqrt(), torch.zeros_like(values))
    return (vectors * inv_sqrt) @ vectors.T


def colouring_matrix(cov: Tensor) -> Tensor:
    """``C^{1/2}`` of a covariance (float64), negative rounding eigenvalues clipped."""
    values, vectors = torch.linalg.eigh(cov)
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.T


def style_colouring(style: StyleFeatures) -> tuple[Tensor, Tensor]:
    """Cached ``(mu_s, C_s^{1/2})`` of a style."""

    def make() -> tuple[Tensor, Tensor]:
        mean, cov = style.mean_cov()
        return mean, colouring_matrix(cov)

    return style.cached("wct_colouring", make)


def wct(content: Tensor, style: Tensor | StyleFeatures, content_mask: Tensor | None = None,
        stats_hook: StatsHook | None = None, rel_tol: float = 1e-5, eps: float = 1e-5) -> Tensor:
    """Whiten ``content`` (statistics over ``content_mask`` if given) and colour it with ``style``.

    ``stats_hook("wct", (mu_c, cov_c))`` may substitute the content statistics (video smoothing).
    """
    content = as_chw(content)
    style = as_style(style)
    mu_c, cov_c = mean_cov(content, content_mask)
    if stats_hook is not None:
        mu_c, cov_c = stats_hook("wct", (mu_c, cov_c))
    mu_s, colour = style_colouring(style)
    matrix = colour @ _whitening(cov_c, rel_tol, eps)
    return apply_affine(content, matrix, mu_c, mu_s)
