"""The generator's summary statistics beside MINI-RGBD's (10th percentile / median / 90th percentile).

Needs ``../shared/data/cp/mini_rgbd_openpose18.npz`` (research-only; read in place, never copied).

    python benchmarks/cp_generator_calibration.py [--n 400] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys

from cp_common import header, table

from cp_predict.dataset_stats import summary_statistics
from cp_predict.features import mean_limb_speed
from cp_predict.formats import read_npz
from cp_predict.metrics import auc_score
from cp_predict.preprocess import prepare
from cp_predict.simulate import GeneratorConfig, generate
from prunelab.paths import shared_path

UNITS = {"trunk_px": "px", "low_conf_fraction": "", "swap_fraction": "", "limb_speed": "trunk/s",
         "limb_speed_cv": "", "limb_accel": "trunk/s^2", "limb_range": "trunk", "limb_fidgety_power": "",
         "cross_limb_correlation": "", "left_right_correlation": "", "head_speed": "trunk/s"}


def fmt(q: tuple[float, float, float]) -> str:
    return " / ".join(f"{v:.3g}" for v in q)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    real_set = read_npz(shared_path("data", "cp", "mini_rgbd_openpose18.npz"))
    gen_set = generate(GeneratorConfig(n=args.n, seed=args.seed))
    real, gen = summary_statistics(real_set), summary_statistics(gen_set)
    print(header("cp_predict generator vs MINI-RGBD: per-infant statistics, p10 / median / p90"))
    rows = [{"statistic": k, "unit": UNITS.get(k, ""), "MINI-RGBD (12)": fmt(real[k]),
             f"generator ({args.n})": fmt(gen[k]),
             "median inside MINI p10-p90": "yes" if real[k][0] <= gen[k][1] <= real[k][2] else "no"} for k in real]
    print(table(rows, list(rows[0])))
    speed = {name: auc_score(s.labels, mean_limb_speed(prepare(s), 25.0)) for name, s in
             (("MINI-RGBD", real_set), ("generator", gen_set))}
    print(f"\nmean-limb-speed AUC (label = at risk): MINI-RGBD {speed['MINI-RGBD']:.2f}, "
          f"generator {speed['generator']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
