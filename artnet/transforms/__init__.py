"""Feature transforms for universal style transfer: ``adain``, ``wct`` and ``s2`` (sandwich swap).

All take content features ``(C, H, W)`` (or ``(1, C, H, W)``) and style features or a cached
:class:`StyleFeatures`, plus an optional ``content_mask`` ``(H, W)`` restricting the content statistics
to a region, and an optional ``stats_hook`` that may replace the measured content statistics (video
smoothing); they return transformed features ``(C, H, W)``. Each bounds its memory at high resolution.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from .adain import adain, adain_batch
from .s2 import s2, style_swap
from .stats import StatsHook, StyleFeatures, as_style, mean_cov, mean_std, with_prefix
from .wct import wct

TRANSFORMS: dict[str, Callable[..., Tensor]] = {"s2": s2, "adain": adain, "wct": wct}

__all__ = ["TRANSFORMS", "StatsHook", "StyleFeatures", "adain", "adain_batch", "as_style", "mean_cov", "mean_std", "s2",
           "style_swap", "wct", "with_prefix"]
