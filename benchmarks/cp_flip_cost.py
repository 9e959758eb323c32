"""What left/right flip augmentation costs and buys: held-out AUC with and without it, and which side the
explanation names on one-sided planted data whose planted joints are not recorded in the file.

Single attention models (default training settings except ``flip``), trained on generated infants and tested on
a held-out generated set; the planted rows train and test on data planted in r_elbow, r_wrist, r_ankle with the
planted joints removed from the data (so no code can see them).

    python benchmarks/cp_flip_cost.py [--n-train 600] [--n-test 400] [--seeds 0,1]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

import numpy as np
import torch
from cp_common import header, table

from cp_predict.augment import AugmentConfig
from cp_predict.explain import precision_at_k
from cp_predict.metrics import auc_score
from cp_predict.models import TrainConfig, create_model
from cp_predict.preprocess import prepare
from cp_predict.simulate import GeneratorConfig, generate
from cp_predict.skeleton import JOINT_NAMES

PLANTED = ("r_elbow", "r_wrist", "r_ankle")
COLUMNS = ("data", "flip", "seed", "test AUC", "precision@3 (at-risk mean)", "top 3 joints (at-risk mean)",
           "right share of lateral importance")


def unrecorded(n: int, seed: int, planted: tuple[str, ...]):
    data = generate(GeneratorConfig(n=n, seed=seed, planted_joints=planted))
    data.meta = {k: v for k, v in data.meta.items() if k not in ("planted_joints", "generator", "pattern")}
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=600)
    parser.add_argument("--n-test", type=int, default=400)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(header("cp_predict: the cost of left/right flip augmentation"))
    rows = []
    lateral_r = [i for i, n in enumerate(JOINT_NAMES) if n.startswith("r_")]
    lateral_l = [i for i, n in enumerate(JOINT_NAMES) if n.startswith("l_")]
    for planted in ((), PLANTED):
        train, test = unrecorded(args.n_train, 1, planted), unrecorded(args.n_test, 2, planted)
        x_train, x_test = prepare(train), prepare(test)
        for flip in (False, True):
            cfg = replace(TrainConfig(), augment=AugmentConfig(flip=flip))
            for seed in (int(s) for s in args.seeds.split(",")):
                model = create_model("attention", cfg).fit(x_train, train.labels, 25.0, seed=seed)
                logits, imp = model.decision_and_importance(x_test, 25.0)
                at_risk = imp[test.labels == 1].mean(axis=0)
                row = {"data": "planted " + "+".join(planted) if planted else "generator (no planting)",
                       "flip": "on" if flip else "off", "seed": str(seed),
                       "test AUC": f"{auc_score(test.labels, logits):.3f}"}
                if planted:
                    row["precision@3 (at-risk mean)"] = f"{precision_at_k(at_risk, list(planted)):.2f}"
                    row["top 3 joints (at-risk mean)"] = ", ".join(JOINT_NAMES[i] for i in np.argsort(-at_risk)[:3])
                    share = at_risk[lateral_r].sum() / (at_risk[lateral_r].sum() + at_risk[lateral_l].sum())
                    row["right share of lateral importance"] = f"{share:.2f}"
                rows.append(row)
                print(row, file=sys.stderr, flush=True)
    print(f"train: {args.n_train} generated infants (seed 1), test: {args.n_test} (seed 2); single models, "
          "default settings except flip\n")
    print(table(rows, COLUMNS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
