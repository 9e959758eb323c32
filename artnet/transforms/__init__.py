"""Feature transforms for universal style transfer, and :data:`TRANSFORMS`, the one registry of their names.

Every transform takes content features ``(C, H, W)`` (or ``(1, C, H, W)``) and style features or a cached
:class:`StyleFeatures`, an optional ``content_mask`` ``(H, W)`` restricting the content statistics to a region
and an optional ``stats_hook`` that may replace the measured content statistics (video smoothing); it returns
transformed features ``(C, H, W)`` in bounded memory.

:data:`TRANSFORMS` maps each name to its function; :meth:`artnet.ArtNet.stylize`, the command line's
``--transform`` choices and the demo's radio buttons all read it, so a new transform is registered here once.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from .adain import adain, adain_batch
from .s2 import s2, style_swap
from .stats import StatsHook, StyleFeatures, as_style, mean_cov, mean_std, with_prefix
from .wct import wct

#: Transform name -> function, in the order they are offered (S2, ArtNet's own, first).
TRANSFORMS: dict[str, Callable[..., Tensor]] = {"s2": s2, "adain": adain, "wct": wct}
#: The transform used when none is chosen.
DEFAULT_TRANSFORM = "s2"


def transform_names() -> tuple[str, ...]:
    """The registered transform names, in :data:`TRANSFORMS` order (for choice lists)."""
    return tuple(TRANSFORMS)


__all__ = ["DEFAULT_TRANSFORM", "TRANSFORMS", "StatsHook", "StyleFeatures", "adain", "adain_batch", "as_style",
           "mean_cov", "mean_std", "s2", "style_swap", "transform_names", "wct", "with_prefix"]
