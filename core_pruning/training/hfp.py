"""HFP — hard filter pruning, the baseline of the SFP papers."""

from __future__ import annotations

from core_pruning.training.filter_pruning import FilterPruning


class HFP(FilterPruning):
    """Hard filter pruning: filters zeroed at an epoch end are frozen at zero for the rest of training.

    Reading implemented (the "hard" counterpart the SFP/GHFP papers compare with): the same epoch-end
    scoring and uniform per-layer selection as :class:`~core_pruning.training.sfp.SFP`, but a pruned
    channel's parameters (filter rows, biases, BatchNorm scale and shift) receive no further updates
    (hardness 1), so they stay exactly zero and stay pruned; the search space shrinks to the kept
    filters from the first pruning on. With ``schedule="asymptotic"`` more filters are frozen epoch by
    epoch.
    """

    name = "hfp"

    def hardness(self, progress: float) -> float:
        return 1.0
