"""Criteria benchmark on MNIST-5k: prune a trained CIFAR-style ResNet-20 to 50% and 33% FLOPs, fine-tune, compare.

Protocol (issue 3):
1. For each seed ``s``, train ResNet-20 (1 input channel) on the fixed MNIST-5k split
   (``load_dataset("mnist5k", seed=0)``: 4,000 train / 1,000 test) with ``core_pruning.train`` and seed ``s``;
   cached in ``--out``/base_s.pt. One base model per seed: which channels a criterion removes depends on the
   trained weights, so the spread over seeds includes the spread of the pruned structure, not only of the
   fine-tuning (with one shared base model, one lucky or unlucky structure decides a whole row).
2. For every criterion and FLOPs target, for each seed: copy that seed's trained model, prune it with
   ``core_pruning.prune(..., target_flops=t)``, fine-tune it for the same ``--finetune-epochs`` with
   ``core_pruning.train`` (seeded data order), and measure test accuracy, achieved FLOPs/params and
   CPU latency at batch 64 against the unpruned model (alternating medians in this process; the thread
   CPU time is the robust figure on a shared machine, the wall clock is printed beside it).
   The seed also seeds ``random`` and picks the calibration batches of the Taylor criteria.
3. Torch-Pruning's own importances run in the same loop: ``tp_magnitude`` / ``tp_taylor`` are
   ``GroupMagnitudeImportance(p=2)`` / ``GroupTaylorImportance()`` scored by Torch-Pruning on the same
   dependency groups and ranked by our FLOPs-budget engine (so FLOPs are equal by construction);
   ``tp_magnitude_native`` is Torch-Pruning's own pipeline (``MetaPruner(global_pruning=True)`` with the
   channel ratio bisected until the FLOPs reach the target), i.e. Torch-Pruning as its users run it.
4. ``none`` is the unpruned model fine-tuned the same epochs: the fair reference for accuracy drops.
5. Hardware-aware rows (``VARIANTS``): ``cpmc`` and ``tp_magnitude`` with kept channel counts rounded to
   multiples of 16, and ``cpmc`` with measured latency as its cost term, all at the same FLOPs targets.

Results are appended to ``--out``/results.json after every run, so an interrupted run resumes.
Run: ``python benchmarks/core_criteria_mnist.py`` (about 1 h on one CPU core with the defaults; seeds can run
in separate processes with their own ``--out``; ``--merge A,B,...`` then copies their bases, models and results
into ``--out`` -- results are keyed by criterion, target and seed -- and the run goes on from there).
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import sys
import time
from pathlib import Path

import torch
import torch_pruning as tp
from core_common import REPO, header, latency_ratio, mean_std, save_json, table

import core_pruning as cp
from core_pruning.criteria import Criterion, ScoringContext
from core_pruning.criteria.taylor import Taylor
from core_pruning.datasets import load_dataset
from core_pruning.errors import UnreachableTarget
from core_pruning.groups import ChannelGroup
from core_pruning.models import build_model
from core_pruning.training import evaluate
from prunelab.io import atomic_save

OURS = ["l1", "l2", "fpgm", "bn_scale", "taylor", "cpmc", "random"]
TORCH_PRUNING = ["tp_magnitude", "tp_taylor", "tp_magnitude_native"]
#: Hardware-aware rows: a criterion with extra ``prune`` options. ``_r16`` keeps every channel count a multiple of
#: 16 (one AVX-512 vector of float32: on 7x7-14x14 maps a convolution costs the same for every width inside a
#: block of 16); ``cpmc_latency`` ranks with measured layer latency at batch 64 instead of FLOPs as its cost.
VARIANTS = {"cpmc_r16": ("cpmc", {"round_to": 16}), "tp_magnitude_r16": ("tp_magnitude", {"round_to": 16}),
            "cpmc_latency": ("cpmc", {"cost": "latency", "latency_batch_size": 64}),
            # the per-layer floor before min_kept_fraction=0.1 became the default: one channel per layer
            "cpmc_floor0": ("cpmc", {"min_kept_fraction": 0.0}), "l1_floor0": ("l1", {"min_kept_fraction": 0.0})}
DATA_DRIVEN = {"taylor", "tp_taylor"}


class TorchPruningImportance(Criterion):
    """A Torch-Pruning ``Importance`` scored on our groups, so our FLOPs-budget engine can rank with it.

    ``gradients=True`` computes dL/dw on the calibration batches first (what ``GroupTaylorImportance``
    reads), with the same procedure as our ``taylor`` criterion.
    """

    default_normalization = "none"  # Torch-Pruning's importances normalise themselves ('mean' normalizer)

    def __init__(self, name: str, importance: tp.importance.Importance, gradients: bool = False) -> None:
        super().__init__()
        self.name, self.importance, self.needs_data = name, importance, gradients
        self._gradients = Taylor() if gradients else None

    def prepare(self, ctx: ScoringContext) -> None:
        super().prepare(ctx)
        if self._gradients is not None:
            self._gradients.prepare(ctx)

    def score(self, group: ChannelGroup, ctx: ScoringContext) -> torch.Tensor:
        scores = self.importance(group.tp_group)
        if scores is None:
            raise RuntimeError(f"Torch-Pruning could not score group {group.root_name}")
        return scores.detach().double().cpu()


def prune_torch_pruning_native(model: torch.nn.Module, x: torch.Tensor, target: float) -> torch.nn.Module:
    """Torch-Pruning's global magnitude pruning, channel ratio bisected to ``target`` of the FLOPs."""
    flops0 = cp.count_flops_params(model, x)[0]
    lo, hi, best = 0.0, 0.95, None
    for _ in range(25):
        ratio = (lo + hi) / 2
        trial = copy.deepcopy(model)
        pruner = tp.pruner.MetaPruner(trial, x, importance=tp.importance.GroupMagnitudeImportance(p=2),
                                      global_pruning=True, pruning_ratio=ratio, ignored_layers=[trial.fc])
        pruner.step()
        kept = cp.count_flops_params(trial, x)[0] / flops0
        if best is None or abs(kept - target) < abs(best[0] - target):
            best = (kept, trial)
        if abs(kept - target) <= 0.005:
            break
        lo, hi = (ratio, hi) if kept > target else (lo, ratio)
    return best[1]


def calibration(data, seed: int, batches: int = 4, batch_size: int = 64) -> list[tuple[torch.Tensor, torch.Tensor]]:
    gen = torch.Generator().manual_seed(1000 + seed)
    idx = torch.randperm(len(data.train), generator=gen)[: batches * batch_size]
    x, y = data.train.tensors[0][idx], data.train.tensors[1][idx]
    return [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(idx), batch_size)]


def prune_with(name: str, model: torch.nn.Module, x: torch.Tensor, target: float, seed: int, data):
    """Prune ``model`` with criterion ``name``; returns the pruned model (the same object unless native TP)."""
    if name == "tp_magnitude_native":
        return prune_torch_pruning_native(model, x, target)
    name, options = VARIANTS.get(name, (name, {}))
    if name == "tp_magnitude":
        criterion = TorchPruningImportance(name, tp.importance.GroupMagnitudeImportance(p=2))
    elif name == "tp_taylor":
        criterion = TorchPruningImportance(name, tp.importance.GroupTaylorImportance(), gradients=True)
    else:
        criterion = name
    options = {**options, "seed": seed} if name == "random" else options
    calib = calibration(data, seed) if name in DATA_DRIVEN else None
    cp.prune(model, x, criterion=criterion, target_flops=target, calib_data=calib, **options)
    return model


def train_base(data, args, path: Path, seed: int) -> torch.nn.Module:
    model = build_model("resnet20", num_classes=10, in_channels=1)
    if path.is_file():
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        return model.eval()
    print(f"training the base ResNet-20 (seed {seed}) for {args.base_epochs} epochs ...", flush=True)
    start = time.perf_counter()
    result = cp.train(model, data.train, None, epochs=args.base_epochs, lr=0.1, batch_size=64, weight_decay=5e-4,
                      seed=seed, progress=False, steps_per_epoch=args.steps_per_epoch)
    acc = evaluate(model, data.test)["accuracy"]
    atomic_save(model.state_dict(), path)
    card = {"data": "mnist5k (load_dataset seed 0: 4000 train / 1000 test)", "model": "resnet20, in_channels=1",
            "epochs": args.base_epochs, "lr": 0.1, "batch_size": 64, "weight_decay": 5e-4, "seed": seed,
            "test_accuracy": acc, "final_train_loss": result.final.get("train_loss"),
            "seconds": time.perf_counter() - start, "command": " ".join(sys.argv)}
    path.with_suffix(".json").write_text(json.dumps(card, indent=1))
    return model.eval()


def model_file(out: Path, name: str, target: float, seed: int) -> Path:
    return out / "models" / f"{name}_{target:g}_{seed}.pt"


def run_one(name: str, target: float, seed: int, base: torch.nn.Module, data, args) -> dict:
    x = data.example_input
    model = copy.deepcopy(base)
    start = time.perf_counter()
    model = model if name == "none" else prune_with(name, model, x, target, seed, data)
    prune_seconds = time.perf_counter() - start
    flops0, params0 = cp.count_flops_params(base, x)
    flops, params = cp.count_flops_params(model, x)
    start = time.perf_counter()
    cp.train(model, data.train, None, epochs=args.finetune_epochs, lr=args.finetune_lr, batch_size=64,
             weight_decay=5e-4, seed=seed, progress=False, steps_per_epoch=args.steps_per_epoch)
    finetune_seconds = time.perf_counter() - start
    acc = evaluate(model, data.test)["accuracy"]
    atomic_save(model, model_file(Path(args.out), name, target, seed))  # whole module: --remeasure-latency reloads it
    batch = data.test.tensors[0][:64]
    latency = latency_ratio(base, model, batch, repeats=args.latency_repeats)
    return {"criterion": name, "target": target, "seed": seed, "accuracy": acc, "flops": flops, "params": params,
            "flops_ratio": flops / flops0, "params_ratio": params / params0, **latency,
            "prune_seconds": prune_seconds, "finetune_seconds": finetune_seconds}


def remeasure_latency(results: list[dict], bases: dict[int, torch.nn.Module], data, args) -> None:
    """Measure every saved model again, each alternating with the base, ``--remeasure-latency`` repeats each.

    Latency depends only on the architecture; re-measuring all models in one quiet pass removes the load
    differences between runs hours apart on a shared machine.
    """
    from core_pruning.commands.model_source import safe_load

    batch = data.test.tensors[0][:64]
    for row in (r for r in results if r["seed"] in bases and "unreachable" not in r):
        model = safe_load(model_file(Path(args.out), row["criterion"], row["target"], row["seed"]))
        row.update(latency_ratio(bases[row["seed"]], model, batch, repeats=args.remeasure_latency))
        row["latency_repeats"] = args.remeasure_latency


def summarise(results: list[dict], base_acc: float, targets: list[float], names: list[str]) -> str:
    reference = [r["accuracy"] for r in results if r["criterion"] == "none"]
    ref_mean = mean_std(reference)[0] if reference else float("nan")
    out = []
    for target in targets:
        rows = []
        for name in ["none", *names]:
            runs = [r for r in results if r["criterion"] == name and (name == "none" or r["target"] == target)]
            if not runs:
                continue
            if any("unreachable" in r for r in runs):  # e.g. round_to=16 cannot prune ResNet-20's 16-wide stage
                rows.append({"criterion": name, "top-1 % (mean ± std)": "unreachable: " + runs[0]["unreachable"]
                             .split(": ", 1)[-1], "seeds": len(runs)})
                continue
            acc_m, acc_s = mean_std([100 * r["accuracy"] for r in runs])
            sp_m, sp_s = mean_std([r["speedup"] for r in runs])
            cpu_m, cpu_s = mean_std([r["cpu_speedup"] for r in runs])
            rows.append({
                "criterion": name,
                "top-1 % (mean ± std)": f"{acc_m:.2f} ± {acc_s:.2f}",
                "Δ vs fine-tuned unpruned": f"{acc_m - 100 * ref_mean:+.2f}",
                "FLOPs kept": f"{mean_std([r['flops_ratio'] for r in runs])[0]:.3f}",
                "params kept": f"{mean_std([r['params_ratio'] for r in runs])[0]:.3f}",
                "CPU ms (b=64)": f"{mean_std([r['pruned_cpu_ms'] for r in runs])[0]:.1f}",
                "speed-up (CPU time)": f"{cpu_m:.2f}x ± {cpu_s:.2f}",
                "speed-up (wall)": f"{sp_m:.2f}x ± {sp_s:.2f}",
                "seeds": len(runs),
            })
        out.append(f"### target {target:.0%} FLOPs (unpruned base models: {100 * base_acc:.2f}% top-1, mean)\n"
                   + table(rows, list(rows[0]) if rows else ["criterion"]))
    return "\n\n".join(out)


def merge_runs(sources: list[Path], out: Path) -> None:
    """Copy base models, pruned models and results of other ``--out`` folders into ``out`` (first row wins)."""
    results_path = out / "results.json"
    results: list[dict] = json.loads(results_path.read_text()) if results_path.is_file() else []
    done = {(r["criterion"], r["target"], r["seed"]) for r in results}
    (out / "models").mkdir(parents=True, exist_ok=True)
    for source in sources:
        if source.resolve() == out.resolve():
            continue  # already there
        if not (source / "results.json").is_file():
            raise SystemExit(f"error: {source} holds no results.json to merge")
        for path in [*source.glob("base_*"), *(source / "models").glob("*.pt")]:
            shutil.copy2(path, out / path.relative_to(source))
        for row in json.loads((source / "results.json").read_text()):
            if (row["criterion"], row["target"], row["seed"]) not in done:
                done.add((row["criterion"], row["target"], row["seed"]))
                results.append(row)
    save_json(results, results_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--criteria", default=",".join(OURS + TORCH_PRUNING + list(VARIANTS)))
    parser.add_argument("--targets", default="0.5,0.33", help="FLOPs fractions to keep")
    parser.add_argument("--seeds", default="0,1,2,3,4",
                        help="one base model per seed (5 seeds: a model's binomial error on 1,000 digits: ~0.5 points)")
    parser.add_argument("--base-epochs", type=int, default=10)
    parser.add_argument("--finetune-epochs", type=int, default=3)
    parser.add_argument("--finetune-lr", type=float, default=0.01)
    parser.add_argument("--steps-per-epoch", type=int, default=None, help="cap batches per epoch (smoke tests)")
    parser.add_argument("--latency-repeats", type=int, default=15)
    parser.add_argument("--remeasure-latency", type=int, default=0, metavar="N",
                        help="after the runs, measure all saved models again with N repeats each")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--merge", default="", metavar="DIRS",
                        help="comma-separated --out folders of earlier (e.g. per-seed) runs to merge into --out first")
    parser.add_argument("--out", default=str(REPO / "runs" / "core_criteria_mnist"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = [n for n in args.criteria.split(",") if n]
    unknown = [n for n in names if n not in OURS + TORCH_PRUNING + list(VARIANTS) and n not in cp.CRITERIA]
    if unknown:
        parser.error(f"unknown criterion {unknown[0]!r}")
    targets = [float(t) for t in args.targets.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    if args.merge:
        merge_runs([Path(d) for d in args.merge.split(",") if d], out)
    data = load_dataset("mnist5k", seed=0)
    bases = {seed: train_base(data, args, out / f"base_{seed}.pt", seed) for seed in seeds}
    base_accs = [evaluate(b, data.test)["accuracy"] for b in bases.values()]
    base_acc = mean_std(base_accs)[0]
    print("base ResNet-20s: " + ", ".join(f"seed {s} {100 * a:.2f}%" for s, a in zip(bases, base_accs))
          + " top-1 on the 1000 test digits", flush=True)

    results_path = out / "results.json"
    results: list[dict] = json.loads(results_path.read_text()) if results_path.is_file() else []
    done = {(r["criterion"], r["target"], r["seed"]) for r in results}
    jobs = [("none", 1.0, s) for s in seeds] + [(n, t, s) for t in targets for n in names for s in seeds]
    for name, target, seed in jobs:
        if (name, target, seed) in done:
            continue
        try:
            row = run_one(name, target, seed, bases[seed], data, args)
        except UnreachableTarget as exc:  # the per-layer floors stop short of the target: a result, not a crash
            row = {"criterion": name, "target": target, "seed": seed, "unreachable": str(exc)}
        results.append(row)
        save_json(results, results_path)
        if "unreachable" in row:
            print(f"{name:<20} target {target:.2f} seed {seed}: {row['unreachable']}", flush=True)
            continue
        print(f"{name:<20} target {target:.2f} seed {seed}: acc {100 * row['accuracy']:.2f}% "
              f"flops {row['flops_ratio']:.3f} speed-up {row.get('cpu_speedup', row['speedup']):.2f}x "
              f"(prune {row['prune_seconds']:.1f}s, fine-tune {row['finetune_seconds']:.0f}s)", flush=True)

    if args.remeasure_latency:
        remeasure_latency(results, bases, data, args)
        save_json(results, results_path)
    print()
    print(header("Pruning criteria on MNIST-5k ResNet-20: one-shot prune + fine-tune"))
    print(f"settings: one base model per seed, {args.base_epochs} epochs (lr 0.1, cosine), "
          f"fine-tune {args.finetune_epochs} epochs "
          f"(lr {args.finetune_lr}, cosine, batch 64, same for every row), seeds {seeds}, latency: medians "
          f"(thread CPU time and wall clock) of "
          f"{args.remeasure_latency or args.latency_repeats} alternating CPU forwards at batch 64, "
          f"{args.threads} thread(s)")
    print(summarise(results, base_acc, targets, names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
