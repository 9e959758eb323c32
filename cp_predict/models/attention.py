"""The paper's model: a temporal CNN on raw joint positions with joint channel attention.

Reading of Zhu et al., "Interpreting deep learning based cerebral palsy prediction with channel attention"
(BHI 2021; full text not available): a Squeeze-and-Excitation-style channel attention treats **each body joint as
one channel**; its sigmoid weights rescale the joints before the rest of the network sees them and are read as
per-joint importance. The choices the paper leaves open:

* a small temporal encoder shared by all joints (convolutions along time only, so joints never mix) runs before
  the attention, because squeezing raw positions would only give each joint's mean position; the squeeze pools
  each joint's features by average and max (as CBAM), the excitation is a two-layer MLP over the 18 joints;
* velocities (frame differences) are appended to positions (``velocity=True``): they help fidgety detection;
* after the attention the joints are stacked into channels: a 1-D temporal CNN (three conv-BN-ReLU layers, two
  strided), global average pooling and a linear head give one logit.

Training (:class:`~cp_predict.models.neural.TrainConfig`) adds an L1 penalty on the attention weights, so joints
compete and the weights rank them by usefulness, and **joint dropout** (``forward(x, joint_dropout=p)``, p = 0.3):
each joint's attended features are zeroed with probability p per sequence, so that joints along one limb, which
carry overlapping information, all earn weight instead of one per limb chosen by the seed. The measurements behind
both are in ``docs/notes/cp_predict.md``. Inference is unchanged (dropout is off in ``eval()``).

The forward pass returns ``(logit, attention, encoded)``; ``encoded`` (N, F, T, 18) is where Grad-CAM looks for
the joint x time map, because it is the last layer that still has a joint axis.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cp_predict.skeleton import LIMBS, NUM_JOINTS


def add_velocity(x: torch.Tensor) -> torch.Tensor:
    """Append frame-to-frame differences (first frame: zero) to ``(N, C, T, V)`` positions."""
    vel = torch.zeros_like(x)
    vel[:, :, 1:] = x[:, :, 1:] - x[:, :, :-1]
    return torch.cat([x, vel], dim=1)


def log_limb_speed(x: torch.Tensor) -> torch.Tensor:
    """``(N, 1)``: log mean speed (per frame) of the wrists and ankles relative to their shoulder/hip, from
    ``(N, 2, T, V)`` positions -- the torch twin of :func:`cp_predict.features.mean_limb_speed` (up to fps)."""
    prox = [chain[0] for chain in LIMBS.values()]
    dist = [chain[-1] for chain in LIMBS.values()]
    rel = x[:, :2, :, dist] - x[:, :2, :, prox]
    speed = (rel[:, :, 1:] - rel[:, :, :-1]).norm(dim=1).mean(dim=(1, 2))
    return torch.log(speed + 1e-4)[:, None]


class JointBatchNorm(nn.Module):
    """BatchNorm over (channel, joint) pairs of ``(N, C, T, V)`` input, as ST-GCN's data_bn."""

    def __init__(self, channels: int, joints: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(channels * joints)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, v = x.shape
        y = self.bn(x.permute(0, 1, 3, 2).reshape(n, c * v, t))
        return y.reshape(n, c, v, t).permute(0, 1, 3, 2)


class JointChannelAttention(nn.Module):
    """SE/CBAM channel attention whose channels are joints: ``(N, F, T, V) -> (scaled, weights (N, V))``."""

    def __init__(self, joints: int = NUM_JOINTS, reduction: int = 2) -> None:
        super().__init__()
        hidden = max(1, joints // reduction)
        self.mlp = nn.Sequential(nn.Linear(joints, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, joints))

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        squeeze_avg = h.mean(dim=(1, 2))
        squeeze_max = h.amax(dim=(1, 2))
        weights = torch.sigmoid(self.mlp(squeeze_avg) + self.mlp(squeeze_max))
        return h * weights[:, None, None, :], weights


#: :class:`PerJointAttention` stores its per-joint offsets divided by this, so AdamW's roughly lr-sized steps move
#: them 16 times faster: with the plain offset (~400 steps at lr 2e-3 move it by < 1) the priors stayed near 0 and
#: uninformative joints whose movement looked unusual got weight (per-infant top joints off the planted side for
#: 9 of 12 side tests, 2026-12-04; docs/notes/cp_predict.md).
PRIOR_SCALE = 16.0


class PerJointAttention(nn.Module):
    """Attention computed from each joint's own movement: ``(N, F, T, V) -> (scaled, weights (N, V))``.

    Each joint's descriptor is the time mean and standard deviation of its F encoded features (the encoder sees
    one joint's positions and velocities along time only, so this summarises that joint's movement: amplitude,
    speed, its temporal frequency content). One small MLP, **shared by all joints**, maps a descriptor to a score,
    and a learned per-joint offset keeps a prior: ``w_j = sigmoid(mlp(d_j) + PRIOR_SCALE * b_j)``. Because the MLP
    is the same for every joint and sees no other joint, a joint's weight can only move off its prior through
    what *this* infant's joint does; the pooled SE squeeze (:class:`JointChannelAttention`) mixes all 18 joints'
    averages in one MLP and collapsed to an almost fixed prior (docs/cp_predict.md).
    """

    def __init__(self, joints: int = NUM_JOINTS, features: int = 8, hidden: int = 16) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2 * features, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 1))
        self.prior = nn.Parameter(torch.zeros(joints))

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        descriptor = torch.cat([h.mean(dim=2), h.std(dim=2)], dim=1).transpose(1, 2)  # (N, V, 2F)
        weights = torch.sigmoid(self.mlp(descriptor).squeeze(-1) + PRIOR_SCALE * self.prior)
        return h * weights[:, None, None, :], weights


#: ``attention=`` of :class:`JointAttentionNet`: ``per_joint`` (new models) or ``pooled`` (the SE squeeze of the
#: models saved before 2026-12-04, whose saved ``net_config`` has no ``attention`` key).
ATTENTION_KINDS = ("per_joint", "pooled")
DEFAULT_ATTENTION = "per_joint"
LEGACY_ATTENTION = "pooled"


def _conv_bn_relu(conv: nn.Module, width: int, dims: int) -> list[nn.Module]:
    bn = nn.BatchNorm2d(width) if dims == 2 else nn.BatchNorm1d(width)
    return [conv, bn, nn.ReLU(inplace=True)]


class JointAttentionNet(nn.Module):
    """Temporal CNN with joint channel attention (see the module docstring).

    ``in_channels``: coordinates per joint (x, y); ``velocity``: append frame differences; ``joint_features``:
    encoder features per joint; ``hidden``: width of the temporal CNN after the attention (its last layer has twice
    that); ``reduction``: the attention MLP's bottleneck (joints / reduction); ``kernel``: the first encoder layer's
    temporal kernel; ``dropout``: before the linear head; ``attention``: one of :data:`ATTENTION_KINDS`;
    ``speed_channel``: give the head the infant's log mean limb speed (:func:`log_limb_speed`, batch-normalised)
    beside the pooled features (off by default; a lever for small real sets, where mean speed alone separates
    MINI-RGBD's labels, see docs/cp_predict.md).
    """

    def __init__(self, in_channels: int = 2, velocity: bool = True, joints: int = NUM_JOINTS,
                 joint_features: int = 8, hidden: int = 48, reduction: int = 2, kernel: int = 9,
                 dropout: float = 0.3, attention: str = DEFAULT_ATTENTION, speed_channel: bool = False) -> None:
        super().__init__()
        if attention not in ATTENTION_KINDS:
            raise ValueError(f"unknown attention {attention!r} (choose from {', '.join(ATTENTION_KINDS)})")
        self.velocity = velocity
        c = in_channels * (2 if velocity else 1)
        pad = kernel // 2
        self.data_bn = JointBatchNorm(c, joints)
        # The first encoder layer halves the frame rate (25 -> 12.5 fps keeps the 1-4 Hz fidgety band).
        self.encoder = nn.Sequential(
            *_conv_bn_relu(nn.Conv2d(c, joint_features, (kernel, 1), stride=(2, 1), padding=(pad, 0)),
                           joint_features, 2),
            *_conv_bn_relu(nn.Conv2d(joint_features, joint_features, (5, 1), padding=(2, 0)), joint_features, 2),
        )
        self.attention = (PerJointAttention(joints, joint_features) if attention == "per_joint"
                          else JointChannelAttention(joints, reduction))
        self.backbone = nn.Sequential(
            *_conv_bn_relu(nn.Conv1d(joint_features * joints, hidden, 3, padding=1), hidden, 1),
            *_conv_bn_relu(nn.Conv1d(hidden, hidden, 5, stride=2, padding=2), hidden, 1),
            *_conv_bn_relu(nn.Conv1d(hidden, 2 * hidden, 5, stride=2, padding=2), 2 * hidden, 1),
        )
        self.dropout = nn.Dropout(dropout)
        self.speed_bn = nn.BatchNorm1d(1) if speed_channel else None
        self.head = nn.Linear(2 * hidden + (1 if speed_channel else 0), 1)

    def forward(self, x: torch.Tensor, joint_dropout: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(logit, attention weights (N, V), attended features (N, F, T', V))``.

        ``joint_dropout``: in training mode, the probability of zeroing each joint's attended features (see the
        module docstring); ignored in ``eval()``. The returned features are the ones before that dropout.
        """
        speed = None if self.speed_bn is None else self.speed_bn(log_limb_speed(x))
        if self.velocity:
            x = add_velocity(x)
        h = self.encoder(self.data_bn(x))
        scaled, weights = self.attention(h)
        n, f, t, v = scaled.shape
        kept = scaled
        if self.training and joint_dropout > 0:
            kept = scaled * F.dropout(scaled.new_ones(n, 1, 1, v), joint_dropout, training=True)
        z = self.backbone(kept.permute(0, 1, 3, 2).reshape(n, f * v, t))
        pooled = self.dropout(z.mean(dim=2))
        logit = self.head(pooled if speed is None else torch.cat([pooled, speed], dim=1)).squeeze(1)
        return logit, weights, scaled
