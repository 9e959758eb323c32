"""Prune torchvision's ViT-B/16: embedding dims head-consistently, MLP hidden dims freely.

The embedding (residual) width of a ViT is also the width of every ``nn.MultiheadAttention``; Torch-Pruning's
recipe needs ``num_heads``, ``round_to`` = heads, the class token and position embedding as unwrapped parameters
and a reset of ``model.hidden_dim``. ``core_pruning.prune`` does all of that itself: an embedding unit is local
dim ``j`` of every head (each head keeps the same head dim, at the same positions), the loose class token and
position embedding follow, and ``hidden_dim`` is synchronised (also when a plan is replayed). FLOPs include the
attention products Q·Kᵀ and A·V.

Run: ``python examples/prune_vit.py`` (224 px, a few minutes on 2 CPU cores; ``--image-size 32`` is quick)
"""

from __future__ import annotations

import argparse

import torch
import torchvision

import core_pruning as cp


def main(argv: list[str] | None = None) -> cp.PruneResult:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--target-flops", type=float, default=0.5)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    model = torchvision.models.vit_b_16(weights=None, image_size=args.image_size).eval()
    x = torch.randn(1, 3, args.image_size, args.image_size)
    result = cp.prune(model, x, criterion="cpmc", target_flops=args.target_flops)
    assert model(x).shape == (1, 1000)
    attn = model.encoder.layers[0].self_attention
    assert attn.head_dim * attn.num_heads == attn.embed_dim == model.hidden_dim
    mlp = [block.mlp[0].out_features for block in model.encoder.layers]
    print(f"FLOPs kept {result.report['flops_ratio']:.3f}; embedding {model.hidden_dim}/768 "
          f"({attn.num_heads} heads x {attn.head_dim}); MLP hidden dims {mlp} (of 3072)")
    return result


if __name__ == "__main__":
    main()
