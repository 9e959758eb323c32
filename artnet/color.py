"""Colour preservation: keep the content's colours, take only luminance (light/dark texture) from the style.

Luminance-only transfer (Gatys et al. 2016, "Preserving color in neural artistic style transfer"): the
stylised image is converted to YCbCr (ITU-R BT.601), its chroma channels Cb/Cr are replaced by those of
the content, and the result is converted back. Exact in YCbCr space before the final clamp to [0, 1].
"""

from __future__ import annotations

import torch
from torch import Tensor

_RGB_TO_YCBCR = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])


def rgb_to_ycbcr(image: Tensor) -> Tensor:
    """``(N, 3, H, W)`` RGB in [0, 1] -> YCbCr with Cb, Cr centred on 0."""
    return torch.einsum("ij,njhw->nihw", _RGB_TO_YCBCR.to(image), image)


def ycbcr_to_rgb(image: Tensor) -> Tensor:
    """The inverse of :func:`rgb_to_ycbcr` (not clamped)."""
    return torch.einsum("ij,njhw->nihw", torch.linalg.inv(_RGB_TO_YCBCR).to(image), image)


def preserve_color(stylized: Tensor, content: Tensor) -> Tensor:
    """Luminance of ``stylized`` with the chroma of ``content`` (same size), clamped to [0, 1]."""
    if stylized.shape != content.shape:
        raise ValueError(f"shapes differ: {tuple(stylized.shape)} vs {tuple(content.shape)}")
    ycc = rgb_to_ycbcr(stylized)
    ycc[:, 1:] = rgb_to_ycbcr(content)[:, 1:]
    return ycbcr_to_rgb(ycc).clamp(0, 1)
