"""``python -m core_pruning train-prune``: train a model while pruning it, remove the channels, save it.

Writes to ``--out``: ``model.pt`` (plan + weights; load with ``core_pruning.load_pruned``), ``plan.json``,
``report.json`` and ``checkpoints/``, the run folder (:class:`prunelab.runs.RunDir`): ``config.json``,
``log.jsonl`` and the checkpoints of both phases, ``train.pt`` and ``finetune.pt``. ``--resume`` continues
from them exactly; it refuses a folder whose run had other settings (only ``--device``, ``--threads`` and
``--no-progress`` may change). Runs unchanged under ``torchrun``.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

import torch

from core_pruning.datasets import DATASETS, load_dataset
from core_pruning.models import MODELS, build_model
from core_pruning.plan import save_pruned
from core_pruning.training import distributed
from core_pruning.training.base import check_fraction
from core_pruning.training.cac import dcph_target_flops
from core_pruning.training.pipeline import METHODS, method_options, open_run, train_prune
from prunelab.cli import print_json
from prunelab.errors import InputError
from prunelab.io import atomic_write_text, check_output_path
from prunelab.seed import seed_everything

EPILOG = """examples:
  python -m core_pruning train-prune --method sfp --model resnet20 --data mnist5k --target-flops 0.5 \
      --epochs 10 --out runs/sfp
  python -m core_pruning train-prune --method ghfp --option mode=freeze --option schedule=asymptotic ... --out runs/ghfp
  python -m core_pruning train-prune --method cac --dcph --model resnet20 --data digits --epochs 8 --out runs/dcph
  python -m core_pruning train-prune --method dais --finetune-epochs 2 ... --out runs/dais --json
  torchrun --nproc_per_node 4 -m core_pruning train-prune ...   (DDP; --batch-size is the global batch)"""


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, help="train a model while pruning it (SFP, HFP, GHFP, CAC/DCPH, DAIS)",
                                   description=__doc__, epilog=EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", required=True, help=f"one of {', '.join(METHODS)}")
    parser.add_argument("--model", required=True, help=f"one of {', '.join(MODELS)}")
    parser.add_argument("--data", required=True, help=f"one of {', '.join(DATASETS)}")
    parser.add_argument("--target-flops", type=float, default=0.5, help="fraction of FLOPs to keep (default 0.5)")
    parser.add_argument("--epochs", type=int, required=True, help="training-with-pruning epochs")
    parser.add_argument("--finetune-epochs", type=int, default=0, help="epochs after physical removal (default 0)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--dcph", action="store_true",
                        help="CAC only: build the model at 2x width and prune it back to the baseline's FLOPs")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--finetune-lr", type=float, default=None, help="default: --lr / 10")
    parser.add_argument("--batch-size", type=int, default=64, help="global batch size (split over DDP processes)")
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:1, ...")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads per process (default: torch's choice)")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="method option, repeatable (e.g. schedule=asymptotic, criterion=accuracy)")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoints in --out")
    parser.add_argument("--force", action="store_true", help="overwrite an existing --out folder")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)
    return parser


def _parse_option(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise InputError(f"--option must look like KEY=VALUE, got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.replace("-", "_"), value


def _validate(args: argparse.Namespace) -> dict[str, Any]:
    if args.method not in METHODS:
        raise InputError(f"unknown method {args.method!r}; choose from {', '.join(METHODS)}")
    if args.model not in MODELS:
        raise InputError(f"unknown model {args.model!r}; choose from {', '.join(MODELS)}")
    if args.data not in DATASETS:
        raise InputError(f"unknown data set {args.data!r}; choose from {', '.join(DATASETS)}")
    check_fraction(args.target_flops, "--target-flops")
    if args.epochs < 1 or args.finetune_epochs < 0:
        raise InputError("--epochs must be >= 1 and --finetune-epochs >= 0")
    if args.threads is not None and args.threads < 1:
        raise InputError(f"--threads must be >= 1, got {args.threads}")
    if args.dcph and args.method != "cac":
        raise InputError("--dcph is the CAC recipe: use it with --method cac")
    options = dict(_parse_option(o) for o in args.option)
    accepted = method_options(args.method)
    for key in options:
        if key not in accepted:
            raise InputError(f"method {args.method!r} has no option {key!r}; options: {', '.join(accepted)}")
    return options


def _settings(args: argparse.Namespace, options: dict[str, Any]) -> dict[str, Any]:
    """What ``config.json`` records, and ``--resume`` checks (device, threads and progress may change)."""
    return {"method": args.method, "model": args.model, "data": args.data, "target_flops": args.target_flops,
            "dcph": args.dcph, "options": options, "epochs": args.epochs, "finetune_epochs": args.finetune_epochs,
            "lr": args.lr, "finetune_lr": args.finetune_lr or args.lr / 10, "batch_size": args.batch_size,
            "weight_decay": args.weight_decay, "seed": args.seed, "device": args.device, "threads": args.threads,
            "progress": not args.no_progress}


def run(args: argparse.Namespace) -> int:
    options = _validate(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    info, _ = distributed.setup(args.device)  # under torchrun: join the process group before anything is written
    if args.resume:
        out.mkdir(parents=True, exist_ok=True)
    else:
        check_output_path(out, force=args.force)
        if args.force and info.is_main:
            shutil.rmtree(out / "checkpoints", ignore_errors=True)  # never resume a run we were told to replace
        out.mkdir(parents=True, exist_ok=True)
    distributed.barrier()
    run_dir = open_run(out / "checkpoints", _settings(args, options), option="out")

    data = load_dataset(args.data, seed=args.seed)
    example = data.example_input

    def build(width: float):
        return build_model(args.model, num_classes=data.num_classes, in_channels=data.in_channels, width=width)

    target = args.target_flops
    seed_everything(args.seed)
    if args.dcph:
        target = dcph_target_flops(build, example)
        options.setdefault("tolerance", 0.02 * target)  # within 2% of the baseline's FLOPs, not of the 2x network's
        seed_everything(args.seed)
    model = build(2.0 if args.dcph else 1.0)
    train_options = {"lr": args.lr, "batch_size": args.batch_size, "weight_decay": args.weight_decay,
                     "seed": args.seed, "device": args.device, "progress": not args.no_progress}
    result = train_prune(args.method, model, data.train, data.test, example, target_flops=target, epochs=args.epochs,
                         finetune_epochs=args.finetune_epochs, method_options=options, train_options=train_options,
                         finetune_options={"lr": args.finetune_lr or args.lr / 10}, run_dir=run_dir)
    report = {**result.report, "model": args.model, "data": args.data, "dcph": args.dcph, "seed": args.seed,
              "history": result.history, "finetune_history": result.finetune_history}
    if info.is_main:
        save_pruned(result.model.cpu(), result.plan, out / "model.pt")
        result.plan.save(out / "plan.json")
        atomic_write_text(json.dumps(report, indent=1), out / "report.json")
        if args.json:
            print_json(report)
        else:
            print(f"{args.method}: FLOPs {report['flops_ratio']:.1%} of the original "
                  f"({report['flops_after']:,} MACs), params {report['params_ratio']:.1%}, "
                  f"accuracy {report['final_accuracy']:.2%}; wrote {out}/model.pt, plan.json, report.json")
    return 0
