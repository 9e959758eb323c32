"""Reproduce the shipped default CP model: ``weights/cp_attention.pt`` and its card ``weights/cp_attention.json``.

Generates the synthetic training and held-out test sets, trains the joint-attention model with stratified
5-fold cross-validation (for calibration and the uncertainty band) plus a final model on all training
infants, evaluates it on the held-out set, and writes the weights and a JSON card (data, commands, seed,
metrics). Research use only — not a diagnostic device.

    python benchmarks/cp_make_default_weights.py --work runs/cp_default [--force]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TRAIN = ["--n", "600", "--seed", "1"]
TEST = ["--n", "400", "--seed", "2"]
TRAIN_ARGS = ["--model", "attention", "--cv", "kfold", "--folds", "5", "--epochs", "30", "--seed", "0"]


def run(args: list[str]) -> None:
    print("$ python -m cp_predict " + " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "cp_predict", *args], check=True, cwd=REPO)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="runs/cp_default", help="folder for the generated data and the run")
    parser.add_argument("--weights", default=str(REPO / "weights"), help="where to write cp_attention.pt/.json")
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    force = ["--force"] if args.force else []
    commands = [
        ["simulate", *TRAIN, "--out", str(work / "gen_train.npz"), *force],
        ["simulate", *TEST, "--out", str(work / "gen_test.npz"), *force],
        ["train", "--data", str(work / "gen_train.npz"), "--test", str(work / "gen_test.npz"),
         "--out", str(work / "model"), *TRAIN_ARGS, *force],
    ]
    started = time.time()
    for command in commands:
        run(command)
    card = json.loads((work / "model" / "card.json").read_text())
    card["trained_on"] = ("synthetic infants from the cp_predict generator only (no real infant data); "
                          "calibrated against MINI-RGBD summary statistics")
    card["commands"] = ["python -m cp_predict " + " ".join(c) for c in commands]
    card["reproduce"] = "python benchmarks/cp_make_default_weights.py --work runs/cp_default --force"
    card["wall_seconds"] = round(time.time() - started, 1)
    card["machine"] = f"{platform.platform()}, {platform.processor() or platform.machine()}"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO)
    card["code_commit"] = commit.stdout.strip() or "unknown"
    card["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started))
    out = Path(args.weights)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(work / "model" / "model.pt", out / "cp_attention.pt")
    (out / "cp_attention.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {out / 'cp_attention.pt'} and {out / 'cp_attention.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
