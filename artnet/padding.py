"""Padding images to the encoder's stride and removing it again.

The encoder halves the resolution three times, so inputs must be multiples of 8. Reflection padding on the
bottom/right (replicate when the image is too small to reflect) keeps the added border image-like; the
decoder output is cropped back to the original size.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def pad_to_multiple(image: Tensor, multiple: int = 8) -> tuple[Tensor, tuple[int, int]]:
    """Pad ``(N, C, H, W)`` at the bottom/right to multiples of ``multiple``; return it and ``(H, W)``."""
    height, width = image.shape[-2:]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    if pad_h == 0 and pad_w == 0:
        return image, (height, width)
    mode = "reflect" if pad_h < height and pad_w < width else "replicate"
    return F.pad(image, (0, pad_w, 0, pad_h), mode=mode), (height, width)


def unpad(image: Tensor, size: tuple[int, int]) -> Tensor:
    """Crop ``(N, C, H', W')`` back to the ``(H, W)`` returned by :func:`pad_to_multiple`."""
    return image[..., : size[0], : size[1]]
