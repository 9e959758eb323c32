"""Training, windowed inference and Grad-CAM for the PyTorch models, behind :class:`RiskModel`.

Sequences longer than the window are cut into windows (:func:`cp_predict.preprocess.windows`); the
infant's logit is the mean of its windows' logits. Training draws one random window per infant and
step (a temporal crop) and augments it (:mod:`cp_predict.augment`).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cp_predict.augment import AugmentConfig, augment
from cp_predict.models.attention import DEFAULT_ATTENTION, LEGACY_ATTENTION, JointAttentionNet
from cp_predict.models.base import RiskModel
from cp_predict.models.stgcn import STGCN
from cp_predict.preprocess import windows
from prunelab.training import StepLoop

ARCHITECTURES: dict[str, type[nn.Module]] = {"attention": JointAttentionNet, "stgcn": STGCN}
#: Most sequences per forward at inference: the time windows of a batch are stacked into one call.
WINDOW_BATCH = 256
FINE_TUNE_LR_FACTOR = 0.25  # fine-tuning starts near a good solution: a smaller step keeps it there


@dataclass
class TrainConfig:
    """Optimisation settings (AdamW, cosine schedule, class-balanced BCE)."""

    epochs: int = 30
    min_steps: int = 300  # tiny sets (e.g. 11 infants = 1 batch per epoch) get more epochs, not fewer updates
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-3
    attention_l1: float = 0.05  # L1 penalty on the joint attention weights (attention model only)
    # Probability of dropping a joint's attended features per training sequence (attention model only): with
    # it, every informative joint of a limb gets attention, not just one; see cp_predict.models.attention.
    joint_dropout: float = 0.3
    window: int = 300
    stride: int = 150
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["augment"] = self.augment.to_dict()
        return d

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        values = dict(values)
        aug = AugmentConfig.from_dict(values.pop("augment", {}))
        return cls(augment=aug, **{k: v for k, v in values.items() if k in cls.__dataclass_fields__})


class TorchRiskModel(RiskModel):
    """A :class:`RiskModel` around one of :data:`ARCHITECTURES` (``"attention"`` or ``"stgcn"``)."""

    def __init__(self, arch: str = "attention", net_config: dict[str, Any] | None = None,
                 train_config: TrainConfig | None = None) -> None:
        if arch not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {arch!r}")
        self.name = arch
        self.net_config = dict(net_config or {})
        if arch == "attention":  # recorded, so a saved model rebuilds the same attention module
            self.net_config.setdefault("attention", DEFAULT_ATTENTION)
        self.train_config = train_config or TrainConfig()
        self.net = ARCHITECTURES[arch](**self.net_config)
        self.history: list[float] = []
        self.prune_plan: dict[str, Any] | None = None  # set by cp_predict.pruning; replayed by from_state

    # -- training ---------------------------------------------------------------------------------
    def fit(self, x: np.ndarray, y: np.ndarray, fps: float, seed: int = 0,
            init: TorchRiskModel | None = None) -> TorchRiskModel:
        """Train from scratch, or fine-tune a copy of ``init``'s network (pruned or not) at a quarter of the lr."""
        if init is not None:
            self.net = copy.deepcopy(init.net)
            self.prune_plan = copy.deepcopy(init.prune_plan)
        else:
            torch.manual_seed(seed)  # the initial weights follow ``seed`` too, not the process's RNG history
            self.net = ARCHITECTURES[self.name](**self.net_config)
            self.prune_plan = None
        cfg = self.train_config
        steps_per_epoch = max(1, int(np.ceil(len(x) / cfg.batch_size)))
        epochs = max(cfg.epochs, int(np.ceil(cfg.min_steps / steps_per_epoch)))
        self.history = self.train_steps(x, y, epochs, cfg.lr * (FINE_TUNE_LR_FACTOR if init is not None else 1.0), seed)
        return self

    def train_steps(self, x: np.ndarray, y: np.ndarray, epochs: int, lr: float, seed: int = 0) -> list[float]:
        """Train the current network (fresh or pruned) for ``epochs``; returns the mean loss per epoch."""
        cfg = self.train_config
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        y = np.asarray(y, dtype=np.float32)
        n_pos = float(y.sum())
        pos_weight = torch.tensor((len(y) - n_pos) / max(n_pos, 1.0)) if 0 < n_pos < len(y) else torch.tensor(1.0)
        opt = torch.optim.AdamW(self.net.parameters(), lr=lr, weight_decay=cfg.weight_decay)
        steps_per_epoch = max(1, int(np.ceil(len(x) / cfg.batch_size)))
        loop = StepLoop(opt, torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch))
        extra = {"joint_dropout": cfg.joint_dropout} if isinstance(self.net, JointAttentionNet) else {}
        history = []
        self.net.train()
        for _ in range(epochs):
            order = rng.permutation(len(x))
            total = 0.0
            for start in range(0, len(x), cfg.batch_size):
                idx = order[start:start + cfg.batch_size]
                if len(idx) < 2:  # BatchNorm needs two samples
                    continue
                batch = augment(_random_crop(x[idx], cfg.window, rng), cfg.augment, rng)
                logit, weights, _ = self.net(torch.from_numpy(batch), **extra)
                loss = F.binary_cross_entropy_with_logits(logit, torch.from_numpy(y[idx]), pos_weight=pos_weight)
                if weights is not None and cfg.attention_l1:
                    loss = loss + cfg.attention_l1 * weights.mean()
                loop.optimise(loss)
                total += float(loss.detach()) * len(idx)
            history.append(total / len(x))
        self.net.eval()
        return history

    # -- inference --------------------------------------------------------------------------------
    def _windowed(self, x: np.ndarray) -> list[np.ndarray]:
        cfg = self.train_config
        return [x[:, :, a:b] for a, b in windows(x.shape[2], cfg.window, cfg.stride)]

    @torch.no_grad()
    def _window_means(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Logits and attention weights (None without attention), each averaged over the time windows."""
        self.net.eval()
        parts = self._windowed(x)
        n = x.shape[0]
        per_call = max(1, WINDOW_BATCH // max(1, n))  # windows stacked into one forward (fewer, larger calls)
        logits, weights = [], []
        for first in range(0, len(parts), per_call):
            chunk = parts[first:first + per_call]
            batch = torch.from_numpy(np.ascontiguousarray(np.concatenate(chunk), dtype=np.float32))
            out_logits, out_weights = self.net(batch)[:2]
            logits.append(out_logits.numpy().reshape(len(chunk), n, *out_logits.shape[1:]))
            if out_weights is not None:
                weights.append(out_weights.numpy().reshape(len(chunk), n, *out_weights.shape[1:]))
        mean_logits = np.concatenate(logits).mean(axis=0).astype(np.float64)
        if not weights:
            return mean_logits, None
        return mean_logits, np.concatenate(weights).mean(axis=0).astype(np.float64)

    def decision_function(self, x: np.ndarray, fps: float) -> np.ndarray:
        return self._window_means(x)[0]

    @property
    def cheap_importance(self) -> bool:  # type: ignore[override]
        return self.name == "attention"

    def decision_and_importance(self, x: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray | None]:
        """Attention model: logits and attention weights from the same forward passes."""
        return self._window_means(x) if self.name == "attention" else super().decision_and_importance(x, fps)

    def joint_importance(self, x: np.ndarray, fps: float) -> np.ndarray:
        """Attention model: the attention weights; ST-GCN: Grad-CAM averaged over time."""
        if self.name == "attention":
            return self._window_means(x)[1]
        return self.joint_time_map(x, fps).mean(axis=1)

    @torch.enable_grad()  # Grad-CAM needs gradients even when called inside torch.no_grad()
    def joint_time_map(self, x: np.ndarray, fps: float) -> np.ndarray:
        """Grad-CAM of the logit on the last joint-resolved features, upsampled to ``(N, T, 18)``, max 1."""
        self.net.eval()
        out = np.zeros((x.shape[0], x.shape[2], x.shape[3]))
        count = np.zeros((1, x.shape[2], 1))
        for a, b in windows(x.shape[2], self.train_config.window, self.train_config.stride):
            inp = torch.from_numpy(np.ascontiguousarray(x[:, :, a:b], dtype=np.float32))
            logit, _, feats = self.net(inp)
            grads = torch.autograd.grad(logit.sum(), feats)[0]
            cam = F.relu((grads.mean(dim=(2, 3), keepdim=True) * feats).sum(dim=1)).detach()  # (N, T', V)
            cam = F.interpolate(cam[:, None], size=(b - a, cam.shape[-1]), mode="bilinear", align_corners=False)[:, 0]
            out[:, a:b] += cam.numpy()
            count[:, a:b] += 1
        out /= np.maximum(count, 1)
        return out / np.maximum(out.max(axis=(1, 2), keepdims=True), 1e-12)

    # -- explanation sanity check ------------------------------------------------------------------
    def layer_groups(self) -> list[str]:
        """Learnable parts of the network from the output down (for cascading randomisation)."""
        if self.name == "stgcn":
            return ["head", *(f"blocks.{i}" for i in reversed(range(len(self.net.blocks)))), "edge_importance"]
        return ["head", "backbone", "attention", "encoder"]

    def randomised(self, seed: int, groups: list[str] | tuple[str, ...]) -> TorchRiskModel:
        """A copy whose layer ``groups`` (names from :meth:`layer_groups`) are re-initialised.

        BatchNorm running statistics are kept, so signals keep a sensible scale; this is the
        model-randomisation test of Adebayo et al. (2018).
        """
        twin = copy.deepcopy(self)
        torch.manual_seed(seed)
        for group in groups:
            module = twin.net.get_submodule(group)
            if group == "edge_importance":
                for p in module.parameters():
                    nn.init.uniform_(p, 0.0, 2.0)
                continue
            for sub in module.modules():
                if isinstance(sub, nn.Conv1d | nn.Conv2d | nn.Linear):
                    sub.reset_parameters()
        return twin

    # -- persistence ------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {"name": self.name, "net_config": self.net_config, "train_config": self.train_config.to_dict(),
                "state_dict": {k: v.detach().clone() for k, v in self.net.state_dict().items()},
                "history": list(self.history), "prune_plan": self.prune_plan}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TorchRiskModel:
        net_config = dict(state["net_config"])
        if state["name"] == "attention":  # saved before the attention kind was recorded: the pooled SE module
            net_config.setdefault("attention", LEGACY_ATTENTION)
        model = cls(state["name"], net_config, TrainConfig.from_dict(state["train_config"]))
        if state.get("prune_plan"):
            from cp_predict.models.pruned import replay_plan

            replay_plan(model, state["prune_plan"])
        model.net.load_state_dict(state["state_dict"])
        model.net.eval()
        model.history = list(state.get("history", []))
        return model


def _random_crop(x: np.ndarray, window: int, rng: np.random.Generator) -> np.ndarray:
    """One random ``window``-frame crop per sequence (the whole sequence when it is not longer)."""
    t = x.shape[2]
    if t <= window:
        return x
    starts = rng.integers(0, t - window + 1, len(x))
    return np.stack([x[i, :, s:s + window] for i, s in enumerate(starts)])
