"""Encode and decode large images tile by tile, with halos wide enough that the result is seamless.

Both networks are local: an encoder feature depends only on input pixels within its receptive field
(radius 30 px for ``inception3b``) and a decoder pixel only on features within ~3 cells. Tiles are
therefore processed with a halo of at least that radius and only their centre is kept; with tile origins
on the 8-pixel grid (so the max-pools see the same windows) the assembled result equals whole-image
processing up to float rounding -- no seams, no blending needed. Peak memory is then one tile's
activations plus the 1/8-resolution feature map and the output image, whatever the resolution -- and, for a
decoder with skips (:mod:`artnet.skips`), its 1/4- and 1/2-resolution skip maps (at 4K about 0.4 and 0.5 GB in
float32: more than the image, less than one untiled pass).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor

from .encoder import LEVELS

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


def run_tiled(fn: Callable[..., Tensor | dict[str, Tensor]], x: Tensor, tile: int, halo: int,
              scale: float | dict[str, float], out_channels: int | dict[str, int], grid: int = 1,
              extras: Mapping[str, tuple[Tensor, int]] | None = None,
              dtypes: Mapping[str, torch.dtype] | None = None) -> Tensor | dict[str, Tensor]:
    """Apply a local ``fn`` to ``x`` ``(1, C, H, W)`` in tiles; ``fn`` maps sizes by ``scale``.

    ``tile`` and ``halo`` are in input units and must be multiples of ``grid`` (the alignment the network
    needs, e.g. 8 for the encoder's three 2x down-samplings). Several outputs: ``fn`` returns a dict and
    ``scale``/``out_channels`` are dicts with the same keys. ``extras``: ``{name: (tensor, factor)}``, inputs at
    ``factor`` times ``x``'s resolution, cut to the same window and passed as ``fn(x_tile, {name: tile})``
    (the decoder's skips; each window is cast to ``x``'s dtype). ``dtypes``: storage dtype of some outputs of a
    multi-output ``fn`` (float16 skip maps of large images), else each output's own.
    """
    if tile % grid or halo % grid:
        raise ValueError(f"tile ({tile}) and halo ({halo}) must be multiples of {grid}")
    _, _, height, width = x.shape
    extras = dict(extras or {})

    def call(window: Tensor, ys: slice, xs: slice):
        if not extras:
            return fn(window)
        return fn(window, {name: t[:, :, ys.start * f: ys.stop * f, xs.start * f: xs.stop * f].to(window.dtype)
                           for name, (t, f) in extras.items()})

    dtypes = dict(dtypes or {})
    if height <= tile and width <= tile:
        whole = call(x, slice(0, height), slice(0, width))
        if isinstance(whole, dict):
            return {key: part.to(dtypes.get(key, part.dtype)) for key, part in whole.items()}
        return whole
    scales = scale if isinstance(scale, dict) else {"": scale}
    channels = out_channels if isinstance(out_channels, dict) else {"": out_channels}
    out: dict[str, Tensor] = {}
    for y0, y1, ya, yb in _spans(height, tile, halo):
        for x0, x1, xa, xb in _spans(width, tile, halo):
            parts = call(x[:, :, ya:yb, xa:xb], slice(ya, yb), slice(xa, xb))
            parts = parts if isinstance(parts, dict) else {"": parts}
            for key, part in parts.items():
                k = scales[key]
                if key not in out:
                    out[key] = part.new_empty(1, channels[key], round(height * k), round(width * k),
                                              dtype=dtypes.get(key, part.dtype))
                oy, ox = round((y0 - ya) * k), round((x0 - xa) * k)
                h, w = round((y1 - y0) * k), round((x1 - x0) * k)
                out[key][:, :, round(y0 * k): round(y0 * k) + h, round(x0 * k): round(x0 * k) + w] = \
                    part[:, :, oy: oy + h, ox: ox + w]
    return out if isinstance(scale, dict) else out[""]


@torch.no_grad()
def encode_tiled(encoder: torch.nn.Module, image: Tensor, tile: int = 1024, levels: tuple[str, ...] = (),
                 dtypes: Mapping[str, torch.dtype] | None = None) -> Tensor | dict[str, Tensor]:
    """Encoder features of a ``(1, 3, H, W)`` image (H, W multiples of 8) computed in ``tile``-px tiles.

    The halo is the encoder's ``tile_halo`` attribute when it has one (other architectures), else
    :data:`ENCODER_HALO`. ``levels``: several levels of :meth:`GoogLeNetEncoder.forward_levels` at once (a dict;
    the halo that covers the deepest level covers the shallower ones), stored in ``dtypes`` where given.
    """
    tile = max(8, tile - tile % 8)
    halo = getattr(encoder, "tile_halo", ENCODER_HALO)
    if not levels:
        return run_tiled(encoder, image, tile, halo, 1 / 8, encoder.out_channels, grid=8)
    channels = encoder.level_channels()
    return run_tiled(lambda x: encoder.forward_levels(x, levels), image, tile, halo,
                     {level: 1 / LEVELS[level] for level in levels}, {level: channels[level] for level in levels},
                     grid=8, dtypes=dtypes)


@torch.no_grad()
def decode_tiled(decoder: torch.nn.Module, features: Tensor, tile: int = 1024,
                 skips: Mapping[str, Tensor] | None = None) -> Tensor:
    """Decoder output for ``(1, C, h, w)`` features computed in tiles of ``tile`` output pixels.

    ``skips``: the decoder's skip features ``{level: (1, C_l, h * 8 / s, w * 8 / s)}`` (``s`` the level's
    down-sampling), cut to each tile's window."""
    cells = max(1, tile // 8)
    extras = {level: (t, 8 // LEVELS[level]) for level, t in (skips or {}).items()}
    return run_tiled(decoder, features, cells, getattr(decoder, "tile_halo_cells", DECODER_HALO), 8.0, 3,
                     extras=extras)
