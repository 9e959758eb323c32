"""The ArtNet decoder: a light mirror of the GoogLeNet encoder that inverts 1/8-resolution features.

Mirror of the encoder, stage by stage (reflection-padded convolutions against border artefacts, nearest
2x up-sampling where the encoder down-sampled):

=========  ======================================  =====================================
scale      decoder                                 mirrors encoder
=========  ======================================  =====================================
1/8        1x1 C->w0, 3x3 w0->w0                   inception3b, inception3a (1x1 then 3x3)
1/4        3x3 w0->w1, 3x3 w1->w1                  conv3 (3x3), conv2 (1x1)
1/2        3x3 w1->w2                              maxpool1 output of conv1
1/1        3x3 w2->w3, 3x3 w3->3 (no ReLU)          conv1 (7x7, stride 2)
=========  ======================================  =====================================

Widths default to (128, 64, 32, 16): about 5 GMAC at 512x512 as written, an order of magnitude below
VGG19's mirror decoder (~60 GMAC), which is what makes real-time use possible. The output is RGB; callers
clamp to [0, 1].

Skips (optional, ``skip_channels``): the encoder's ``conv3`` (1/4) and ``conv1`` (1/2) features, each through
a zero-initialised 1x1 convolution, are added to the pre-activations of ``conv4a`` and ``conv2`` (the first
layers at those scales). Why: a decoder that sees only the 1/8 bottleneck must invent everything finer than 8
pixels -- whiskers, cables, rigging -- and a light one invents blur. The caller passes the skip features already
aligned to the style (:func:`artnet.transforms.adain` toward the style's statistics at the same level, mixed
with the content's by ``alpha``), so the style transfer stays in the transform: the skips carry where the
strokes go, the aligned statistics what they look like. Zero initialisation makes a fresh skip decoder compute
exactly what the decoder without skips computes, so one can be fine-tuned from the other.

Speed: each "nearest 2x up-sampling then reflection-padded 3x3 conv" is computed on the small input as one
transposed convolution (:class:`UpsampleConv3x3`), exactly the same function with 4/9 of the multiply-adds
and no up-sampled copy (about 3 GMAC executed at 512x512; FLOPs counters report the literal 5 GMAC);
``Decoder.forward_reference`` keeps the literal form.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: Decoder receptive-field radius in 1/8-resolution feature cells (for tiling halos): 1 + 2/2 + 1/4 + 2/8 < 3.
FEATURE_RADIUS = 3


def _transposed_taps(k: Tensor, dim: int) -> Tensor:
    """The 4 taps of the transposed (stride 2) convolution equal to nearest 2x up-sampling + the 3 taps of ``k``.

    Output row ``2i`` reads up-sampled rows ``2i-1, 2i, 2i+1`` = input rows ``i-1, i, i`` (taps w0 | w1+w2);
    row ``2i+1`` reads ``2i, 2i+1, 2i+2`` = input rows ``i, i, i+1`` (taps w0+w1 | w2). A transposed
    convolution with stride 2 and padding p sends input row ``j`` to output row ``2j + t - p`` with tap ``t``,
    so (p = 1 on the padded input) the taps are ``w2, w1+w2, w0+w1, w0``.
    """
    w0, w1, w2 = k.unbind(dim)
    return torch.stack([w2, w1 + w2, w0 + w1, w0], dim)


def upsample2_conv3(x: Tensor, conv: nn.Conv2d) -> Tensor:
    """``conv(nearest_upsample_2x(x))`` for a reflection-padded 3x3 ``conv``, computed on ``x`` directly.

    Reflection padding (by 1) of a 2x nearest up-sampled map repeats its border rows, which is replicate
    padding of ``x`` seen through the up-sampling. So the result is one transposed convolution (stride 2,
    4x4 folded taps, :func:`_transposed_taps`) of the replicate-padded ``x``; its padding 3 crops exactly the
    border the padding added. Exact (same sums, regrouped), differentiable, 4/9 of the multiply-adds, and
    faster than the phase-convolution form it replaced (``docs/notes/artnet.md``).
    """
    if conv.kernel_size != (3, 3) or conv.padding != (1, 1) or conv.stride != (1, 1) or conv.groups != 1:
        raise ValueError("upsample2_conv3 needs a 3x3, stride-1, padding-1 convolution")
    kernel = _transposed_taps(_transposed_taps(conv.weight, 2), 3).transpose(0, 1)  # (I, O, 4, 4)
    padded = F.pad(x, (1, 1, 1, 1), mode="replicate")
    return F.conv_transpose2d(padded, kernel, conv.bias, stride=2, padding=3)


class UpsampleConv3x3(nn.Conv2d):
    """Nearest 2x up-sampling followed by this reflection-padded 3x3 convolution, run as :func:`upsample2_conv3`.

    A ``Conv2d`` (same parameters and state-dict keys as the plain layer it replaces), so FLOPs counters see
    it with its up-sampled output and count the literal convolution; :meth:`literal` runs that form.
    """

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__(in_ch, out_ch, 3, padding=1, padding_mode="reflect")

    def forward(self, x: Tensor) -> Tensor:
        return upsample2_conv3(x, self)

    def literal(self, x: Tensor) -> Tensor:
        """The literal form: nearest 2x up-sampling, then the padded 3x3 convolution (slower, same result)."""
        return super().forward(F.interpolate(x, scale_factor=2, mode="nearest"))


def _recording() -> bool:
    """Whether a graph is being recorded (autograd, tracing, ONNX export): then in-place writes are avoided, as
    Torch-Pruning follows ``grad_fn`` links and exporters want plain ops."""
    return torch.is_grad_enabled() or torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()


def _conv3(in_ch: int, out_ch: int) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 3, padding=1, padding_mode="reflect")


#: The decoder's ReLU layers in order (each one's output width is one entry of :func:`layer_widths`).
LAYERS = ("reduce", "conv8", "conv4a", "conv4b", "conv2", "conv1a")
#: Encoder level of each optional skip and the decoder layer whose pre-activation it joins (same scale).
SKIP_JOINS: dict[str, str] = {"conv3": "conv4a", "conv1": "conv2"}
#: Down-sampling factor of each decoder layer's output (and of the skip that joins it).
LAYER_SCALES: dict[str, int] = {"reduce": 8, "conv8": 8, "conv4a": 4, "conv4b": 4, "conv2": 2, "conv1a": 1,
                                "conv1b": 1}


def layer_widths(widths: tuple[int, ...]) -> tuple[int, int, int, int, int, int]:
    """Output widths of :data:`LAYERS` from ``widths``: the 4 stage widths ``(w0, w1, w2, w3)`` of the mirror
    design (``reduce``/``conv8`` give w0, ``conv4a``/``conv4b`` w1), or 6 per-layer widths, as zero-channel
    pruning leaves them (:func:`artnet.prune.prune_decoder`)."""
    widths = tuple(int(w) for w in widths)
    if len(widths) == 4:
        w0, w1, w2, w3 = widths
        return w0, w0, w1, w1, w2, w3
    if len(widths) == 6 and min(widths) >= 1:
        return widths  # type: ignore[return-value]
    raise ValueError(f"decoder widths must be 4 stage widths or 6 layer widths >= 1, got {widths}")


def skip_name(level: str) -> str:
    """Module name of the 1x1 projection of encoder ``level`` (``skip_conv3``, ``skip_conv1``)."""
    return f"skip_{level}"


class Decoder(nn.Module):
    """Features ``(N, C, H/8, W/8)`` (and optional skips, module docstring) -> image ``(N, 3, H, W)``.

    ``skip_channels``: ``{encoder level: channels}`` for levels of :data:`SKIP_JOINS` (empty: no skips).
    """

    def __init__(self, in_channels: int, widths: tuple[int, ...] = (128, 64, 32, 16),
                 skip_channels: Mapping[str, int] | None = None):
        super().__init__()
        reduce, conv8, conv4a, conv4b, conv2, conv1a = layer_widths(widths)
        self.reduce = nn.Conv2d(in_channels, reduce, 1)
        self.conv8 = _conv3(reduce, conv8)
        self.conv4a = UpsampleConv3x3(conv8, conv4a)  # each UpsampleConv3x3 starts a stage at twice the resolution
        self.conv4b = _conv3(conv4a, conv4b)
        self.conv2 = UpsampleConv3x3(conv4b, conv2)
        self.conv1a = UpsampleConv3x3(conv2, conv1a)
        self.conv1b = _conv3(conv1a, 3)
        self.relu = nn.ReLU()
        for level, channels in (skip_channels or {}).items():
            if level not in SKIP_JOINS:
                raise ValueError(f"unknown skip level {level!r}; choose from {list(SKIP_JOINS)}")
            projection = nn.Conv2d(int(channels), getattr(self, SKIP_JOINS[level]).out_channels, 1)
            nn.init.zeros_(projection.weight)
            nn.init.zeros_(projection.bias)
            self.add_module(skip_name(level), projection)

    @property
    def skip_levels(self) -> tuple[str, ...]:
        """Encoder levels this decoder reads besides its input (empty for the plain decoder)."""
        return tuple(level for level in SKIP_JOINS if hasattr(self, skip_name(level)))

    def skip_channels(self) -> dict[str, int]:
        """``{level: channels}`` of the skips (the constructor argument that rebuilds this decoder)."""
        return {level: getattr(self, skip_name(level)).in_channels for level in self.skip_levels}

    @property
    def in_channels(self) -> int:
        return self.reduce.in_channels

    @property
    def widths(self) -> tuple[int, ...]:
        """The widths it was built with, read from its layers (so they stay true after pruning): 4 stage widths
        while the layers mirror the encoder, else the 6 of :data:`LAYERS`."""
        out = tuple(getattr(self, name).out_channels for name in LAYERS)
        if out[0] == out[1] and out[2] == out[3]:
            return out[0], out[2], out[4], out[5]
        return out

    def executed_macs(self, size: int) -> int:
        """Multiply-adds :meth:`forward` executes for a ``size`` x ``size`` output (each :class:`UpsampleConv3x3`
        at 4/9 of its literal count; FLOPs counters report the literal form)."""
        macs = 0
        layers = [(name, LAYER_SCALES[name]) for name in (*LAYERS, "conv1b")]
        layers += [(skip_name(level), LAYER_SCALES[SKIP_JOINS[level]]) for level in self.skip_levels]
        for name, scale in layers:
            conv = getattr(self, name)
            literal = (size // scale) ** 2 * conv.in_channels * conv.out_channels * conv.kernel_size[0] ** 2
            macs += literal * 4 // 9 if isinstance(conv, UpsampleConv3x3) else literal
        return macs

    def _join(self, y: Tensor, level: str, skips: Mapping[str, Tensor] | None) -> Tensor:
        """``y`` plus the projected skip of ``level`` when this decoder has that skip."""
        if not hasattr(self, skip_name(level)):
            return y
        if skips is None or level not in skips:
            raise ValueError(f"this decoder needs the encoder's {', '.join(self.skip_levels)} features "
                             f"(skips); got {sorted(skips) if skips else 'none'}")
        projected = getattr(self, skip_name(level))(skips[level])
        return y + projected if _recording() else y.add_(projected)  # y is a fresh convolution output

    def forward(self, x: Tensor, skips: Mapping[str, Tensor] | None = None) -> Tensor:
        # every ReLU here acts on a fresh convolution output: in place unless a graph is recorded
        r = self.relu if _recording() else torch.relu_
        x = r(self.conv8(r(self.reduce(x))))
        x = r(self.conv4b(r(self._join(self.conv4a(x), "conv3", skips))))
        x = r(self._join(self.conv2(x), "conv1", skips))
        return self.conv1b(r(self.conv1a(x)))

    def forward_reference(self, x: Tensor, skips: Mapping[str, Tensor] | None = None) -> Tensor:
        """The literal mirror (up-sample, then pad and convolve): what :meth:`forward` computes, slower."""
        r = self.relu
        x = r(self.conv8(r(self.reduce(x))))
        x = r(self.conv4b(r(self._join(self.conv4a.literal(x), "conv3", skips))))
        x = r(self._join(self.conv2.literal(x), "conv1", skips))
        return self.conv1b(r(self.conv1a.literal(x)))
