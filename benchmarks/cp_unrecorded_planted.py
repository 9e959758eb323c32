"""One-sided planted joints that the file does NOT record, scored from the CLI's own ``train`` and ``predict --json``.

Two steps around the ordinary CLI (so nothing in cp_predict can see the planted joints):

    python benchmarks/cp_unrecorded_planted.py make 400 21 r_elbow,r_wrist,r_ankle /tmp/cp/train.npz
    python benchmarks/cp_unrecorded_planted.py make 200 22 r_elbow,r_wrist,r_ankle /tmp/cp/test.npz
    python -m cp_predict train --data /tmp/cp/train.npz --out /tmp/cp/model --json > /tmp/cp/train.json
    python -m cp_predict predict --model /tmp/cp/model --input /tmp/cp/test.npz --json --no-map > /tmp/cp/pred.json
    python benchmarks/cp_unrecorded_planted.py score /tmp/cp/pred.json /tmp/cp/test.npz r_elbow,r_wrist,r_ankle

``make`` writes generated infants with the planted list, the generator settings and the pattern names removed;
``score`` prints the test AUC of the predicted probabilities, the planted-joint precision@k of the at-risk infants'
mean ``joint_importance`` and its mean per at-risk infant (k = number of planted joints), the same for
``joint_occlusion``, and the coverage of the 90 % interval.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from cp_predict.explain import precision_at_k
from cp_predict.formats import read_npz, save_npz
from cp_predict.interval import coverage
from cp_predict.metrics import auc_score
from cp_predict.simulate import GeneratorConfig, generate
from cp_predict.skeleton import JOINT_NAMES


def make(n: int, seed: int, planted: str, out: str) -> None:
    data = generate(GeneratorConfig(n=n, seed=seed, planted_joints=tuple(planted.split(","))))
    for key in ("planted_joints", "generator", "pattern", "affected_side"):
        data.meta.pop(key, None)
    save_npz(data, out)


def score(pred_json: str, data_npz: str, planted: str) -> None:
    joints = planted.split(",")
    data = read_npz(data_npz)
    preds = json.loads(open(pred_json).read())["predictions"]
    assert [p["name"] for p in preds] == data.names
    assessable = np.array([p["probability"] is not None for p in preds])
    y = data.labels[assessable]
    kept = [p for p in preds if p["probability"] is not None]
    print(f"infants: {len(preds)} ({int((~assessable).sum())} not assessable); planted (not in the file): {planted}")
    print(f"test AUC: {auc_score(y, np.array([p['probability'] for p in kept])):.3f}")
    for key in ("joint_importance", "joint_occlusion"):
        imp = np.array([[p[key][j] for j in JOINT_NAMES] for p in kept])[y == 1]
        top = [JOINT_NAMES[i] for i in np.argsort(-imp.mean(axis=0))[:len(joints)]]
        per = np.mean([precision_at_k(row, joints) for row in imp])
        print(f"{key}: precision@{len(joints)} of the at-risk mean {precision_at_k(imp.mean(axis=0), joints):.2f} "
              f"(top: {', '.join(top)}), mean per at-risk infant {per:.2f}")
    print(f"90% interval coverage: {coverage(y, np.array([p['interval'] for p in kept])):.3f}")


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "make":
        make(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5])
    elif len(sys.argv) == 5 and sys.argv[1] == "score":
        score(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
