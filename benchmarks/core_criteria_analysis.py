"""Criteria similarity and weight-normality tables ("blind spots of pruning criteria") on real networks.

Models: the ResNet-20 trained on MNIST-5k by ``core_criteria_mnist.py`` (cached in runs/; trained here with
the same recipe when missing), the same architecture at its random initialisation (the reference where CWDA
holds by construction), and the pretrained 5SE teacher encoder of ../shared (calibrated on shared/data/style
for the activation-based ``zero`` score; skipped with a note when ../shared is absent).

For each model: per pair of criteria the mean per-layer Spearman/Kendall correlation and the Jaccard
overlap of removed channels at 50% (layer-wise and global); per criterion the score spread; per conv layer
the D'Agostino-Pearson and KS tests at alpha = 0.05 on at most 5,000 weights. Figures go to --out.

Run: ``python benchmarks/core_criteria_analysis.py`` (a few minutes on a CPU once the MNIST model exists).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from core_common import REPO, header, table

from core_pruning.analysis import CriteriaAnalysis, analyze, normality_figure, save_figure, similarity_figure
from core_pruning.datasets import load_dataset
from core_pruning.models import build_model
from prunelab.paths import has_shared

MNIST_CRITERIA = ["l1", "l2", "fpgm", "bn_scale", "taylor", "cpmc", "random"]
TEACHER_CRITERIA = ["l1", "l2", "fpgm", "cpmc", "zero", "random"]


def _f(value: float | None, digits: int = 3) -> str:
    if value is None or value != value:
        return "n/a"
    return f"{value:.2e}" if value != 0 and abs(value) < 10 ** -digits else f"{value:.{digits}f}"


def tables(title: str, result: CriteriaAnalysis) -> str:
    pairs = [{"pair": f"{p.a} / {p.b}", "Spearman ρ": _f(p.mean_spearman), "Kendall τ": _f(p.mean_kendall),
              "Jaccard layer-wise": _f(p.mean_jaccard_layerwise), "Jaccard global": _f(p.jaccard_global)}
             for p in result.pairs]
    sizes = dict(zip(result.scores.layers, result.scores.sizes))
    spread = []
    for s in result.spreads:
        worst = max(s.global_removed_per_layer, key=lambda k: s.global_removed_per_layer[k] / sizes[k])
        spread.append({"criterion": s.criterion, "median CV": _f(s.median_cv), "global CV": _f(s.global_cv),
                       "global gap": _f(s.global_relative_gap),
                       "most emptied layer (global 50%)": f"{worst} ({s.global_removed_per_layer[worst]}/"
                                                          f"{sizes[worst]})"})
    normality = [{"layer": r.layer, "weights": r.weights, "skew": _f(r.skewness, 2),
                  "excess kurtosis": _f(r.excess_kurtosis, 2), "D'Agostino p": _f(r.dagostino_p),
                  "KS p": _f(r.ks_p), "verdict": r.verdict} for r in result.normality]
    return (f"### {title}\n\nSimilarity (mean over {len(result.scores.layers)} channel groups; removal overlap at "
            f"{result.ratio:.0%})\n\n{table(pairs, list(pairs[0]))}\n\nScore spread\n\n"
            f"{table(spread, list(spread[0]))}\n\nWeight normality (alpha = {result.normality[0].alpha}): "
            f"{result.gaussian_layers} of {result.tested_layers} tested conv layers Gaussian-like\n\n"
            f"{table(normality, list(normality[0]))}")


def save_figures(result: CriteriaAnalysis, model: torch.nn.Module, out: Path, stem: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    save_figure(normality_figure(model, result.normality, max_layers=8), out / f"{stem}_normality.png")
    save_figure(similarity_figure(result.matrix(), result.criteria), out / f"{stem}_similarity.png")


def mnist_model(out_dir: Path) -> torch.nn.Module:
    base = REPO / "runs" / "core_criteria_mnist" / "base_0.pt"
    if not base.is_file():
        from core_criteria_mnist import train_base

        class Recipe:  # the defaults of core_criteria_mnist.py
            base_epochs, steps_per_epoch = 10, None

        return train_base(load_dataset("mnist5k", seed=0), Recipe, base, seed=0)
    model = build_model("resnet20", num_classes=10, in_channels=1)
    model.load_state_dict(torch.load(base, map_location="cpu", weights_only=True))
    return model.eval()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "runs" / "core_criteria_analysis"), help="figures folder")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--side", type=int, default=256, help="teacher calibration image size")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    data = load_dataset("mnist5k", seed=0)
    x = data.example_input
    gen = torch.Generator().manual_seed(0)
    idx = torch.randperm(len(data.train), generator=gen)[:256]
    calib = [(data.train.tensors[0][idx[i:i + 64]], data.train.tensors[1][idx[i:i + 64]]) for i in range(0, 256, 64)]

    sections = []
    trained = mnist_model(out)
    result = analyze(trained, x, MNIST_CRITERIA, calib_data=calib)
    save_figures(result, trained, out, "mnist_resnet20")
    sections.append(tables("ResNet-20 trained on MNIST-5k (runs/core_criteria_mnist/base_0.pt)", result))

    torch.manual_seed(0)
    init = build_model("resnet20", num_classes=10, in_channels=1).eval()
    result = analyze(init, x, [c for c in MNIST_CRITERIA if c != "bn_scale"], calib_data=calib)
    sections.append(tables("ResNet-20 at random initialisation (seed 0; bn_scale left out: all gammas are 1)",
                           result))

    if has_shared("weights", "teacher-cd16x", "5SE.pth"):
        from core_teacher_model import load_encoder, style_images

        encoder = load_encoder()
        _, images = style_images(args.side)
        result = analyze(encoder, images[0], TEACHER_CRITERIA, calib_data=images)
        save_figures(result, encoder, out, "teacher_5se")
        sections.append(tables("Teacher encoder 5SE (pretrained; zero = largest activation on shared/data/style)",
                               result))
    else:
        sections.append("### Teacher encoder 5SE\n\nskipped: ../shared/weights/teacher-cd16x not found")

    print(header("Pruning-criteria similarity and weight normality"))
    print(f"criteria compared at 50% removal; normality: D'Agostino-Pearson and KS vs fitted Gaussian, alpha 0.05, "
          f"<= 5000 weights per layer; figures in {out}\n")
    print("\n\n".join(sections))
    return 0


if __name__ == "__main__":
    sys.exit(main())
