"""SFP — soft filter pruning (He et al., IJCAI 2018, "Soft Filter Pruning for Accelerating Deep CNNs")."""

from __future__ import annotations

from core_pruning.training.filter_pruning import FilterPruning


class SFP(FilterPruning):
    """Soft filter pruning: zero the weakest filters every epoch, let them keep learning.

    Reading implemented: the network trains from scratch (or from given weights); at the end of every
    epoch each filter is scored by the L2 norm of its weights, the lowest-scored filters of every layer
    (one rate for all layers, here chosen so the network meets the FLOPs target) are set to zero, and
    training goes on with the zeroed filters *still updated* (hardness 0): a filter zeroed after epoch t
    may grow back and survive the re-scoring after epoch t+1, so the model keeps its capacity while the
    pruned set is searched. Coupled channels (a residual stage) are one unit, scored by the mean over
    their filters. After the last epoch the zeroed filters are removed physically; ``schedule="asymptotic"``
    gives ASFP.
    """

    name = "sfp"

    def hardness(self, progress: float) -> float:
        return 0.0
