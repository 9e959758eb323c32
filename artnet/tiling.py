"""Encode and decode large images tile by tile, with halos wide enough that the result is seamless.

Both networks are local: an encoder feature depends only on input pixels within its receptive field
(radius 30 px for ``inception3b``) and a decoder pixel only on features within ~3 cells. Tiles are
therefore processed with a halo of at least that radius and only their centre is kept; with tile origins
on the 8-pixel grid (so the max-pools see the same windows) the assembled result equals whole-image
processing up to float rounding -- no seams, no blending needed. Peak memory is then one tile's
activations plus the 1/8-resolution feature map and the output image, whatever the resolution.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

#: Encoder halo in input pixels (>= receptive-field radius 30, multiple of 8).
ENCODER_HALO = 32
#: Decoder halo in 1/8-resolution feature cells (>= receptive-field radius of ~3 cells).
DECODER_HALO = 4


def _spans(length: int, tile: int, halo: int) -> list[tuple[int, int, int, int]]:
    """``(core_start, core_end, read_start, read_end)`` covering ``[0, length)``."""
    spans = []
    for start in range(0, length, tile):
        end = min(length, start + tile)
        spans.append((start, end, max(0, start - halo), min(length, end + halo)))
    return spans


def run_tiled(fn: Callable[[Tensor], Tensor], x: Tensor, tile: int, halo: int, scale: float, out_channels: int,
              grid: int = 1) -> Tensor:
    """Apply a local ``fn`` to ``x`` ``(1, C, H, W)`` in tiles; ``fn`` maps sizes by ``scale``.

    ``tile`` and ``halo`` are in input units and must be multiples of ``grid`` (the alignment the network
    needs, e.g. 8 for the encoder's three 2x down-samplings).
    """
    if tile % grid or halo % grid:
        raise ValueError(f"tile ({tile}) and halo ({halo}) must be multiples of {grid}")
    _, _, height, width = x.shape
    if height <= tile and width <= tile:
        return fn(x)
    out_h, out_w = round(height * scale), round(width * scale)
    out = None
    for y0, y1, ya, yb in _spans(height, tile, halo):
        for x0, x1, xa, xb in _spans(width, tile, halo):
            part = fn(x[:, :, ya:yb, xa:xb])
            if out is None:
                out = part.new_empty(1, out_channels, out_h, out_w)
            oy, ox = round((y0 - ya) * scale), round((x0 - xa) * scale)
            h, w = round((y1 - y0) * scale), round((x1 - x0) * scale)
            out[:, :, round(y0 * scale): round(y0 * scale) + h, round(x0 * scale): round(x0 * scale) + w] = \
                part[:, :, oy: oy + h, ox: ox + w]
    assert out is not None
    return out


@torch.no_grad()
def encode_tiled(encoder: torch.nn.Module, image: Tensor, tile: int = 1024) -> Tensor:
    """Encoder features of a ``(1, 3, H, W)`` image (H, W multiples of 8) computed in ``tile``-px tiles.

    The halo is the encoder's ``tile_halo`` attribute when it has one (other architectures), else
    :data:`ENCODER_HALO`.
    """
    tile = max(8, tile - tile % 8)
    halo = getattr(encoder, "tile_halo", ENCODER_HALO)
    return run_tiled(encoder, image, tile, halo, 1 / 8, encoder.out_channels, grid=8)


@torch.no_grad()
def decode_tiled(decoder: torch.nn.Module, features: Tensor, tile: int = 1024) -> Tensor:
    """Decoder output for ``(1, C, h, w)`` features computed in tiles of ``tile`` output pixels."""
    cells = max(1, tile // 8)
    return run_tiled(decoder, features, cells, getattr(decoder, "tile_halo_cells", DECODER_HALO), 8.0, 3)
