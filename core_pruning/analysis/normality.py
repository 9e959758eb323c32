"""Per-layer normality tests of convolution weights: does the Convolutional Weight Distribution Assumption hold?

CWDA (Huang et al., "Rethinking the Pruning Criteria for Convolutional Neural Network", NeurIPS 2021):
the weights of a well-trained convolutional layer approximately follow one Gaussian-like distribution.
We test it per layer on the pooled weights of all its filters with two classical tests:

- **D'Agostino-Pearson K^2** (``scipy.stats.normaltest``): combines sample skewness and kurtosis; sensitive
  to the heavy tails and asymmetry trained weights typically show;
- **Kolmogorov-Smirnov** against ``N(mean, std)`` fitted to the same weights (``scipy.stats.kstest``).
  Estimating the parameters from the sample makes this p-value conservative (Lilliefors): KS rejects
  less often than its nominal level, so it is the lenient test of the two.

The verdict at level ``alpha`` is *Gaussian-like* when neither test rejects (both p >= alpha).
Normality tests reject any tiny deviation once n is large (a ResNet-50 layer holds 2.4M weights), so
p-values are computed on a seeded random subsample of at most ``max_samples`` weights (default 5,000),
and the sample's skewness and excess kurtosis are reported beside them as effect sizes that do not
depend on n. Layers with fewer than 20 weights are reported untested (the kurtosis test needs 20).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from torch import nn

MIN_WEIGHTS = 20


@dataclass
class LayerNormality:
    layer: str
    weights: int  # weights in the layer
    tested: int  # weights used by the tests (subsample)
    mean: float
    std: float
    skewness: float
    excess_kurtosis: float
    dagostino_p: float | None
    ks_statistic: float | None
    ks_p: float | None
    alpha: float
    seed: int  # of the subsample, so figures can show exactly the tested weights

    @property
    def gaussian(self) -> bool | None:
        """True when neither test rejects normality at ``alpha``; None when the layer was too small to test."""
        if self.dagostino_p is None or self.ks_p is None:
            return None
        return self.dagostino_p >= self.alpha and self.ks_p >= self.alpha

    @property
    def verdict(self) -> str:
        return {True: "gaussian-like", False: "not gaussian", None: "too few weights"}[self.gaussian]


def conv_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Named convolution layers of ``model`` in definition order."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, nn.modules.conv._ConvNd)]


def layer_sample(weights: np.ndarray, max_samples: int, seed: int) -> np.ndarray:
    """All of ``weights`` flattened, or a seeded subsample of ``max_samples`` of them without replacement."""
    flat = np.asarray(weights, dtype=np.float64).ravel()
    if flat.size <= max_samples:
        return flat
    return np.random.default_rng(seed).choice(flat, size=max_samples, replace=False)


def layer_normality(layer: str, weights: np.ndarray, alpha: float = 0.05, max_samples: int = 5000,
                 seed: int = 0) -> LayerNormality:
    """D'Agostino-Pearson and fitted-Gaussian KS tests of one layer's weights (see module docstring)."""
    from core_pruning.analysis._optional import stats

    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if max_samples < MIN_WEIGHTS:
        raise ValueError(f"max_samples must be at least {MIN_WEIGHTS}, got {max_samples}")
    flat = np.asarray(weights, dtype=np.float64).ravel()
    sample = layer_sample(flat, max_samples, seed)
    mean, std = float(sample.mean()), float(sample.std(ddof=1)) if sample.size > 1 else 0.0
    skew = float(stats.skew(sample)) if sample.size > 2 and std > 0 else float("nan")
    kurt = float(stats.kurtosis(sample)) if sample.size > 3 and std > 0 else float("nan")
    dag_p = ks_stat = ks_p = None
    if sample.size >= MIN_WEIGHTS:
        if std > 0:
            dag_p = float(stats.normaltest(sample).pvalue)
            ks = stats.kstest(sample, "norm", args=(mean, std))
            ks_stat, ks_p = float(ks.statistic), float(ks.pvalue)
        else:  # all weights equal: a point mass, certainly not Gaussian
            dag_p, ks_stat, ks_p = 0.0, 1.0, 0.0
    return LayerNormality(layer, int(flat.size), int(sample.size), mean, std, skew, kurt, dag_p, ks_stat, ks_p,
                          alpha, seed)


def normality_tests(model: nn.Module, alpha: float = 0.05, max_samples: int = 5000, seed: int = 0,
                    layers: Iterable[str] | None = None) -> list[LayerNormality]:
    """Test every convolution layer of ``model`` (or the named ``layers``) for Gaussian-like weights."""
    convs = conv_layers(model)
    if layers is not None:
        wanted = list(layers)
        known = {name for name, _ in convs}
        missing = [name for name in wanted if name not in known]
        if missing:
            raise KeyError(f"no convolution layer named {missing[0]!r} in the model")
        convs = [(name, m) for name, m in convs if name in set(wanted)]
    return [layer_normality(name, m.weight.detach().cpu().numpy(), alpha, max_samples, seed + i)
            for i, (name, m) in enumerate(convs)]
