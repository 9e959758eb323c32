"""Per-infant explanations (issue 18): does one model's joint importance follow each infant's own abnormal joints?

One attention model is trained on generated infants whose abnormal dynamics sit in l_wrist, l_ankle for half
of them and in r_elbow, r_knee for the other half (planted joints not written into the file), exactly as
``tests/test_cp_explain.py::test_one_model_gives_different_top_joints_to_infants_with_different_planted_joints``;
it is then asked for the top-2 joints of held-out at-risk infants of each kind. Reported per attention module
(``per_joint``, the default since 2026-12-04, and ``pooled``, the SE squeeze of the earlier models) and seed:
per-infant precision@2 against the infant's own planted joints for the attention, Grad-CAM (time mean) and
occlusion; the fraction of at-risk infants whose top-2 attention joints include one of their own planted joints;
the largest per-joint sd of the attention share across the at-risk infants; and the mean per-infant Spearman
correlation of attention with Grad-CAM and with occlusion.

    python benchmarks/cp_per_infant_explanations.py [--seeds 3] [--attention per_joint,pooled]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from cp_common import header, save_json, table

from cp_predict.data import SkeletonSet
from cp_predict.explain import occlusion_importance, precision_at_k, rank_agreement
from cp_predict.models import TrainConfig, create_model
from cp_predict.preprocess import prepare
from cp_predict.simulate import GeneratorConfig, generate

KINDS = {"left wrist+ankle": ("l_wrist", "l_ankle"), "right elbow+knee": ("r_elbow", "r_knee")}
COLUMNS = ("attention", "seed", "kind", "at-risk n", "prec@2 attention", "hit attention", "prec@2 Grad-CAM",
           "prec@2 occlusion", "max sd share", "rho att-GradCAM", "rho att-occl.")


def unrecorded(config: GeneratorConfig) -> SkeletonSet:
    data = generate(config)
    data.meta = {k: v for k, v in data.meta.items() if k not in ("planted_joints", "generator", "pattern")}
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--attention", default="per_joint,pooled")
    parser.add_argument("--n-test", type=int, default=30, help="infants per kind in the test sets (about half at risk)")
    parser.add_argument("--out", default="runs/cp_bench/per_infant_explanations.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(header("cp_predict: per-infant explanations, one model, two kinds of planted at-risk infants"))
    parts = [unrecorded(GeneratorConfig(n=200, seed=s, planted_joints=p)) for s, p in zip((301, 302), KINDS.values())]
    train = SkeletonSet(data=np.concatenate([p.data for p in parts]), labels=np.concatenate([p.labels for p in parts]),
                        names=parts[0].names + [n + "b" for n in parts[1].names], fps=25.0)
    tests = {kind: unrecorded(GeneratorConfig(n=args.n_test, seed=s, planted_joints=p))
             for s, (kind, p) in zip((303, 304), KINDS.items())}
    x_train = prepare(train)
    rows, results = [], []
    for attention in args.attention.split(","):
        for seed in range(args.seeds):
            started = time.time()
            model = create_model("attention", TrainConfig(), {"attention": attention}).fit(
                x_train, train.labels, 25.0, seed=seed)
            seconds = time.time() - started
            for kind, t in tests.items():
                planted = list(KINDS[kind])
                x = prepare(t)[t.labels == 1]
                att = model.joint_importance(x, 25.0)
                cam = model.joint_time_map(x, 25.0).mean(axis=1)
                occ = occlusion_importance(model, x, 25.0)
                share = att / att.sum(axis=1, keepdims=True)
                prec = {name: float(np.mean([precision_at_k(imp[i], planted) for i in range(len(x))]))
                        for name, imp in (("attention", att), ("gradcam", cam), ("occlusion", occ))}
                hit = float(np.mean([precision_at_k(att[i], planted) >= 0.5 for i in range(len(x))]))
                entry = {"attention": attention, "seed": seed, "kind": kind, "n_at_risk": len(x),
                         "precision_at_2": prec, "hit_attention": hit, "max_sd_share": float(share.std(axis=0).max()),
                         "spearman_attention_gradcam": float(np.nanmean(rank_agreement(att, cam))),
                         "spearman_attention_occlusion": float(np.nanmean(rank_agreement(att, occ))),
                         "train_seconds": round(seconds, 1)}
                results.append(entry)
                rows.append({"attention": attention, "seed": str(seed), "kind": kind, "at-risk n": str(len(x)),
                             "prec@2 attention": f"{prec['attention']:.2f}", "hit attention": f"{hit:.2f}",
                             "prec@2 Grad-CAM": f"{prec['gradcam']:.2f}",
                             "prec@2 occlusion": f"{prec['occlusion']:.2f}",
                             "max sd share": f"{entry['max_sd_share']:.3f}",
                             "rho att-GradCAM": f"{entry['spearman_attention_gradcam']:.2f}",
                             "rho att-occl.": f"{entry['spearman_attention_occlusion']:.2f}"})
                print(table(rows[-1:], COLUMNS).splitlines()[-1], file=sys.stderr, flush=True)
    print(table(rows, COLUMNS))
    save_json(results, Path(args.out))
    print(f"\nfull results: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
