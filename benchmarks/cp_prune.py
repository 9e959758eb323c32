"""Pruning the shipped attention model with core_pruning (CPMC): accuracy and CPU latency before/after.

Prunes ``weights/cp_attention.pt`` to each FLOPs budget, optionally fine-tunes on the generated training set
(the one the model was trained on), and evaluates on the generated held-out set. Latency: medians of one
forward pass on a 300-frame sequence, alternating unpruned and pruned model in the same process
(``core_common.latency_ratio``): wall clock with 1 and 2 threads, and the calling thread's CPU time with
1 thread (the compute itself, much less disturbed when other jobs share the machine).

    python benchmarks/cp_prune.py [--targets 0.5,0.4] [--fine-tune-epochs 5] [--work runs/cp_bench]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
from core_common import latency_ratio
from cp_common import cell, generated, header, save_json, table

from cp_predict.predictor import load_model, save_model
from cp_predict.pruning import LogitOnly, prune_trained
from cp_predict.training import evaluate
from prunelab.errors import InputError

CPU_COLUMN = "CPU ms, 1 thr (unpruned -> pruned)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="0.5,0.4")
    parser.add_argument("--fine-tune-epochs", type=int, default=5)
    parser.add_argument("--work", default="runs/cp_bench")
    parser.add_argument("--save", action="store_true", help="save the pruned models under --work")
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    work = Path(args.work)
    train_set, test_set = generated(work, 600, 1), generated(work, 400, 2)
    base = load_model()
    print(header("cp_predict: pruning the attention model with core_pruning (CPMC)"))
    results = {"unpruned": evaluate(base, test_set)["metrics"]}
    unpruned = results["unpruned"]
    rows = [{"model": "shipped attention", "FLOPs": f"{base_flops(base):,}", "params": f"{params(base):,}",
             "test AUC": cell(unpruned["auc"], 3), "test accuracy": cell(unpruned["accuracy"], 3)}]
    x = torch.randn(1, 2, 300, 18)
    for target in (float(t) for t in args.targets.split(",")):
        for epochs in sorted({0, args.fine_tune_epochs}):
            try:
                pruned, report = prune_trained(base, target, train_set if epochs else None, epochs)
            except InputError as exc:  # e.g. a budget below what the per-layer floors allow
                rows.append({"model": f"pruned to {target:.0%} FLOPs", "FLOPs": f"not reachable: {exc}"})
                break
            torch.set_num_threads(1)
            metrics = evaluate(pruned, test_set)["metrics"]
            one = latency_ratio(LogitOnly(base.final.net), LogitOnly(pruned.final.net), x, repeats=args.repeats)
            torch.set_num_threads(2)
            two = latency_ratio(LogitOnly(base.final.net), LogitOnly(pruned.final.net), x, repeats=args.repeats)
            torch.set_num_threads(1)
            label = f"pruned to {target:.0%} FLOPs" + (f" + {epochs} fine-tune epochs" if epochs else "")
            results[label] = {"report": report, "metrics": metrics, "latency_1_thread": one, "latency_2_threads": two}
            rows.append({"model": label, "FLOPs": f"{report['flops_after']:,}", "params": f"{report['params_after']:,}",
                         "test AUC": cell(metrics["auc"], 3), "test accuracy": cell(metrics["accuracy"], 3),
                         CPU_COLUMN: f"{one['base_cpu_ms']:.2f} -> {one['pruned_cpu_ms']:.2f}",
                         "wall ms, 1 thr": f"{one['base_ms']:.2f} -> {one['pruned_ms']:.2f}",
                         "wall ms, 2 thr": f"{two['base_ms']:.2f} -> {two['pruned_ms']:.2f}"})
            if args.save:
                save_model(pruned, work / f"pruned_{int(100 * target)}_{epochs}")
    print("held-out: 400 generated infants (seed 2); fine-tuning on the 600 training infants (seed 1)\n")
    columns = list(rows[0]) + [CPU_COLUMN, "wall ms, 1 thr", "wall ms, 2 thr"]
    print(table(rows, columns))
    print(f"\nload average while measuring: {' / '.join(f'{v:.1f}' for v in os.getloadavg())} (1/5/15 min)")
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
