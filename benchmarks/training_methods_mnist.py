"""Training-time pruning benchmark: SFP, HFP, GHFP, CAC, DAIS and one-shot CPMC at 50% FLOPs, plus DCPH.

Protocol (issue 4), same data and model as the one-shot benchmark (ResNet-20, 1 input channel, the fixed
MNIST-5k split ``load_dataset("mnist5k", seed=0)``: 4,000 train / 1,000 test):

- Equal epoch budget for every row: ``--epochs`` epochs of training with the method from scratch, then
  physical removal through the engine, then ``--finetune-epochs`` epochs of fine-tuning the smaller model.
  The one-shot row spends the same budget as ``--epochs`` epochs of plain training, ``core_pruning.prune``
  with ``criterion="cpmc"``, and the same fine-tuning.
- Each row is run with seeds 0, 1, 2 (model initialisation, data order, gates); accuracy is on the 1,000
  test images after fine-tuning, mean +- standard deviation over seeds.
- "epochs to X%": the first epoch (of the whole budget) whose test accuracy reaches ``--reach``; per epoch the
  accuracy is that of the network as it would be deployed then: the zeroed network for SFP/HFP/GHFP, the
  masked network for CAC, the continuous-indicator network for DAIS (binarised only at the end), the
  *unpruned* network during the one-shot row's pre-training (shown in the per-epoch column, not counted for
  "epochs to"). ``-`` when no seed reaches it; ``n (k/3)`` when only k seeds do (mean over those).
- ``sfp_bn`` / ``ghfp_bn``: SFP and GHFP scoring filters by their BatchNorm scale instead of the L2 norm of
  the conv weights (a BN network's output does not depend on a conv filter's scale; see docs/core_pruning.md).
- DCPH: ResNet-20 at 2x width trained with CAC and pruned to the FLOPs of the 1x network, against the 1x
  network trained directly for the same total epochs (no pruning).

Results are appended to ``--out``/results.json after every run, so an interrupted run resumes.
Run: ``python benchmarks/training_methods_mnist.py`` (about 1.5 h on 2 busy CPU cores with the defaults).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import core_common
import torch

import core_pruning as cp
from core_pruning.datasets import load_dataset
from core_pruning.models import build_model
from core_pruning.training import TrainConfig, Trainer, dcph_target_flops, evaluate, train_prune
from prunelab.io import atomic_write_text
from prunelab.seed import seed_everything

REPO = Path(__file__).resolve().parents[1]
METHODS = ["hfp", "sfp", "ghfp", "cac", "dais", "oneshot_cpmc", "sfp_bn", "ghfp_bn"]
VARIANTS = {  # extra rows: a method with non-default options
    "sfp_bn": ("sfp", {"criterion": "bn_scale"}),
    "ghfp_bn": ("ghfp", {"criterion": "bn_scale"}),
}


def machine() -> str:
    """core_common's machine line, with the GPU named when one is used."""
    gpu = f"; GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return core_common.machine() + gpu


def mean_std(values: list[float], scale: float = 100.0, digits: int = 2) -> str:
    if not values:
        return "-"
    mean = statistics.fmean(values) * scale
    std = statistics.stdev(values) * scale if len(values) > 1 else 0.0
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    out = ["| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths)) + " |",
           "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    return "\n".join(out + ["| " + " | ".join(v.ljust(w) for v, w in zip(r, widths)) + " |" for r in cells])


def curve(history: list[dict[str, float]]) -> list[float]:
    return [h["val_accuracy"] for h in history]


def run_method(method: str, seed: int, data, args) -> dict[str, Any]:
    x = data.example_input
    train_options = {"lr": args.lr, "batch_size": args.batch_size, "seed": seed, "progress": False}
    finetune = {"lr": args.finetune_lr}
    seed_everything(seed)
    model = build_model("resnet20", num_classes=10, in_channels=1)
    if method == "oneshot_cpmc":
        pre = Trainer(model, TrainConfig(**train_options, epochs=args.epochs)).fit(data.train, data.test).history
        result = cp.prune(model, x, criterion="cpmc", target_flops=args.target)
        ft_options = {**train_options, **finetune, "epochs": args.finetune_epochs}
        ft = Trainer(model, TrainConfig(**ft_options)).fit(data.train, data.test).history
        report = {**result.report, "final_accuracy": evaluate(model, data.test)["accuracy"],
                  "max_output_diff": None}  # one-shot pruning has no masked model to compare with
        return {"report": report, "curve": curve(pre) + curve(ft)}
    method, options = VARIANTS.get(method, (method, {}))
    result = train_prune(method, model, data.train, data.test, x, target_flops=args.target, epochs=args.epochs,
                         finetune_epochs=args.finetune_epochs, train_options=train_options, finetune_options=finetune,
                         method_options=options)
    return {"report": result.report, "curve": curve(result.history) + curve(result.finetune_history)}


def run_dcph(arm: str, seed: int, data, args) -> dict[str, Any]:
    x = data.example_input
    train_options = {"lr": args.lr, "batch_size": args.batch_size, "seed": seed, "progress": False}

    def build(width: float):
        return build_model("resnet20", num_classes=10, in_channels=1, width=width)

    if arm == "baseline_1x":
        seed_everything(seed)
        model = build(1.0)
        hist = Trainer(model, TrainConfig(**train_options, epochs=args.epochs + args.finetune_epochs)).fit(
            data.train, data.test).history
        flops, params = cp.count_flops_params(model, x)
        report = {"final_accuracy": hist[-1]["val_accuracy"], "flops_after": flops, "params_after": params,
                  "flops_ratio": 1.0}
        return {"report": report, "curve": curve(hist)}
    target = dcph_target_flops(build, x)
    seed_everything(seed)
    model = build(2.0)
    result = train_prune("cac", model, data.train, data.test, x, target_flops=target, epochs=args.epochs,
                         finetune_epochs=args.finetune_epochs, train_options=train_options,
                         finetune_options={"lr": args.finetune_lr},
                         method_options={"tolerance": 0.02 * target})  # within 2% of the 1x network's FLOPs
    return {"report": result.report, "curve": curve(result.history) + curve(result.finetune_history)}


def epochs_to(curve_: list[float], reach: float, skip: int = 0) -> int | None:
    return next((i + 1 for i, a in enumerate(curve_) if i >= skip and a >= reach), None)


def _max_diff(runs: list[dict[str, Any]]) -> str:
    diffs = [r["report"]["max_output_diff"] for r in runs if r["report"].get("max_output_diff") is not None]
    return f"{max(diffs):.1e}" if diffs else "n/a"


def summarize(results: dict[str, Any], args, base_flops: int) -> str:
    rows = []
    for method in METHODS:
        runs = [results[k] for k in sorted(results) if k.startswith(f"{method}/")]
        if not runs:
            continue
        skip = args.epochs if method == "oneshot_cpmc" else 0  # its pre-training epochs are not a pruned network
        hits = [epochs_to(r["curve"], args.reach, skip) for r in runs]
        reached = [h for h in hits if h is not None]
        curves = list(zip(*[r["curve"] for r in runs]))
        rows.append({
            "method": method,
            "seeds": len(runs),
            "accuracy % (mean ± std)": mean_std([r["report"]["final_accuracy"] for r in runs]),
            f"epochs to {args.reach:.0%}": (f"{statistics.fmean(reached):.1f}" if len(reached) == len(runs)
                                           else f"{statistics.fmean(reached):.1f} ({len(reached)}/{len(runs)})"
                                           if reached else "-"),
            "per-epoch accuracy % (mean)": " ".join(f"{100 * statistics.fmean(c):.1f}" for c in curves),
            "FLOPs kept %": mean_std([r["report"]["flops_ratio"] for r in runs]),
            "params kept %": mean_std([r["report"]["params_ratio"] for r in runs]),
            "max |Δ| masked vs pruned": _max_diff(runs),
            "wall s/run": f"{statistics.fmean(r['seconds'] for r in runs):.0f}",
        })
    out = [table(rows, list(rows[0])) if rows else "(no runs yet)"]
    dcph_rows = []
    for arm in ("baseline_1x", "dcph_2x_cac"):
        runs = [results[k] for k in sorted(results) if k.startswith(f"{arm}/")]
        if runs:
            dcph_rows.append({
                "arm": arm, "seeds": len(runs),
                "accuracy % (mean ± std)": mean_std([r["report"]["final_accuracy"] for r in runs]),
                "MACs": f"{statistics.fmean(r['report']['flops_after'] for r in runs):,.0f}",
                "vs 1x MACs": f"{statistics.fmean(r['report']['flops_after'] for r in runs) / base_flops:.3f}",
                "params": f"{statistics.fmean(r['report']['params_after'] for r in runs):,.0f}",
                "per-epoch accuracy % (mean)": " ".join(
                    f"{100 * statistics.fmean(c):.1f}" for c in zip(*[r["curve"] for r in runs])),
                "wall s/run": f"{statistics.fmean(r['seconds'] for r in runs):.0f}",
            })
    if dcph_rows:
        out += ["", "DCPH (2x width + CAC, pruned to the 1x network's FLOPs) vs the 1x network trained directly:",
                "", table(dcph_rows, list(dcph_rows[0]))]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs of training with the method (default 3)")
    parser.add_argument("--finetune-epochs", type=int, default=1, help="epochs after removal (default 1)")
    parser.add_argument("--target", type=float, default=0.5, help="fraction of FLOPs kept (default 0.5)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    parser.add_argument("--no-dcph", action="store_true", help="skip the DCPH comparison")
    parser.add_argument("--reach", type=float, default=0.95, help="accuracy for the epochs-to column")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--finetune-lr", type=float, default=0.01)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--data", default="mnist5k", choices=["mnist5k", "digits"])
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--out", default=str(REPO / "runs" / "training_methods_mnist"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    results: dict[str, Any] = json.loads(results_path.read_text()) if results_path.exists() else {}
    data = load_dataset(args.data, seed=0)
    base_flops, _ = cp.count_flops_params(build_model("resnet20", in_channels=1).eval(), data.example_input)
    command = "python " + " ".join([os.path.relpath(sys.argv[0], REPO), *sys.argv[1:]])
    jobs = [(m, s, run_method) for s in args.seeds for m in args.methods]
    if not args.no_dcph:
        jobs += [(arm, s, run_dcph) for s in args.seeds for arm in ("baseline_1x", "dcph_2x_cac")]
    for name, seed, fn in jobs:
        key = f"{name}/{seed}"
        if key in results:
            continue
        start = time.perf_counter()
        record = fn(name, seed, data, args)
        record["seconds"] = time.perf_counter() - start
        record["report"] = {k: v for k, v in record["report"].items() if k not in ("removed",)}
        results[key] = record
        atomic_write_text(json.dumps(results, indent=1), results_path)
        print(f"{key}: accuracy {record['report']['final_accuracy']:.4f}, FLOPs kept "
              f"{record['report'].get('flops_ratio', 1.0):.4f}, {record['seconds']:.0f}s", flush=True)
    print()
    print(f"## Training-time pruning at {args.target:.0%} FLOPs: ResNet-20 on {args.data}, "
          f"{args.epochs} epochs with the method + {args.finetune_epochs} fine-tuning, seeds {args.seeds}")
    print(f"command: {command}\nmachine: {machine()}\n"
          f"date: {dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}\n")
    print(summarize(results, args, base_flops))
    return 0


if __name__ == "__main__":
    sys.exit(main())
