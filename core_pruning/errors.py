"""Errors of the pruning core beyond prunelab's own (:mod:`prunelab.errors`)."""

from __future__ import annotations

from prunelab.errors import InputError


class UnreachableTarget(InputError):
    """A pruning budget the per-layer floors (``min_channels``, ``round_to``, ``max_layer_ratio``) cannot reach."""
