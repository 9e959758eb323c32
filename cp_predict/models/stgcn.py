"""ST-GCN baseline (Yan et al., AAAI 2018) on the OpenPose COCO-18 graph, sized for CPU.

Spatial-configuration partitioning (root, centripetal, centrifugal w.r.t. the neck), learnable edge
importance, ST-GCN blocks of graph convolution + temporal convolution (kernel 9) with residuals, global
average pooling and a linear head. Narrower than the original (16-48 channels, 5 blocks, the first one
halving the frame rate) so it trains on a laptop CPU in minutes; joint importance comes from Grad-CAM on
the last block (it has a joint axis).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from cp_predict.models.attention import JointBatchNorm, add_velocity
from cp_predict.skeleton import BONES, NECK, NUM_JOINTS


def spatial_adjacency(num_nodes: int = NUM_JOINTS, edges=BONES, center: int = NECK) -> np.ndarray:
    """``(3, V, V)`` normalised adjacency: root, closer-to-centre, further-from-centre partitions."""
    adj = np.eye(num_nodes)
    for i, j in edges:
        adj[i, j] = adj[j, i] = 1
    hop = np.full(num_nodes, np.inf)
    hop[center], frontier = 0, [center]
    while frontier:
        nxt = []
        for i in frontier:
            for j in np.flatnonzero(adj[i]):
                if hop[j] == np.inf:
                    hop[j] = hop[i] + 1
                    nxt.append(j)
        frontier = nxt
    norm = adj / adj.sum(axis=0, keepdims=True)  # column-normalised (D^-1 on the source side)
    parts = np.zeros((3, num_nodes, num_nodes))
    for i in range(num_nodes):
        for j in range(num_nodes):
            if adj[j, i]:
                k = 0 if hop[j] == hop[i] else (1 if hop[j] > hop[i] else 2)
                parts[k, j, i] = norm[j, i]
    return parts


class STGCNBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, partitions: int, stride: int = 1, residual: bool = True,
                 dropout: float = 0.0, kernel: int = 9) -> None:
        super().__init__()
        self.partitions = partitions
        self.gcn = nn.Conv2d(c_in, c_out * partitions, 1)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, (kernel, 1), (stride, 1), (kernel // 2, 0)),
            nn.BatchNorm2d(c_out), nn.Dropout(dropout, inplace=True),
        )
        if not residual:
            self.residual = None
        elif c_in == c_out and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(nn.Conv2d(c_in, c_out, 1, (stride, 1)), nn.BatchNorm2d(c_out))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        n, _, t, v = x.shape
        y = self.gcn(x).view(n, self.partitions, -1, t, v)
        # sum_k y[k] @ A[k], written as one matmul (much faster on CPU than the equivalent einsum)
        y = y.permute(0, 2, 3, 1, 4).reshape(n, -1, t, self.partitions * v) @ adjacency.reshape(-1, v)
        y = self.tcn(y)
        return self.relu(y if self.residual is None else y + self.residual(x))


class STGCN(nn.Module):
    """Small ST-GCN: forward returns ``(logit, None, last_block_features)`` like :class:`JointAttentionNet`."""

    def __init__(self, in_channels: int = 2, velocity: bool = True, widths: tuple[int, ...] = (16, 16, 32, 32, 48),
                 strides: tuple[int, ...] = (2, 1, 2, 1, 1), dropout: float = 0.3) -> None:
        super().__init__()
        self.velocity = velocity
        c = in_channels * (2 if velocity else 1)
        self.register_buffer("adjacency", torch.tensor(spatial_adjacency(), dtype=torch.float32))
        k = self.adjacency.shape[0]
        self.data_bn = JointBatchNorm(c, NUM_JOINTS)
        blocks, prev = [], c
        for i, (width, stride) in enumerate(zip(widths, strides, strict=True)):
            blocks.append(STGCNBlock(prev, width, k, stride=stride, residual=i > 0, dropout=0.1))
            prev = width
        self.blocks = nn.ModuleList(blocks)
        self.edge_importance = nn.ParameterList([nn.Parameter(torch.ones_like(self.adjacency)) for _ in blocks])
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(prev, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None, torch.Tensor]:
        if self.velocity:
            x = add_velocity(x)
        h = self.data_bn(x)
        for block, importance in zip(self.blocks, self.edge_importance, strict=True):
            h = block(h, self.adjacency * importance)
        logit = self.head(self.dropout(h.mean(dim=(2, 3)))).squeeze(1)
        return logit, None, h
