"""S2, the sandwich swap transform: global alignment -> patch-based style swap -> global alignment.

Paper reading (the ArtNet paper's method text is not available offline; this follows its description, "a style
swap held between two global statistic alignments"):

1. first alignment ``a = align(f_c, f_s)`` (AdaIN, or WCT with ``align="wct"``): content and style then share
   channel statistics, so step 2 matches structure rather than magnitudes (a plain style swap on raw features
   washes out the content);
2. style swap (Chen & Schmidt 2016): each ``p x p`` patch of ``a`` is replaced by the style patch of highest
   normalised cross-correlation and overlaps are averaged, which brings the style's local textures;
3. swap strength ``w`` (``swap_weight``): ``(1 - w) a + w swap(a)`` blends with the *aligned* features, so a
   lower ``w`` gives back content structure while the global style stays (0 = AdaIN, 1 = the plain sandwich);
   the caller's ``alpha`` blends toward the raw content instead, which undoes the first alignment too;
4. second alignment: overlap averaging lowers the variance, so the result gets the style statistics back.

Bounded memory at any resolution: patches are matched in the style's ``match_channels`` leading PCA directions
(``None``: all channels), as matrix products with at most ``max_style_patches`` unit-norm style patches (a regular
sub-grid) in bands and chunks below ``memory_mb``, keeping a running argmax, in bfloat16 where the hardware has
native bfloat16 products (:data:`MATCH_DTYPES`); the chosen patches are pasted from
the full style features without one-hot maps. Measurements behind the defaults: ``docs/notes/artnet.md``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from .adain import adain
from .stats import StatsHook, StyleFeatures, as_chw, as_style, with_prefix
from .wct import wct

#: The global alignments S2 can be made of (steps 1 and 4).
ALIGNMENTS: dict[str, Callable[..., Tensor]] = {"adain": adain, "wct": wct}
#: Default swap strength ``w`` (step 3 above). Content loss grows faster than linearly in ``w`` while style loss
#: falls about linearly, so an inner value trades best: 0.6 keeps the content loss well inside AdaIN's +10% with
#: most of the style gain (teacher-scored grid, ``docs/notes/artnet.md``).
SWAP_WEIGHT = 0.6
#: Dtypes of the patch-matching scores (step 2). The scores only decide *which* style patch is pasted (by argmax;
#: the pasted values stay the float32 style features), so ``"auto"`` computes them in bfloat16 where the hardware
#: multiplies bfloat16 natively (CUDA; CPUs with AMX or AVX512-BF16) and in float32 elsewhere. Near-ties may then
#: pick a different, almost equally similar patch; measured effect: ``docs/notes/artnet.md``.
MATCH_DTYPES = ("auto", "float32", "bfloat16")
#: Default PCA directions matched on and style patches kept. 32 / 2048 (64 / 4096 until 2026-12-04) run S2 at 512 px
#: in 100 instead of 145 ms on a 2-core CPU and scored the same on the 270 train+validation pairs at the default
#: alpha (teacher-scored content 0.6522 vs 0.6541, mean/std style 1.5313 vs 1.5281; ``docs/artnet.md``).
MATCH_CHANNELS = 32
MAX_STYLE_PATCHES = 2048


def _style_basis(style: StyleFeatures, channels: int | None) -> tuple[Tensor, Tensor | None]:
    """Style mean and the ``(C, k)`` projection on the top-``k`` principal directions (``None``: all)."""

    def make() -> tuple[Tensor, Tensor | None]:
        mean, cov = style.mean_cov()
        if channels is None or channels >= cov.shape[0]:
            return mean.float(), None
        _, vectors = torch.linalg.eigh(cov)
        return mean.float(), vectors[:, -channels:].float().contiguous()

    return style.cached(f"s2_basis_{channels}", make)


def _project(features: Tensor, mean: Tensor, basis: Tensor | None) -> Tensor:
    centred = features - mean.to(features.dtype)[:, None, None]
    if basis is None:
        return centred
    channels, height, width = centred.shape
    return (basis.T.to(features.dtype) @ centred.reshape(channels, -1)).reshape(-1, height, width)


def _style_bank(style: StyleFeatures, patch: int, channels: int | None, max_patches: int
                ) -> tuple[Tensor, Tensor, Tensor]:
    """Unit-norm matching filters ``(L, k, p, p)`` and the centres ``(L,)`` rows/cols of their patches."""

    def make() -> tuple[Tensor, Tensor, Tensor]:
        mean, basis = _style_basis(style, channels)
        projected = _project(style.features, mean, basis)
        k, height, width = projected.shape
        rows = torch.arange(height - patch + 1, device=projected.device)
        cols = torch.arange(width - patch + 1, device=projected.device)
        stride = max(1, math.ceil(math.sqrt(len(rows) * len(cols) / max_patches)))
        rows, cols = rows[::stride], cols[::stride]
        windows = projected.unfold(1, patch, 1).unfold(2, patch, 1)  # (k, H', W', p, p)
        windows = windows[:, rows][:, :, cols]  # (k, h, w, p, p)
        filters = windows.permute(1, 2, 0, 3, 4).reshape(-1, k, patch, patch)
        norms = filters.flatten(1).norm(dim=1).clamp_min(1e-8)
        filters = (filters / norms[:, None, None, None]).contiguous()
        centre_rows = (rows[:, None] + patch // 2).expand(len(rows), len(cols)).reshape(-1)
        centre_cols = (cols[None, :] + patch // 2).expand(len(rows), len(cols)).reshape(-1)
        return filters, centre_rows, centre_cols

    return style.cached(f"s2_bank_{patch}_{channels}_{max_patches}", make)


def match_dtype_for(requested: str, device: torch.device) -> torch.dtype:
    """The dtype of the matching scores for ``requested`` (one of :data:`MATCH_DTYPES`) on ``device``."""
    if requested not in MATCH_DTYPES:
        raise ValueError(f"unknown match_dtype {requested!r}; choose from {MATCH_DTYPES}")
    if requested == "auto":
        return torch.bfloat16 if _fast_bfloat16(device.type) else torch.float32
    return getattr(torch, requested)


@functools.cache
def _fast_bfloat16(device_type: str) -> bool:
    """Whether a ``device_type`` device multiplies bfloat16 matrices natively (CUDA; a CPU with AMX or
    AVX512-BF16): there a bfloat16 product runs several times faster than float32 (7x on an AMX Xeon); emulated,
    it is slower. Asked once per device type (S2 runs per video frame)."""
    if device_type == "cuda":
        return True
    if device_type != "cpu":
        return False
    cpu = getattr(torch, "cpu", None)
    checks = [getattr(cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    return any(check is not None and bool(check()) for check in checks)


def _best_patches(query: Tensor, filters: Tensor, patch: int, memory_mb: float) -> Tensor:
    """Index of the best-matching filter at every position of ``query`` ``(k, H, W)``, chunked.

    One matrix product per block (position windows x flattened filters, in ``filters``' dtype) -- a GEMM runs
    faster than the equivalent convolution, and in bfloat16 it uses the hardware's matrix units. Blocks of
    positions and of filters stay below ``memory_mb``; a running maximum over filter blocks keeps the first
    best index, so the block sizes never change the result.
    """
    radius = patch // 2
    _, height, width = query.shape
    mode = "reflect" if radius < height and radius < width else "replicate"
    padded = F.pad(query[None], (radius, radius, radius, radius), mode=mode)[0] if radius else query
    windows = padded.to(filters.dtype).unfold(1, patch, 1).unfold(2, patch, 1)  # (k, H, W, p, p) view
    weights = filters.flatten(1)  # (L, k p p)
    budget = max(1, int(memory_mb * 2**20 / 4))  # scores per block
    n_filters = weights.shape[0]
    filter_chunk = max(1, min(n_filters, budget // max(1, width)))
    band = max(1, min(height, budget // max(1, width * filter_chunk)))
    best = torch.empty(height, width, dtype=torch.long, device=query.device)
    for top in range(0, height, band):
        bottom = min(height, top + band)
        rows = windows[:, top:bottom].permute(1, 2, 0, 3, 4).reshape((bottom - top) * width, -1)
        best_score = best_index = None
        for start in range(0, n_filters, filter_chunk):
            score, index = (rows @ weights[start: start + filter_chunk].T).max(1)
            if best_score is None:
                best_score, best_index = score, index + start
            else:
                better = score > best_score
                best_score = torch.where(better, score, best_score)
                best_index = torch.where(better, index + start, best_index)
        best[top:bottom] = best_index.reshape(bottom - top, width)
    return best


def _overlap_average(style: Tensor, best: Tensor, centre_rows: Tensor, centre_cols: Tensor, patch: int) -> Tensor:
    """Paste each chosen ``p x p`` style patch at its content position and average overlaps.

    Gathered and summed channels-last (one contiguous row of ``C`` values per position), which is several times
    faster than gathering a column per channel.
    """
    channels, style_h, style_w = style.shape
    height, width = best.shape
    table = style.reshape(channels, -1).T.contiguous()  # (style positions, C)
    rows, cols = centre_rows[best], centre_cols[best]  # (H, W) style centre of each content position
    out = style.new_zeros(height, width, channels)
    count = style.new_zeros(height, width, 1)
    radius = patch // 2
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            # content position p contributes its patch's (dy, dx) element to pixel p + (dy, dx)
            y0, y1 = max(0, -dy), min(height, height - dy)
            x0, x1 = max(0, -dx), min(width, width - dx)
            if y0 >= y1 or x0 >= x1:
                continue
            index = (rows[y0:y1, x0:x1] + dy) * style_w + (cols[y0:y1, x0:x1] + dx)
            out[y0 + dy: y1 + dy, x0 + dx: x1 + dx] += table[index]
            count[y0 + dy: y1 + dy, x0 + dx: x1 + dx] += 1
    return out.div_(count.clamp_min(1)).permute(2, 0, 1).contiguous()


def style_swap(target: Tensor, style: Tensor | StyleFeatures, patch_size: int = 3,
               match_channels: int | None = MATCH_CHANNELS, max_style_patches: int = MAX_STYLE_PATCHES,
               memory_mb: float = 64.0, match_dtype: str = "auto") -> Tensor:
    """Replace each patch of ``target`` by its best NCC match among the style's patches (overlap-averaged).

    ``match_dtype``: dtype of the matching scores (:data:`MATCH_DTYPES`); the pasted values are always the style
    features themselves."""
    target = as_chw(target)
    style = as_style(style)
    if patch_size < 1 or patch_size % 2 == 0:
        raise ValueError(f"patch_size must be odd and >= 1, got {patch_size}")
    if target.shape[0] != style.features.shape[0]:
        raise ValueError(f"content has {target.shape[0]} channels, style {style.features.shape[0]}")
    patch = patch_size if min(style.features.shape[1:]) >= patch_size else 1
    filters, centre_rows, centre_cols = _style_bank(style, patch, match_channels, max_style_patches)
    dtype = match_dtype_for(match_dtype, target.device)
    if dtype != filters.dtype:
        key = f"s2_bank_{patch}_{match_channels}_{max_style_patches}_{dtype}"
        filters = style.cached(key, lambda: filters.to(dtype))
    mean, basis = _style_basis(style, match_channels)
    best = _best_patches(_project(target, mean, basis), filters, patch, memory_mb)
    return _overlap_average(style.features, best, centre_rows, centre_cols, patch)


def s2(content: Tensor, style: Tensor | StyleFeatures, content_mask: Tensor | None = None,
       stats_hook: StatsHook | None = None, patch_size: int = 3, match_channels: int | None = MATCH_CHANNELS,
       max_style_patches: int = MAX_STYLE_PATCHES, align: str = "adain", memory_mb: float = 64.0,
       swap_weight: float = SWAP_WEIGHT, match_dtype: str = "auto") -> Tensor:
    """The sandwich swap transform: ``align((1 - w) a + w swap(a), f_s)`` with ``a = align(f_c, f_s)``.

    ``patch_size``: odd patch side in feature cells; ``match_channels``: PCA directions matched on (``None``: all);
    ``max_style_patches``: style patches kept at most; ``align``: ``adain`` or ``wct``; ``memory_mb``: bound of the
    matching's score blocks; ``swap_weight``: ``w`` in [0, 1] (default :data:`SWAP_WEIGHT`); ``match_dtype``: the
    matching scores' dtype (:data:`MATCH_DTYPES`). ``content_mask`` and
    ``stats_hook`` as for the other transforms; the hook sees the two alignments as ``first.<align>`` and
    ``second.<align>``.
    """
    if align not in ALIGNMENTS:
        raise ValueError(f"unknown alignment {align!r}; choose from {tuple(ALIGNMENTS)}")
    if not 0.0 <= float(swap_weight) <= 1.0:
        raise ValueError(f"swap_weight must be in [0, 1], got {swap_weight}")
    style = as_style(style)
    align_fn = ALIGNMENTS[align]
    first = align_fn(content, style, content_mask, with_prefix(stats_hook, "first."))
    if swap_weight > 0:
        swapped = style_swap(first, style, patch_size, match_channels, max_style_patches, memory_mb, match_dtype)
        if swap_weight < 1:
            swapped = swapped.sub_(first).mul_(swap_weight).add_(first)  # (1 - w) a + w swap(a), one buffer
    else:
        swapped = first
    return align_fn(swapped, style, content_mask, with_prefix(stats_hook, "second."))
