"""``python -m artnet distill``: train the GoogLeNet encoder to reproduce the teacher's VGG-like features.

No ImageNet GoogLeNet weights can be downloaded on the project's machines, so the shipped encoder is
learned by feature distillation. Scale-aligned pairs are matched, each through a trainable 1x1
"head" (a linear map, like the teacher's own ``*_aux`` layers):

==================  ==========  =============================================
student level       scale       teacher target (aux, VGG19 width)
==================  ==========  =============================================
``conv1`` (64)      1/2         ``relu2_1`` (128)
``conv3`` (192)     1/4         ``relu3_1`` (256) -- optional, off by default
``inception3b``     1/8         ``relu4_1`` (512) -- the level style transfer uses
==================  ==========  =============================================

Loss: per level, mean squared error divided by the target's mean per-channel variance (so each level
counts on the same scale), weighted 0.5/1/2 towards ``inception3b``, plus a group-sparsity term on the
post-ReLU activations of every convolution, ``sparsity * mean_over_all_channels(RMS of the channel)``.

``conv3`` is not matched by default (``DistillConfig.levels``): the pair keeps every ``conv3`` channel alive,
while without it the sparsity term switches off the channels ``inception3b`` does not need, which zero-channel
pruning then removes losslessly (the term is there because an encoder distilled for a few CPU hours has no
exactly-zero channels otherwise). The measurements behind both choices: ``docs/notes/training.md``.

Data: random resized crops with flips and colour jitter of the training images (:mod:`artnet.data`).
The student keeps BatchNorm while training and is exported with BatchNorm folded
(:func:`artnet.encoder.fold_batchnorm`), weights stored as float16 (half the bytes; everything downstream
-- pruning, decoder training, tests -- uses those rounded values).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from prunelab.device import resolve_device, set_threads
from prunelab.errors import InputError
from prunelab.runs import RunDir
from prunelab.training import StepLoop, smoothed

from .data import RandomCrops, heldout_images, training_images
from .encoder import ConvBNReLU, ConvReLU, GoogLeNetEncoder, fold_batchnorm
from .teacher import load_teacher_encoder
from .training import train_steps
from .weights import save_encoder

#: student level -> (teacher feature, weight in the loss): the pairs a run may match
PAIRS: dict[str, tuple[str, float]] = {"conv1": ("relu2_1", 0.5), "conv3": ("relu3_1", 1.0),
                                       "inception3b": ("relu4_1", 2.0)}
#: The pairs matched by default (see the module docstring for why ``conv3`` is not among them).
DEFAULT_LEVELS = ("conv1", "inception3b")
_TEACHER_WIDTH = {"relu2_1": 128, "relu3_1": 256, "relu4_1": 512}


@dataclass
class DistillConfig:
    steps: int = 1800
    batch: int = 8
    crop: int = 160
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    threads: int = 2
    device: str = "auto"
    checkpoint_every: int = 50
    use_shared: bool = True
    sparsity: float = 1.0
    levels: tuple[str, ...] = DEFAULT_LEVELS

    def __post_init__(self) -> None:
        self.levels = tuple(self.levels)
        unknown = set(self.levels) - set(PAIRS)
        if unknown or "inception3b" not in self.levels:
            raise InputError(f"distillation levels must include inception3b and come from {list(PAIRS)}, "
                             f"got {list(self.levels)}")


class DistillHeads(nn.Module):
    """1x1 convolutions mapping each student level to the teacher's VGG-width feature space."""

    def __init__(self, channels: dict[str, int], levels: tuple[str, ...] = DEFAULT_LEVELS):
        super().__init__()
        self.heads = nn.ModuleDict({level: nn.Conv2d(channels[level], _TEACHER_WIDTH[PAIRS[level][0]], 1)
                                    for level in levels})

    def forward(self, features: dict[str, Tensor]) -> dict[str, Tensor]:
        return {level: head(features[level]) for level, head in self.heads.items()}


def _collect_activations(student: GoogLeNetEncoder) -> tuple[list[Tensor], list]:
    """Hooks storing every conv block's post-ReLU output during the next forward pass."""
    store: list[Tensor] = []
    handles = [m.register_forward_hook(lambda _m, _i, out: store.append(out)) for m in student.modules()
               if isinstance(m, (ConvBNReLU, ConvReLU))]
    return store, handles


def channel_group_norm(activations: list[Tensor]) -> Tensor:
    """Mean over all channels of all layers of each channel's RMS activation (the group-lasso term)."""
    total = sum(a.shape[1] for a in activations)
    return sum(a.pow(2).mean(dim=(0, 2, 3)).add(1e-8).sqrt().sum() for a in activations) / total


def distill_losses(student: GoogLeNetEncoder, heads: DistillHeads, teacher: nn.Module, batch: Tensor,
                   sparsity: float = 0.0) -> dict[str, Tensor]:
    """Per-level normalised MSE, the sparsity term and their weighted sum (key ``loss``)."""
    with torch.no_grad():
        targets = teacher.features(batch, aux=True)
    store, handles = _collect_activations(student)
    try:
        predicted = heads(student.forward_levels(batch, tuple(heads.heads.keys())))
    finally:
        for handle in handles:
            handle.remove()
    losses: dict[str, Tensor] = {}
    total = batch.new_zeros(())
    levels = tuple(heads.heads.keys())
    for level in levels:
        target_name, weight = PAIRS[level]
        target = targets[target_name]
        scale = target.var(dim=(0, 2, 3)).mean().clamp_min(1e-6)
        losses[level] = ((predicted[level] - target) ** 2).mean() / scale
        total = total + weight * losses[level]
    losses["distill"] = total / sum(PAIRS[level][1] for level in levels)
    losses["sparsity"] = channel_group_norm(store)
    losses["loss"] = losses["distill"] + sparsity * losses["sparsity"]
    return losses


def _fixed_batch(images: dict, crop: int, count: int, seed: int) -> Tensor:
    return RandomCrops(images, crop, seed=seed, jitter=0.0, grey_prob=0.0).batch(count)


def run_distillation(config: DistillConfig, run: str | Path, export: str | Path | None = None,
                     progress: bool = True) -> dict[str, Any]:
    """Train (or resume) a distillation run; export the folded float16 encoder to ``export`` at the end."""
    set_threads(config.threads)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    run_dir = RunDir(run, {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(config).items()})
    teacher = load_teacher_encoder(4).to(device)
    student = GoogLeNetEncoder(batchnorm=True).to(device)
    heads = DistillHeads(student.level_channels(), config.levels).to(device)
    params = list(student.parameters()) + list(heads.parameters())
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    train_images = training_images(config.use_shared)
    sampler = RandomCrops(train_images, config.crop, seed=config.seed)
    held_batch = _fixed_batch(heldout_images(config.use_shared), config.crop, 16, seed=1234).to(device)

    def evaluate_held_out(loop: StepLoop) -> None:
        if loop.step % (config.checkpoint_every * 4) == 0 or loop.step == config.steps:
            held = _evaluate(student, heads, teacher, held_batch)
            loop.annotate({f"heldout_{k}": v for k, v in held.items()}, run_dir)
            student.train()

    student.train()
    loop = train_steps("distill", run_dir, steps=config.steps, lr=config.lr, batch=config.batch,
                       checkpoint_every=config.checkpoint_every, modules={"student": student, "heads": heads},
                       optimizer=optimizer, sampler=sampler, device=device,
                       compute_losses=lambda batch: distill_losses(student, heads, teacher, batch, config.sparsity),
                       on_checkpoint=evaluate_held_out, progress=progress)
    final_held = _evaluate(student, heads, teacher, held_batch)
    history = loop.history
    summary = {
        "steps": loop.step,
        "train_seconds": round(loop.seconds, 1),
        "train_loss_last50": round(smoothed(history, "loss"), 5),
        "train_distill_last50": round(smoothed(history, "distill"), 5),
        "train_sparsity_last50": round(smoothed(history, "sparsity"), 5),
        **{f"train_{lvl}_last50": round(smoothed(history, lvl), 5) for lvl in config.levels},
        **{f"heldout_{k}": round(v, 5) for k, v in final_held.items()},
        "train_images": len(train_images),
        "device": str(device),
    }
    if export is not None:
        folded = fold_batchnorm(student.eval()).cpu()
        save_encoder(folded, export, head=heads.heads["inception3b"].cpu(),
                     meta={"kind": "distilled", "config": asdict(config), "summary": summary})
    return summary


@torch.no_grad()
def _evaluate(student: GoogLeNetEncoder, heads: DistillHeads, teacher: nn.Module, batch: Tensor) -> dict[str, float]:
    student.eval()
    losses = distill_losses(student, heads, teacher, batch)
    store, handles = _collect_activations(student)
    try:
        student(batch)
    finally:
        for handle in handles:
            handle.remove()
    dead = sum(int((a.amax(dim=(0, 2, 3)) <= 0).sum()) for a in store)
    return {**{k: float(v) for k, v in losses.items()}, "dead_channels": float(dead)}
