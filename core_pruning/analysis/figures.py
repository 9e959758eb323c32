"""Matplotlib figures of an analysis: weight histograms with the fitted Gaussian and Q-Q plots, and the
criteria-similarity heat-map. Built on ``matplotlib.figure.Figure`` (no pyplot global state), so they
are safe to make from a web server's worker threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from torch import nn

from core_pruning.analysis.normality import LayerNormality, layer_sample
from prunelab.io import _atomic

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _pick(items: Sequence, limit: int) -> list:
    """At most ``limit`` items spread evenly over ``items`` (first and last included)."""
    if len(items) <= limit:
        return list(items)
    idx = np.unique(np.linspace(0, len(items) - 1, limit).round().astype(int))
    return [items[i] for i in idx]


def normality_figure(model: nn.Module, results: Sequence[LayerNormality], max_layers: int = 8) -> Figure:
    """Per tested layer: a histogram of its (subsampled) weights with the fitted Gaussian, and a normal Q-Q plot.

    Each panel's title carries the layer name, the verdict and both p-values, so the figure can be read
    on its own. ``max_layers`` evenly spaced layers are shown when there are more.
    """
    from core_pruning.analysis._optional import Figure, stats

    tested = [r for r in results if r.gaussian is not None]
    if not tested:
        raise ValueError("no layer with enough weights to plot")
    shown = _pick(tested, max_layers)
    modules = dict(model.named_modules())
    cols = 4  # two layers per row: (histogram, Q-Q) each
    rows = (len(shown) + 1) // 2
    fig = Figure(figsize=(4.0 * cols, 3.0 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for k, result in enumerate(shown):
        sample = layer_sample(modules[result.layer].weight.detach().cpu().numpy(), result.tested, result.seed)
        hist_ax, qq_ax = axes[k // 2][2 * (k % 2)], axes[k // 2][2 * (k % 2) + 1]
        hist_ax.hist(sample, bins=min(60, max(10, sample.size // 50)), density=True, color="#8aa9c9")
        grid = np.linspace(sample.min(), sample.max(), 200)
        hist_ax.plot(grid, stats.norm.pdf(grid, result.mean, result.std), color="#c0392b", lw=1.5,
                     label="fitted N(mean, std)")
        hist_ax.set_title(f"{result.layer}: {result.verdict}", fontsize=9)
        hist_ax.text(0.02, 0.97, f"D'Agostino p={result.dagostino_p:.2g}\nKS p={result.ks_p:.2g}\n"
                     f"skew={result.skewness:.2f} kurt={result.excess_kurtosis:.2f}",
                     transform=hist_ax.transAxes, va="top", fontsize=7)
        (theoretical, ordered), (slope, intercept, _) = stats.probplot(sample, dist="norm")
        qq_ax.scatter(theoretical, ordered, s=3, color="#34495e")
        qq_ax.plot(theoretical, slope * theoretical + intercept, color="#c0392b", lw=1)
        qq_ax.set_title(f"{result.layer}: normal Q-Q (n={result.tested})", fontsize=9)
        qq_ax.set_xlabel("theoretical quantile", fontsize=7)
    for k in range(len(shown), rows * 2):  # hide the unused pair of an odd last row
        axes[k // 2][2 * (k % 2)].set_visible(False)
        axes[k // 2][2 * (k % 2) + 1].set_visible(False)
    fig.suptitle(f"Weight distributions per layer (alpha={shown[0].alpha})")
    return fig


def similarity_figure(matrix: np.ndarray, names: Sequence[str], title: str = "mean Spearman rho over layers") -> Figure:
    """Heat-map of a criteria-by-criteria similarity matrix (values in [-1, 1], numbers printed in the cells)."""
    from core_pruning.analysis._optional import Figure

    size = max(3.0, 0.9 * len(names) + 1.5)
    fig = Figure(figsize=(size + 1.0, size), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(matrix, vmin=-1.0, vmax=1.0, cmap="RdBu_r")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    for i in range(len(names)):
        for j in range(len(names)):
            value = matrix[i, j]
            text = "n/a" if np.isnan(value) else f"{value:.2f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if not np.isnan(value) and abs(value) > 0.6 else "black")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_title(title, fontsize=10)
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically (a crash never leaves a half-written image)."""
    return _atomic(Path(path), lambda tmp: fig.savefig(tmp, format="png", dpi=110))
