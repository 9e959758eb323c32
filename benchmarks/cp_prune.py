"""Pruning the shipped attention model with core_pruning (CPMC): accuracy and CPU latency before/after.

Prunes ``weights/cp_attention.pt`` to each FLOPs budget, optionally fine-tunes on the generated training set
(the one the model was trained on), and evaluates on the generated held-out set. Latency: median of one
forward pass on a 300-frame sequence, 1 and 2 threads, alternating models within the same process.

    python benchmarks/cp_prune.py [--targets 0.5,0.3] [--fine-tune-epochs 5] [--work runs/cp_bench]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from cp_common import cell, generated, header, save_json, table

from cp_predict.predictor import load_model, save_model
from cp_predict.pruning import latency_ms, prune_trained
from cp_predict.training import evaluate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="0.5,0.3")
    parser.add_argument("--fine-tune-epochs", type=int, default=5)
    parser.add_argument("--work", default="runs/cp_bench")
    parser.add_argument("--save", action="store_true", help="save the pruned models under --work")
    args = parser.parse_args()
    torch.set_num_threads(1)
    work = Path(args.work)
    train_set, test_set = generated(work, 600, 1), generated(work, 400, 2)
    base = load_model()
    print(header("cp_predict: pruning the attention model with core_pruning (CPMC)"))
    results = {"unpruned": evaluate(base, test_set)["metrics"]}
    rows = [{"model": "shipped attention", "FLOPs": f"{base_flops(base):,}", "params": f"{params(base):,}",
             "test AUC": cell(results["unpruned"]["auc"], 3), "test accuracy": cell(results["unpruned"]["accuracy"], 3),
             "ms (1 thr)": f"{latency_ms(base.final, threads=1):.2f}",
             "ms (2 thr)": f"{latency_ms(base.final, threads=2):.2f}"}]
    for target in (float(t) for t in args.targets.split(",")):
        for epochs in sorted({0, args.fine_tune_epochs}):
            pruned, report = prune_trained(base, target, train_set if epochs else None, epochs)
            torch.set_num_threads(1)
            metrics = evaluate(pruned, test_set)["metrics"]
            label = f"pruned to {target:.0%} FLOPs" + (f" + {epochs} fine-tune epochs" if epochs else "")
            results[label] = {"report": report, "metrics": metrics}
            rows.append({"model": label, "FLOPs": f"{report['flops_after']:,}", "params": f"{report['params_after']:,}",
                         "test AUC": cell(metrics["auc"], 3), "test accuracy": cell(metrics["accuracy"], 3),
                         "ms (1 thr)": f"{latency_ms(pruned.final, threads=1):.2f}",
                         "ms (2 thr)": f"{latency_ms(pruned.final, threads=2):.2f}"})
            if args.save:
                save_model(pruned, work / f"pruned_{int(100 * target)}_{epochs}")
    print("held-out: 400 generated infants (seed 2); fine-tuning on the 600 training infants (seed 1)\n")
    print(table(rows, list(rows[0])))
    save_json(results, work / "prune.json")
    return 0


def base_flops(model) -> int:
    from core_pruning import count_flops_params
    from cp_predict.pruning import LogitOnly, example_input

    return count_flops_params(LogitOnly(model.final.net), example_input(model.final))[0]


def params(model) -> int:
    return sum(p.numel() for p in model.final.net.parameters())


if __name__ == "__main__":
    sys.exit(main())
