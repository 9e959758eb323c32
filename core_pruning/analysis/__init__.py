"""Criteria analysis: how alike are pruning criteria, can they tell channels apart, and are weights Gaussian?

Reading of Huang et al., "Rethinking the Pruning Criteria for Convolutional Neural Network" (NeurIPS 2021;
arXiv 2004.11627, "Convolution-Weight-Distribution Assumption"), the "blind spots of pruning criteria":

1. **Similarity.** Widely compared criteria rank the filters of a layer almost identically: L1 and L2
   norms, and FPGM (distance to the geometric median), give Spearman correlations close to 1, hence
   nearly the same pruned structure. The explanation rests on the *Convolutional Weight Distribution
   Assumption* (CWDA): the weights of a well-trained conv layer approximately follow one Gaussian-like
   distribution ``N(0, s^2)``. For a d-dimensional Gaussian filter ``||w||_1`` and ``||w||_2`` are both
   sums over the same ``|w_k|`` and correlate strongly (about 0.94 for large d); in high dimension two
   independent filters are nearly orthogonal, so ``||w_i - w_j||^2 ~ ||w_i||^2 + ||w_j||^2`` and FPGM's
   score is an increasing function of the filter's own norm: it ranks like L2.
   Measured here by :func:`compare`: per-layer Spearman rho and Kendall tau of two criteria, and the
   Jaccard overlap of the channel sets they remove under layer-wise and global pruning at one ratio.
2. **Applicability.** Under CWDA the norms of one layer's filters concentrate: their coefficient of
   variation is about ``1/sqrt(2d)`` (L2), so in wide layers the scores are too close for the ranking
   to mean much; in global pruning, norm scores are dominated by each layer's weight scale ``s`` and
   dimension ``d``, so whole layers are emptied or spared for reasons unrelated to redundancy.
   Measured by :func:`spread`: per-layer CV and the gap between the lowest kept and highest removed
   score, and how many channels of each layer a global cut removes.
3. **The assumption itself** is checked per layer by :func:`normality_tests` (D'Agostino-Pearson and a
   fitted-Gaussian Kolmogorov-Smirnov test, with a verdict at ``alpha``) and shown by
   :func:`normality_figure` (histograms with the fitted Gaussian, and Q-Q plots).

Where the paper is silent we chose: scores are compared on exactly the groups and scores our engine
ranks (so coupled residual channels form one group), and the tests run on the pooled weights of a layer,
subsampled to 5,000 so that p-values do not reject every trained layer on sample size alone.

Needs the ``analysis`` extra (``pip install 'prunelab[analysis]'``: scipy, matplotlib); importing this package
does not, and a missing package is reported in one line naming the extra at the first call that needs it.

Example::

    from core_pruning.analysis import analyze, normality_figure, save_figure
    result = analyze(model, torch.randn(1, 3, 32, 32), criteria=["l1", "l2", "fpgm"], ratio=0.5)
    print(result.format_text())
    save_figure(normality_figure(model, result.normality), "normality.png")
"""

from core_pruning.analysis.figures import normality_figure, save_figure, similarity_figure
from core_pruning.analysis.normality import LayerNormality, layer_normality, normality_tests
from core_pruning.analysis.report import CriteriaAnalysis, analyze
from core_pruning.analysis.scores import CriteriaScores, score_criteria
from core_pruning.analysis.similarity import (
    PairSimilarity,
    compare,
    global_removed,
    jaccard,
    layerwise_removed,
    rank_correlation,
    similarity_matrix,
)
from core_pruning.analysis.spread import CriterionSpread, coefficient_of_variation, relative_gap, spread

__all__ = [
    "CriteriaAnalysis",
    "CriteriaScores",
    "CriterionSpread",
    "LayerNormality",
    "PairSimilarity",
    "analyze",
    "coefficient_of_variation",
    "compare",
    "global_removed",
    "jaccard",
    "layer_normality",
    "layerwise_removed",
    "normality_figure",
    "normality_tests",
    "rank_correlation",
    "relative_gap",
    "save_figure",
    "score_criteria",
    "similarity_figure",
    "similarity_matrix",
    "spread",
]
