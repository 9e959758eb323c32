"""The paper's model: a temporal CNN on raw joint positions with joint channel attention.

Reading of Zhu et al., "Interpreting deep learning based cerebral palsy prediction with channel
attention" (BHI 2021), whose full text was not available: the input is raw (pre-processed) joint
positions; a Squeeze-and-Excitation-style channel attention module treats **each body joint as one
channel**, and its sigmoid weights, which rescale the joints before the rest of the network sees them,
are read as per-joint importance. Choices we had to make, each for a stated reason:

* A small temporal encoder, shared by all joints (convolutions along time only, so joints never mix),
  runs before the attention: squeezing raw positions would only give each joint's mean position, which
  says nothing about movement. The squeeze pools each joint's encoded features over features and time,
  with both average and max pooling as in CBAM; the excitation is a two-layer MLP over the 18 joints.
* Velocities (frame differences) are appended to positions: they help fidgety detection
  (``velocity=True``; the CLI can switch them off).
* After attention the joints are stacked into channels and a 1-D temporal CNN (three conv-BN-ReLU
  layers, two of them strided; the encoder's first layer already halves the frame rate) with global
  average pooling and a linear head gives one logit.
* Training adds a small L1 penalty on the attention weights (see :class:`~cp_predict.models.neural.TrainConfig`),
  so joints compete: without it the weight of a joint the later layers ignore is unconstrained, and the
  weights would not rank joints by usefulness.
* **Joint dropout** (training only, ``forward(x, joint_dropout=p)``; :class:`~cp_predict.models.neural.TrainConfig`
  sets p = 0.3): after the attention, each joint's whole feature map is zeroed with probability p (the others
  scaled by 1 / (1 - p)), independently per sequence. Why: joints along a limb carry overlapping information
  (a wrist's trajectory is its elbow's plus the forearm's), and with the L1 penalty a joint whose information an
  attended joint already supplies only costs weight, so the attention kept *one* joint per limb and the seed
  chose which. Measured on generated infants with the abnormal dynamics planted in l_elbow, l_wrist, l_knee,
  l_ankle (600 training infants, validation set of 400 at generator seed 3): each planted joint alone separates
  the classes (5-fold logistic regression on six kinematic features of that joint's trajectory: AUC 0.91, 0.96,
  0.93, 0.97; every other joint 0.47-0.54), yet without joint dropout the attention sat at 0.98-1.0 on three
  joints and below 0.25 on all others, the same for normal and at-risk infants (within 0.015), and freezing
  any one joint other than l_ankle moved the AUC by at most 0.003; the fourth planted joint was l_knee (seed 0)
  or l_wrist (seed 1), so precision@4 was 0.75. Without the L1 penalty the ranking was worse (0.50). With joint
  dropout the backbone cannot rely on any single joint, so every informative joint's weight pays off whenever
  a partner is dropped: precision@4 = 1.00 at seeds 0, 1, 2 for both p = 0.2 and p = 0.3, but the weight of
  the fourth planted joint over the best non-planted one was 1.6-4.7x for p = 0.2 and 2.9-4.1x for p = 0.3,
  hence 0.3; with p = 0.3 and l_wrist, l_ankle planted, precision@2 = 1.00 at seeds 0 and 1; AUC 1.00
  throughout. ``benchmarks/cp_planted_diagnosis.py`` repeats these measurements. Inference is unchanged
  (dropout is off in ``eval()``).

The forward pass returns ``(logit, attention, encoded)``; ``encoded`` (N, F, T, 18) is where Grad-CAM
looks for the joint x time map, because it is the last layer that still has a joint axis.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cp_predict.skeleton import NUM_JOINTS


def add_velocity(x: torch.Tensor) -> torch.Tensor:
    """Append frame-to-frame differences (first frame: zero) to ``(N, C, T, V)`` positions."""
    vel = torch.zeros_like(x)
    vel[:, :, 1:] = x[:, :, 1:] - x[:, :, :-1]
    return torch.cat([x, vel], dim=1)


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


def _conv_bn_relu(conv: nn.Module, width: int, dims: int) -> list[nn.Module]:
    bn = nn.BatchNorm2d(width) if dims == 2 else nn.BatchNorm1d(width)
    return [conv, bn, nn.ReLU(inplace=True)]


class JointAttentionNet(nn.Module):
    """Temporal CNN with joint channel attention; see the module docstring."""

    def __init__(self, in_channels: int = 2, velocity: bool = True, joints: int = NUM_JOINTS,
                 joint_features: int = 8, hidden: int = 48, reduction: int = 2, kernel: int = 9,
                 dropout: float = 0.3) -> None:
        super().__init__()
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
        self.attention = JointChannelAttention(joints, reduction)
        self.backbone = nn.Sequential(
            *_conv_bn_relu(nn.Conv1d(joint_features * joints, hidden, 3, padding=1), hidden, 1),
            *_conv_bn_relu(nn.Conv1d(hidden, hidden, 5, stride=2, padding=2), hidden, 1),
            *_conv_bn_relu(nn.Conv1d(hidden, 2 * hidden, 5, stride=2, padding=2), 2 * hidden, 1),
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden, 1)

    def forward(self, x: torch.Tensor, joint_dropout: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(logit, attention weights (N, V), attended features (N, F, T', V))``.

        ``joint_dropout``: in training mode, the probability of zeroing each joint's attended features (see the
        module docstring); ignored in ``eval()``. The returned features are the ones before that dropout.
        """
        if self.velocity:
            x = add_velocity(x)
        h = self.encoder(self.data_bn(x))
        scaled, weights = self.attention(h)
        n, f, t, v = scaled.shape
        kept = scaled
        if self.training and joint_dropout > 0:
            kept = scaled * F.dropout(scaled.new_ones(n, 1, 1, v), joint_dropout, training=True)
        z = self.backbone(kept.permute(0, 1, 3, 2).reshape(n, f * v, t))
        logit = self.head(self.dropout(z.mean(dim=2))).squeeze(1)
        return logit, weights, scaled
