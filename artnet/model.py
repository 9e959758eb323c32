"""``ArtNet``: encoder + feature transform + decoder, with the options users of AdaIN/WCT tools expect.

One call, :meth:`ArtNet.stylize`, covers: the content-style trade-off ``alpha``; colour preservation;
several styles mixed with weights (the transformed features are mixed, as in AdaIN's interpolation);
a spatial mask (two styles, one per region, each with the content statistics of its own region);
any resolution up to 4K in bounded memory (seamless tiling, :mod:`artnet.tiling`); cached style
features (:meth:`ArtNet.encode_style`) for repeated use, e.g. video. Constructing an ``ArtNet`` changes
nothing outside it; a process that mainly stylises on the CPU may opt in to
:func:`artnet.runtime.retain_freed_memory`, as the command line and the demo do.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from prunelab.device import resolve_device
from prunelab.errors import InputError

from .color import preserve_color as _preserve_color
from .decoder import Decoder
from .encoder import GoogLeNetEncoder, imagenet_encoder
from .images import fit_long_side, resize
from .padding import pad_to_multiple, unpad
from .skips import BOTTLENECK, skip_levels
from .tiling import decode_tiled, encode_tiled
from .transforms import DEFAULT_TRANSFORM, TRANSFORMS, StatsHook, StyleFeatures, adain, with_prefix

#: Default long side of style images (style statistics barely change above it; bigger costs S2 time).
STYLE_SIZE = 512
#: Named encoders of :meth:`ArtNet.load` (anything else is a weights file).
ENCODER_CHOICES = ("pruned", "unpruned", "imagenet")
#: Contents above this many pixels keep a skip decoder's skip maps (1/2 and 1/4 resolution, :mod:`artnet.skips`)
#: in float16: at 4K they would take 0.9 GB in float32, more than everything else tiling keeps. A pixel count, not
#: the tile size, decides, so tiled and whole-image results stay equal; smaller images keep float32.
SKIP_HALF_PIXELS = 2 ** 21
#: ``precision`` of :class:`ArtNet`: the dtype its encoder and decoder convolutions run in (autocast).
PRECISIONS = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class StylizeResult:
    """The stylised image ``(1, 3, H, W)`` in [0, 1] and where the time went (seconds)."""

    image: Tensor
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)


def check_weights(weights: Sequence[float] | None, count: int) -> list[float]:
    """Validate style-mixing weights: one non-negative number per style, positive sum; normalised."""
    if weights is None:
        return [1.0 / count] * count
    values = [float(w) for w in weights]
    if len(values) != count:
        raise InputError(f"got {len(values)} weights for {count} styles")
    if any(not torch.isfinite(torch.tensor(w)) or w < 0 for w in values) or sum(values) <= 0:
        raise InputError(f"style weights must be non-negative with a positive sum, got {values}")
    total = sum(values)
    return [w / total for w in values]


class ArtNet:
    """Universal style transfer with a GoogLeNet encoder (pruned by default) and a light decoder.

    ``encoder``/``decoder``: normally :class:`GoogLeNetEncoder`/:class:`Decoder`; any pair with
    ``out_channels``/``in_channels`` (and optionally ``tile_halo``/``tile_halo_cells``) works, which is how the
    benchmarks run baselines through the same pipeline. ``device``: ``"auto"``, ``"cpu"``, ``"cuda"``... or a
    ``torch.device``. ``tile``: tile side in pixels (>= 64) that bounds the memory of large images.
    ``precision``: ``float32`` (default), ``bfloat16`` or ``float16`` -- the encoder's and decoder's
    convolutions run under ``torch.autocast`` in that dtype, while the feature transforms (statistics, whitening,
    patch matching) and the returned image stay float32, so only the networks' rounding changes (tolerance:
    ``tests/test_artnet_precision.py``). Half precision is for GPUs; on a CPU bfloat16 runs but is rarely faster.
    ``default_alpha``: the alpha :meth:`stylize` uses when given none (:meth:`load` reads it from the decoder's
    card; 1 here). Both networks are moved to ``device`` in eval mode without gradients; no process-wide setting changes
    (for faster CPU inference call :func:`artnet.runtime.retain_freed_memory` yourself).
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, device: str | torch.device = "cpu",
                 tile: int = 1024, precision: str = "float32", default_alpha: float = 1.0):
        if decoder.in_channels != encoder.out_channels:
            raise InputError(f"decoder expects {decoder.in_channels} channels but the encoder gives "
                             f"{encoder.out_channels}: they were not trained together")
        self.device = resolve_device(str(device)) if isinstance(device, str) else device
        memory_format = torch.channels_last
        self.encoder = encoder.eval().requires_grad_(False).to(self.device, memory_format=memory_format)
        self.decoder = decoder.eval().requires_grad_(False).to(self.device, memory_format=memory_format)
        if tile < 64:
            raise InputError(f"{{option}} must be >= 64 pixels, got {tile}", option="tile")
        self.tile = tile
        if precision not in PRECISIONS:
            raise InputError(f"unknown {{option}} {precision!r}; choose from {', '.join(PRECISIONS)}",
                             option="precision")
        self.precision = precision
        if not 0.0 <= float(default_alpha) <= 1.0:
            raise InputError(f"{{option}} must be in [0, 1], got {default_alpha}", option="default_alpha")
        self.default_alpha = float(default_alpha)

    def _autocast(self) -> torch.autocast:
        """The networks' precision context (a no-op for float32)."""
        dtype = PRECISIONS[self.precision]
        return torch.autocast(self.device.type, dtype=dtype or torch.float32, enabled=dtype is not None)

    @classmethod
    def load(cls, encoder: str = "pruned", decoder: str | Path | None = None, device: str = "auto",
             tile: int = 1024, precision: str = "float32") -> ArtNet:
        """Shipped weights: ``encoder`` is ``pruned`` (default), ``unpruned``, ``imagenet`` or a file path.

        The decoder defaults to the shipped one (trained for the pruned encoder, with encoder skips); its card's
        ``default_alpha`` becomes :attr:`default_alpha`;
        ``unpruned`` pairs the encoder from before zero-channel pruning with that decoder, its input widened by
        zero weights for the channels encoder pruning removed (those channels are zero on every calibration
        image, so the result matches the pruned pair there; the skip levels lost no channel).
        """
        from prunelab.paths import weights_file

        from .weights import UNPRUNED_ENCODER_FILE, default_alpha, load_decoder, load_encoder

        alpha = default_alpha(decoder)
        if encoder == "unpruned":  # the encoder as it was before zero-channel pruning
            enc = load_encoder(weights_file(UNPRUNED_ENCODER_FILE))
            return cls(enc, widen_decoder_for(load_decoder(decoder), enc), device=device, tile=tile,
                       precision=precision, default_alpha=alpha)
        dec = load_decoder(decoder)
        if encoder == "pruned":
            enc = load_encoder()
        elif encoder == "imagenet":
            if decoder is None:
                raise InputError("no decoder ships for the ImageNet encoder: train one for it (artnet.train_decoder, "
                                 "the train-decoder command) and pass it as {option}", option="decoder")
            enc = imagenet_encoder()
        else:
            enc = load_encoder(encoder)
        return cls(enc, dec, device=device, tile=tile, precision=precision, default_alpha=alpha)

    # -- building blocks -------------------------------------------------------------------------------
    @torch.inference_mode()
    def encode(self, image: Tensor) -> Tensor:
        """Features ``(1, C, ceil(H/8), ceil(W/8))`` of a ``(1, 3, H, W)`` image in [0, 1] (tiled)."""
        _check_image(image)
        return self._encode(image)

    def _encode(self, image: Tensor) -> Tensor:  # an image already validated
        return self._encode_levels(image)[0]

    def _encode_levels(self, image: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Bottleneck features and the decoder's skip features (``{}`` for a decoder without skips), tiled."""
        padded, _ = pad_to_multiple(image.to(self.device), 8)
        padded = padded.contiguous(memory_format=torch.channels_last)
        levels = skip_levels(self.decoder)
        with self._autocast():
            if not levels:
                return encode_tiled(self.encoder, padded, self.tile).float(), {}
            store = torch.float16 if padded.shape[2] * padded.shape[3] > SKIP_HALF_PIXELS else torch.float32
            out = encode_tiled(self.encoder, padded, self.tile, levels=(*levels, BOTTLENECK),
                               dtypes=dict.fromkeys(levels, store))
        bottleneck = out.pop(BOTTLENECK).float()
        return bottleneck, {level: features.to(store) for level, features in out.items()}

    @torch.inference_mode()
    def decode(self, features: Tensor, size: tuple[int, int], skips: dict[str, Tensor] | None = None) -> Tensor:
        """Image ``(1, 3, H, W)`` in [0, 1] from features (and the skips of a decoder with skips, each
        ``(1, C, H', W')``), cropped to ``size`` (tiled)."""
        features = features.contiguous(memory_format=torch.channels_last)
        with self._autocast():
            image = decode_tiled(self.decoder, features, self.tile, skips or None)
        return unpad(image.float(), size).clamp_(0, 1)

    @torch.inference_mode()
    def reconstruct(self, image: Tensor) -> Tensor:
        """The decoder's inversion of the encoder (``alpha = 0``, skips included): what the networks keep."""
        _check_image(image)
        features, skips = self._encode_levels(image)
        return self.decode(features, tuple(image.shape[2:]), skips)

    @torch.inference_mode()
    def encode_style(self, image: Tensor, size: int = STYLE_SIZE) -> StyleFeatures:
        """Encode a style image once (resized to long side ``size``; 0 keeps it) for repeated use."""
        _check_image(image)
        if size:
            image = resize(image, *fit_long_side(image.shape[2], image.shape[3], size))
        features, skips = self._encode_levels(image)
        return StyleFeatures(features[0], skips={level: StyleFeatures(f[0]) for level, f in skips.items()})

    # -- the main entry point --------------------------------------------------------------------------
    @torch.inference_mode()
    def stylize(self, content: Tensor, styles: Tensor | StyleFeatures | Sequence[Tensor | StyleFeatures],
                weights: Sequence[float] | None = None, mask: Tensor | None = None, transform: str = DEFAULT_TRANSFORM,
                alpha: float | None = None, preserve_color: bool = False, style_size: int = STYLE_SIZE,
                stats_hook: StatsHook | None = None, **transform_options) -> StylizeResult:
        """Stylise ``content`` ``(1, 3, H, W)`` in [0, 1].

        ``styles``: one or several style images ``(1, 3, h, w)`` or cached :class:`StyleFeatures`.
        ``weights``: mixing weights for several styles (normalised). ``mask`` ``(H, W)`` in [0, 1]: style 0
        where 1 (white), style 1 where 0 -- needs exactly two styles and no weights. ``alpha`` in [0, 1]:
        1 = fully stylised, 0 = content reconstruction; ``None``: :attr:`default_alpha` (from the decoder's
        card, :func:`artnet.weights.default_alpha`). ``transform``: a name of
        :data:`artnet.transforms.TRANSFORMS` (``s2``, ``adain``, ``wct``); ``transform_options`` go to it (e.g.
        ``swap_weight``, ``max_style_patches`` for S2). ``style_size``: long side style images are resized to
        (cached :class:`StyleFeatures` are used as they are). ``stats_hook``: may replace the content
        statistics each alignment measures (video smoothing, :mod:`artnet.video`).
        """
        start = time.perf_counter()
        timings: dict[str, float] = {}
        if transform not in TRANSFORMS:
            raise InputError(f"unknown {{option}} {transform!r}; choose from {', '.join(TRANSFORMS)}",
                             option="transform")
        alpha = self.default_alpha if alpha is None else alpha
        if not 0.0 <= float(alpha) <= 1.0:
            raise InputError(f"{{option}} must be in [0, 1], got {alpha}", option="alpha")
        style_list = list(styles) if isinstance(styles, (list, tuple)) else [styles]
        if not style_list:
            raise InputError("at least one style is needed")
        if mask is not None:
            if len(style_list) != 2 or weights is not None:
                raise InputError("a mask needs exactly two styles (style 1 where the mask is white, style 2 "
                                 "where it is black) and no {option}", option="weights")
        mix = check_weights(weights, len(style_list))
        _check_image(content)
        content = content.to(self.device)
        height, width = content.shape[2:]

        tick = time.perf_counter()
        features, skips = self._encode_levels(content)
        features = features[0]
        timings["encode"] = time.perf_counter() - tick
        tick = time.perf_counter()
        cached = [s if isinstance(s, StyleFeatures) else self.encode_style(s.to(self.device), style_size)
                  for s in style_list]
        for s in cached:
            if s.features.shape[0] != features.shape[0]:
                raise InputError(f"style features have {s.features.shape[0]} channels, content "
                                 f"{features.shape[0]}: encoded with another encoder")
            if set(skips) - set(s.skips):
                raise InputError("the style was encoded for a decoder without skips: encode it with this ArtNet")
        timings["encode_style"] = time.perf_counter() - tick

        tick = time.perf_counter()
        fn = TRANSFORMS[transform]
        if alpha == 0:
            mixed = features
        else:
            if mask is not None:
                regions = _region_weights(mask, features.shape[1:], self.device)
                mixed = torch.zeros_like(features)
                for i, (style, region) in enumerate(zip(cached, regions, strict=True)):
                    if float(region.sum()) > 0:
                        out = fn(features, style, content_mask=region,
                                 stats_hook=with_prefix(stats_hook, f"style{i}."), **transform_options)
                        mixed += out * region
            else:
                mixed = torch.zeros_like(features)
                for i, (style, w) in enumerate(zip(cached, mix, strict=True)):
                    if w > 0:
                        mixed += w * fn(features, style, stats_hook=with_prefix(stats_hook, f"style{i}."),
                                        **transform_options)
            if alpha < 1:
                mixed = alpha * mixed + (1 - alpha) * features
            for level in list(skips):  # one level at a time: each content map is freed once aligned
                skips[level] = _align_skip(level, skips[level][0], cached, mix, mask, alpha, stats_hook)[None]
        timings["transform"] = time.perf_counter() - tick

        tick = time.perf_counter()
        image = self.decode(mixed[None], (height, width), skips)
        if preserve_color:
            image = _preserve_color(image, content)
        timings["decode"] = time.perf_counter() - tick
        return StylizeResult(image=image, seconds=time.perf_counter() - start, timings=timings)


def _align_skip(level: str, features: Tensor, styles: list[StyleFeatures], mix: list[float], mask: Tensor | None,
                alpha: float, stats_hook: StatsHook | None) -> Tensor:
    """One skip level aligned as :mod:`artnet.skips` says: AdaIN toward each style at this level, mixed by the
    style weights (or the mask's regions), then blended with the content's own features by ``alpha``."""
    if mask is None and len(styles) == 1:  # one style: the alpha blend folds into AdaIN's per-channel affine map
        return adain(features, styles[0].skips[level], stats_hook=with_prefix(stats_hook, f"style0.{level}."),
                     alpha=alpha)
    if mask is not None:
        regions = _region_weights(mask, features.shape[1:], features.device)
        parts = [(region, {"content_mask": region}) for region in regions]
    else:
        parts = [(w, {}) for w in mix]
    out: Tensor | None = None
    for i, (style, (weight, options)) in enumerate(zip(styles, parts, strict=True)):
        if float(weight.sum() if isinstance(weight, Tensor) else weight) <= 0:
            continue
        aligned = adain(features, style.skips[level], stats_hook=with_prefix(stats_hook, f"style{i}.{level}."),
                        **options)
        if not (isinstance(weight, float) and weight == 1.0):
            aligned = aligned.mul_(weight)
        out = aligned if out is None else out.add_(aligned)
    assert out is not None  # check_weights / the mask leave at least one part with weight
    return out if alpha == 1 else out.mul_(alpha).add_(features, alpha=1 - alpha)


def _check_image(image: Tensor) -> None:
    if image.dim() != 4 or image.shape[0] != 1 or image.shape[1] != 3:
        raise InputError(f"expected an image tensor of shape (1, 3, H, W), got {tuple(image.shape)}")
    if image.shape[2] < 1 or image.shape[3] < 1:
        raise InputError("image has no pixels")
    low, high = torch.aminmax(image)  # one pass; NaN propagates into both, +-inf shows in one
    if not (math.isfinite(float(low)) and math.isfinite(float(high))):
        raise InputError("image contains NaN or infinite values")


def _region_weights(mask: Tensor, size: tuple[int, int], device: torch.device) -> list[Tensor]:
    """Two soft region maps at feature resolution from an ``(H, W)`` mask: mask and 1 - mask."""
    if mask.dim() != 2:
        raise InputError(f"mask must be a 2-D (H, W) array, got shape {tuple(mask.shape)}")
    small = F.interpolate(mask.float()[None, None].to(device), size=size, mode="area")[0, 0].clamp(0, 1)
    return [small, 1 - small]


def widen_decoder_for(decoder: Decoder, encoder: GoogLeNetEncoder) -> Decoder:
    """A copy of ``decoder`` accepting the unpruned encoder's channels (zero weights for pruned ones).

    Needs the list of kept channels stored with the pruned encoder's weights (``meta["kept_channels"]``).
    """
    import copy

    from .weights import encoder_meta

    levels = encoder.level_channels()
    if any(levels[level] != channels for level, channels in decoder.skip_channels().items()):
        raise InputError("cannot pair this decoder with the unpruned encoder: its skip levels differ in width")
    if decoder.in_channels == encoder.out_channels:
        return decoder
    kept = encoder_meta().get("kept_channels")
    if kept is None or len(kept) != decoder.in_channels:
        raise InputError("cannot pair this decoder with the unpruned encoder: kept-channel list missing")
    wide = copy.deepcopy(decoder)
    old = decoder.reduce
    wide.reduce = torch.nn.Conv2d(encoder.out_channels, old.out_channels, 1)
    with torch.no_grad():
        wide.reduce.weight.zero_()
        wide.reduce.weight[:, kept] = old.weight
        wide.reduce.bias.copy_(old.bias)
    return wide
