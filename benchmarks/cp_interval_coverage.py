"""Measured coverage of the 90 % split-conformal interval (``cp_predict.interval``) on held-out generated infants.

For each held-out set: the fraction of infants whose true label (0 / 1) lies inside their interval (target: at
least 0.90 for infants like the training infants), the mean width, how often the interval holds one label, both or
neither, and how often the point estimate lies strictly inside (it is never put on an end by construction).
MINI-RGBD out-of-fold coverage is in ``benchmarks/cp_minirgbd_loso.py`` (column "90% coverage").

    python benchmarks/cp_interval_coverage.py [--model weights/cp_attention.pt] [--tests 400:2,400:5,400:6]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
from cp_common import header, table

from cp_predict.interval import coverage
from cp_predict.predictor import conformal_q, load_model, predict
from cp_predict.simulate import GeneratorConfig, generate

COLUMNS = ("held-out set", "n", "q", "coverage", "mean width", "one label", "both labels", "neither",
           "estimate strictly inside")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model directory or .pt (default: the shipped weights)")
    parser.add_argument("--tests", default="400:2,400:5,400:6", help="generated held-out sets as N:SEED,...")
    parser.add_argument("--plant", default="", help="plant the abnormal dynamics in these joints (comma list)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    planted = tuple(j for j in args.plant.split(",") if j)
    print(header("cp_predict: coverage of the 90% conformal interval on held-out generated infants"))
    rows = []
    for spec in args.tests.split(","):
        n, seed = (int(v) for v in spec.split(":"))
        data = generate(GeneratorConfig(n=n, seed=seed, planted_joints=planted))
        results = [r for r in predict(model, data, with_map=False) if r.assessable]
        labels = np.array([data.labels[data.names.index(r.name)] for r in results])
        intervals = np.array([r.interval for r in results])
        sets = [len(r.extra["prediction_set"]) for r in results]
        inside = [r.interval[0] < r.probability < r.interval[1] for r in results]
        rows.append({"held-out set": f"generator seed {seed}" + (f", planted {'+'.join(planted)}" if planted else ""),
                     "n": str(len(results)), "q": f"{conformal_q(model):.3f}",
                     "coverage": f"{coverage(labels, intervals):.3f}",
                     "mean width": f"{np.mean(intervals[:, 1] - intervals[:, 0]):.3f}",
                     "one label": f"{np.mean(np.array(sets) == 1):.3f}",
                     "both labels": f"{np.mean(np.array(sets) == 2):.3f}",
                     "neither": f"{np.mean(np.array(sets) == 0):.3f}",
                     "estimate strictly inside": f"{np.mean(inside):.3f}"})
    n_cal = model.report.get("conformal", {}).get("n", "?")
    print(f"model: {args.model or 'weights/cp_attention.pt (shipped)'}; calibration: its {n_cal} training infants' "
          "out-of-fold probabilities\n")
    print(table(rows, COLUMNS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
