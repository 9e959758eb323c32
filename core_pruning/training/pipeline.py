"""Train-and-prune in one call: a method on the shared loop, physical removal, optional fine-tuning.

``train_prune("sfp", model, data.train, data.test, example_inputs, target_flops=0.5, epochs=20)``:

1. trains ``model`` for ``epochs`` with the method as a callback (DAIS takes ``heldout_fraction`` of the
   training data as its held-out split for the indicator updates);
2. makes the masked network final and measures it (``masked_accuracy``);
3. removes the masked channels physically through the engine and checks that the smaller model's outputs
   equal the masked model's (``max_output_diff``, on a validation batch);
4. fine-tunes the smaller model for ``finetune_epochs`` (0 by default).

With ``run_dir`` the run lives in a :class:`prunelab.runs.RunDir` (:func:`open_run`): ``config.json`` (the
settings, checked when the folder is reused), ``log.jsonl`` (one record per epoch of either phase) and one
checkpoint per phase, ``train.pt`` and ``finetune.pt``. Calling again with the same folder resumes where the run
stopped (the removal is replayed deterministically from the training phase's final checkpoint).
"""

from __future__ import annotations

import inspect
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset, Subset

from core_pruning.plan import PruningPlan
from core_pruning.training.base import TrainingPruner
from core_pruning.training.cac import CAC
from core_pruning.training.callbacks import Callback
from core_pruning.training.dais import DAIS
from core_pruning.training.ghfp import GHFP
from core_pruning.training.hfp import HFP
from core_pruning.training.loop import TrainConfig, Trainer, evaluate
from core_pruning.training.sfp import SFP
from prunelab.errors import InputError
from prunelab.runs import RunDir

METHODS: dict[str, type[TrainingPruner]] = {"sfp": SFP, "hfp": HFP, "ghfp": GHFP, "cac": CAC, "dais": DAIS}
_COMMON = {"target_flops", "model", "example_inputs", "heldout", "self"}
#: The phases of a train-prune run, each with its checkpoint in the run folder (``train.pt``, ``finetune.pt``).
PHASES = ("train", "finetune")


@dataclass
class TrainPruneResult:
    """The pruned model, its plan, a report, and the per-epoch metrics of both phases."""

    model: nn.Module
    plan: PruningPlan
    report: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)
    finetune_history: list[dict[str, float]] = field(default_factory=list)


def method_options(method: str) -> list[str]:
    """Names of the options ``method`` accepts (besides the target)."""
    return [p for p in inspect.signature(_method(method).__init__).parameters if p not in _COMMON]


def _method(method: str) -> type[TrainingPruner]:
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    return METHODS[method]


def build_pruner(method: str, model: nn.Module, example_inputs: Any, target_flops: float = 0.5,
                 heldout: Dataset | None = None, **options: Any) -> TrainingPruner:
    """Instantiate training-time pruning ``method`` on ``model``; unknown options raise :class:`InputError`."""
    cls = _method(method)
    accepted = method_options(method)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise InputError(f"method {method!r} has no option {unknown[0]!r}; options: {', '.join(accepted)}")
    if cls is DAIS:
        return DAIS(model, example_inputs, heldout, target_flops, **options)
    return cls(model, example_inputs, target_flops, **options)


def split_heldout(data: Dataset, fraction: float, seed: int = 0) -> tuple[Dataset, Dataset]:
    """A seeded random split of ``data`` into (train, held-out) with ``fraction`` held out."""
    if not 0.0 < fraction < 1.0:
        raise InputError(f"heldout_fraction must be in (0, 1), got {fraction}")
    n = len(data)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    cut = n - max(1, int(round(n * fraction)))
    return Subset(data, order[:cut]), Subset(data, order[cut:])


def open_run(path: str | Path, settings: dict[str, Any], option: str = "run_dir") -> RunDir:
    """The run folder of a train-prune run at ``path``, refusing one that holds a run with other ``settings``.

    ``settings`` are stored as JSON (tuples become lists), so a resumed run compares what was saved.
    ``option``: the parameter (or, for a CLI, the flag) the refusal names.
    """
    return RunDir(path, json.loads(json.dumps(settings, default=str)), option=option, phases=PHASES)


class RunLog(Callback):
    """Appends every epoch's metrics, with the phase, to the run folder's ``log.jsonl`` (main process only)."""

    def __init__(self, run_dir: RunDir, phase: str) -> None:
        self.run_dir = run_dir
        self.phase = phase

    def on_epoch_end(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        if trainer.dist.is_main:
            self.run_dir.append_log({"phase": self.phase, "epoch": metrics["epoch"], **metrics})


def _phase(run: RunDir | None, phase: str) -> tuple[str | None, list[Callback]]:
    """The checkpoint file and the logging callback of one phase (none without a run folder)."""
    if run is None:
        return None, []
    return str(run.phase_checkpoint(phase)), [RunLog(run, phase)]


def _first_batch(data: Dataset, n: int = 64) -> torch.Tensor:
    return torch.stack([data[i][0] for i in range(min(n, len(data)))])


def train_prune(method: str, model: nn.Module, train_data: Dataset, val_data: Dataset, example_inputs: Any, *,
                target_flops: float = 0.5, epochs: int = 10, finetune_epochs: int = 0, heldout_fraction: float = 0.2,
                method_options: dict[str, Any] | None = None, train_options: dict[str, Any] | None = None,
                finetune_options: dict[str, Any] | None = None,
                run_dir: str | Path | RunDir | None = None) -> TrainPruneResult:
    """Train ``model`` with a training-time pruning method, remove the pruned channels, fine-tune (see module doc).

    ``run_dir``: a folder (opened with :func:`open_run`, the settings being this call's arguments) or a
    :class:`RunDir` from :func:`open_run` with the caller's settings; None: nothing is written, nothing resumed.
    """
    start = time.perf_counter()
    train_options = dict(train_options or {})
    if run_dir is None or isinstance(run_dir, RunDir):
        run = run_dir
    else:
        run = open_run(run_dir, {"method": method, "target_flops": target_flops, "epochs": epochs,
                                 "finetune_epochs": finetune_epochs, "heldout_fraction": heldout_fraction,
                                 "method_options": method_options or {}, **train_options,
                                 "finetune_options": finetune_options or {}})
    seed = int(train_options.get("seed", 0))
    fit_data, heldout = (split_heldout(train_data, heldout_fraction, seed) if method == "dais"
                         else (train_data, None))
    options = dict(method_options or {})
    if method in ("cac", "dais"):
        options.setdefault("seed", seed)
    pruner = build_pruner(method, model, example_inputs, target_flops, heldout=heldout, **options)
    checkpoint, log = _phase(run, "train")
    config = TrainConfig.from_options({**train_options, "epochs": epochs, "checkpoint": checkpoint})
    trainer = Trainer(model, config, [pruner, *log])
    history = trainer.fit(fit_data, val_data).history

    masked = pruner.masked_model()
    masked_metrics = evaluate(masked, val_data, device=trainer.device)
    probe = _first_batch(val_data).to(trainer.device)
    masked.eval()
    with torch.no_grad():
        reference = masked(probe)
    result = pruner.finalize()
    with torch.no_grad():
        max_diff = float((result.model(probe) - reference).abs().max())
    pruned_metrics = evaluate(result.model, val_data, device=trainer.device)

    finetune_history: list[dict[str, float]] = []
    if finetune_epochs > 0:
        checkpoint, log = _phase(run, "finetune")
        ft = {**train_options, **(finetune_options or {}), "epochs": finetune_epochs, "checkpoint": checkpoint}
        finetune_history = Trainer(result.model, TrainConfig.from_options(ft), log).fit(train_data, val_data).history
    final = evaluate(result.model, val_data, device=trainer.device)

    report = {
        **result.report,
        "epochs": epochs,
        "finetune_epochs": finetune_epochs,
        "masked_accuracy": masked_metrics["accuracy"],
        "pruned_accuracy": pruned_metrics["accuracy"],
        "final_accuracy": final["accuracy"],
        "final_loss": final["loss"],
        "max_output_diff": max_diff,
        "seconds": time.perf_counter() - start,
    }
    return TrainPruneResult(result.model, result.plan, report, history, finetune_history)
