"""Prune a trained classifier with ``core_pruning`` (CPMC criterion) and fine-tune it briefly.

The networks return ``(logit, attention, features)``; Torch-Pruning traces a module with a tensor
output, so pruning runs on :class:`LogitOnly`, a thin wrapper that shares the network's layers (pruning
it edits the network in place). The replayable plan is stored in the model state, and loading a pruned
checkpoint replays it on a fresh network before the weights are loaded.

Only the joint-attention model is supported: ST-GCN's graph convolution reshapes its output into
(partition, channel) pairs, a coupling the dependency graph does not resolve (pruning fails inside it).
The uncertainty band of a pruned model still comes from the unpruned cross-validation fold models.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import numpy as np
import torch

import core_pruning
from cp_predict.data import SkeletonSet
from cp_predict.models.neural import TorchRiskModel
from cp_predict.models.pruned import LogitOnly, example_input
from cp_predict.preprocess import prepare
from cp_predict.training import TrainedModel
from prunelab.errors import InputError

IGNORED_LAYERS = ("net.encoder.*", "net.attention.*")


def prune_trained(trained: TrainedModel, target_flops: float = 0.5, data: SkeletonSet | None = None,
                  fine_tune_epochs: int = 0, lr: float = 5e-4, seed: int = 0, max_layer_ratio: float = 0.75
                  ) -> tuple[TrainedModel, dict[str, Any]]:
    """A pruned copy of ``trained`` (final model only) and the pruning report.

    With ``data`` (labelled) and ``fine_tune_epochs > 0`` the pruned network is fine-tuned on it.
    """
    final = trained.final
    if not isinstance(final, TorchRiskModel) or final.name != "attention":
        raise InputError(f"pruning supports the attention model only, not {trained.model_name!r}")
    if final.prune_plan:
        raise InputError("this model is already pruned; prune the original instead")
    model = copy.deepcopy(final)
    model.net.eval()
    wrapper = LogitOnly(model.net)
    # The per-joint encoder is stacked joint-major into the backbone's input channels (a reshape the
    # dependency graph cannot index), and its width is tiny anyway: prune the temporal backbone only.
    result = core_pruning.prune(wrapper, example_input(model), criterion="cpmc", target_flops=target_flops,
                                ignored_layers=IGNORED_LAYERS, max_layer_ratio=max_layer_ratio)
    model.prune_plan = result.plan.to_dict()
    model.net.eval()
    report = {k: v for k, v in result.report.items() if k != "removed"}
    if fine_tune_epochs:
        if data is None:
            raise InputError("fine-tuning needs labelled data ({option})", option="data")
        x = prepare(data, trained.preprocess)
        started = time.time()
        report["fine_tune_loss"] = model.train_steps(x, data.require_labels(), fine_tune_epochs, lr, seed)
        report["fine_tune_epochs"] = fine_tune_epochs
        report["fine_tune_seconds"] = round(time.time() - started, 1)
    pruned = TrainedModel(trained.model_name, trained.preprocess, model, trained.calibration, trained.folds,
                          dict(trained.report))
    pruned.report["pruning"] = report
    return pruned, report


def latency_ms(model: TorchRiskModel, frames: int = 300, repeats: int = 50, threads: int | None = None) -> float:
    """Median wall time (ms) of one forward pass on one ``frames``-frame sequence (after warm-up)."""
    if threads:
        torch.set_num_threads(threads)
    x = torch.randn(1, 2, frames, 18)
    model.net.eval()
    times = []
    with torch.inference_mode():
        for _ in range(5):
            model.net(x)
        for _ in range(repeats):
            start = time.perf_counter()
            model.net(x)
            times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)
