"""The ArtNet encoder: torchvision's GoogLeNet cut after ``inception3b`` (1/8 resolution, 480 channels).

Why ``inception3b``: it is the last GoogLeNet layer before the third max-pool, so its features sit at
1/8 of the input resolution -- the same scale as VGG19 ``relu4_1``, the layer that AdaIN/WCT-style
universal style transfer works on. Going deeper (``inception4*``, 1/16) loses too much spatial detail for
a light decoder to reconstruct; stopping earlier (``conv3``, 1/4) gives features that carry little style.

Layer names and shapes are torchvision's (``conv1, maxpool1, conv2, conv3, maxpool2, inception3a,
inception3b``) so ImageNet state dicts load key-for-key. Two forms exist:

* ``GoogLeNetEncoder(batchnorm=True)``: conv (no bias) + BatchNorm(eps=1e-3) + ReLU, the form that is
  trained (distillation) or that receives torchvision's ImageNet weights;
* ``GoogLeNetEncoder(batchnorm=False)``: BatchNorm folded into each convolution's weight and bias
  (:func:`fold_batchnorm`), the inference form that is pruned and shipped.

The input is RGB in [0, 1]; the encoder maps it to ``2x - 1``, exactly what torchvision's
``transform_input=True`` produces from ImageNet-normalised input, so ImageNet weights see the input they
were trained on.

Optional multi-level features (:meth:`GoogLeNetEncoder.forward_levels`): ``conv1`` (1/2, 64 ch),
``conv3`` (1/4, 192 ch) and ``inception3b`` (1/8, 480 ch), aligned in scale with the teacher's
``relu2_1``, ``relu3_1`` and ``relu4_1``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import torch
from torch import Tensor, nn

from prunelab.errors import InputError

#: Feature levels returned by :meth:`GoogLeNetEncoder.forward_levels`, with their down-sampling factor.
LEVELS: dict[str, int] = {"conv1": 2, "conv3": 4, "inception3b": 8}
#: Input sides must be multiples of this (the encoder down-samples by 8; callers pad).
STRIDE = 8
#: Receptive-field radius of ``inception3b`` in input pixels (59 px field); tiles need at least this halo.
RECEPTIVE_RADIUS = 30


class ConvBNReLU(nn.Module):
    """torchvision's ``BasicConv2d``: convolution without bias, BatchNorm (eps 1e-3), ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.bn(self.conv(x)))


class ConvReLU(nn.Module):
    """A convolution with bias followed by ReLU: ``ConvBNReLU`` after BatchNorm folding."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x).relu_()


class Inception(nn.Module):
    """torchvision's Inception block (its 'branch3' uses a 3x3 kernel, as torchvision does)."""

    def __init__(self, block: type[nn.Module], in_ch: int, ch1: int, ch3red: int, ch3: int, ch5red: int, ch5: int,
                 pool_proj: int):
        super().__init__()
        self.branch1 = block(in_ch, ch1, 1)
        self.branch2 = nn.Sequential(block(in_ch, ch3red, 1), block(ch3red, ch3, 3, padding=1))
        self.branch3 = nn.Sequential(block(in_ch, ch5red, 1), block(ch5red, ch5, 3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True), block(in_ch, pool_proj, 1))

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class GoogLeNetEncoder(nn.Module):
    """GoogLeNet stem + ``inception3a`` + ``inception3b``; maps RGB in [0, 1] to 1/8-resolution features."""

    def __init__(self, batchnorm: bool = False):
        super().__init__()
        block = ConvBNReLU if batchnorm else ConvReLU
        self.batchnorm = batchnorm
        self.conv1 = block(3, 64, 7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = block(64, 64, 1)
        self.conv3 = block(64, 192, 3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(block, 192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(block, 256, 128, 128, 192, 32, 96, 64)

    @property
    def out_channels(self) -> int:
        """Width of the ``inception3b`` output (480 unpruned; fewer once zero channels are removed)."""
        return _inception_width(self.inception3b)

    def level_channels(self) -> dict[str, int]:
        """Channel count of each level of :meth:`forward_levels`."""
        return {"conv1": self.conv1.conv.out_channels, "conv3": self.conv3.conv.out_channels,
                "inception3b": self.out_channels}

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_levels(x, ("inception3b",))["inception3b"]

    def forward_levels(self, x: Tensor, levels: tuple[str, ...] = tuple(LEVELS)) -> dict[str, Tensor]:
        """Features at the requested ``levels`` (subset of :data:`LEVELS`), stopping at the deepest one.

        Speed (folded form only): where a stage's output is not itself requested, its max-pool runs before
        the ReLU -- ``pool(relu(y)) == relu(pool(y))`` exactly, since ReLU is monotone -- so the ReLU touches a
        4x smaller map (``conv1`` and ``conv3`` outputs are the two largest maps of the encoder). The
        BatchNorm (training) form always calls its blocks as modules, so hooks on them see every output.
        """
        unknown = set(levels) - set(LEVELS)
        if unknown:
            raise ValueError(f"unknown encoder level(s) {sorted(unknown)}; choose from {list(LEVELS)}")
        out: dict[str, Tensor] = {}
        x = x * 2.0 - 1.0
        for level, blocks, pool in (("conv1", (self.conv1,), self.maxpool1),
                                    ("conv3", (self.conv2, self.conv3), self.maxpool2)):
            *first, last = blocks
            for block in first:
                x = block(x)
            if level in levels or self.batchnorm:
                x = last(x)
                if level in levels:
                    out[level] = x
                if len(out) == len(levels):
                    return out
                x = pool(x)
            else:
                x = pool(last.conv(x)).relu_()
        out["inception3b"] = self.inception3b(self.inception3a(x))
        return out


def _inception_width(block: Inception) -> int:
    return (block.branch1.conv.out_channels + block.branch2[1].conv.out_channels
            + block.branch3[1].conv.out_channels + block.branch4[1].conv.out_channels)


def _fold(block: ConvBNReLU) -> ConvReLU:
    conv, bn = block.conv, block.bn
    scale = bn.weight.detach().double() / torch.sqrt(bn.running_var.detach().double() + bn.eps)
    folded = ConvReLU(conv.in_channels, conv.out_channels, conv.kernel_size[0], conv.stride[0], conv.padding[0])
    weight = conv.weight.detach().double() * scale.view(-1, 1, 1, 1)
    bias = bn.bias.detach().double() - bn.running_mean.detach().double() * scale
    folded.conv.weight.data.copy_(weight.to(conv.weight.dtype))
    folded.conv.bias.data.copy_(bias.to(conv.weight.dtype))
    return folded.to(conv.weight.device)


def fold_batchnorm(encoder: GoogLeNetEncoder) -> GoogLeNetEncoder:
    """A new inference encoder whose convolutions absorb the BatchNorm running statistics (eval semantics).

    Folding in float64 keeps the result within float32 rounding of the BatchNorm model in ``eval()``.
    """
    if not encoder.batchnorm:
        return copy.deepcopy(encoder)
    folded = copy.deepcopy(encoder)
    for module in list(folded.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, ConvBNReLU):
                setattr(module, child_name, _fold(child))
    folded.batchnorm = False
    return folded.eval()


def encoder_from_torchvision_state_dict(state_dict: Mapping[str, Tensor]) -> GoogLeNetEncoder:
    """Build the folded encoder from a (full) torchvision GoogLeNet state dict.

    Keys beyond ``inception3b`` (``inception4*``, ``fc``, ``aux*``) are ignored; a missing or mis-shaped
    key of the trunk raises :class:`InputError` naming it.
    """
    trunk = GoogLeNetEncoder(batchnorm=True)
    wanted = trunk.state_dict()
    missing = [k for k in wanted if k not in state_dict]
    if missing:
        raise InputError(f"not a torchvision GoogLeNet state dict: {len(missing)} trunk keys missing, "
                         f"e.g. {missing[0]}")
    bad = [k for k, v in wanted.items() if tuple(state_dict[k].shape) != tuple(v.shape)]
    if bad:
        raise InputError(f"GoogLeNet key {bad[0]} has shape {tuple(state_dict[bad[0]].shape)}, "
                         f"expected {tuple(wanted[bad[0]].shape)}")
    trunk.load_state_dict({k: state_dict[k] for k in wanted})
    return fold_batchnorm(trunk.eval())


def imagenet_encoder(progress: bool = False) -> GoogLeNetEncoder:
    """The folded encoder with torchvision's ImageNet GoogLeNet weights (downloaded once, needs internet).

    Offline, torchvision's download fails; this raises :class:`InputError` with a one-line explanation
    instead of a long network traceback.
    """
    from torchvision.models import GoogLeNet_Weights

    weights = GoogLeNet_Weights.IMAGENET1K_V1
    try:
        state_dict = weights.get_state_dict(progress=progress, check_hash=True)
    except Exception as exc:  # URLError, socket errors, hash mismatch: all mean "not available here"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"cannot download ImageNet GoogLeNet weights from {weights.url} ({reason}); "
            "this needs internet access -- use the shipped distilled encoder (the default) instead"
        ) from exc
    return encoder_from_torchvision_state_dict(state_dict)


def encoder_from_folded_state_dict(state_dict: Mapping[str, Tensor]) -> GoogLeNetEncoder:
    """Rebuild a folded (possibly channel-pruned) encoder from its state dict.

    Pruned encoders have fewer channels in some convolutions; the shapes in ``state_dict`` decide each
    convolution's width, so no separate architecture description is needed.
    """
    encoder = GoogLeNetEncoder(batchnorm=False)
    for name, module in list(encoder.named_modules()):
        if isinstance(module, ConvReLU):
            key = f"{name}.conv.weight"
            if key not in state_dict:
                raise InputError(f"encoder weights lack {key}")
            out_ch, in_ch, kh, _ = state_dict[key].shape
            if (out_ch, in_ch) != (module.conv.out_channels, module.conv.in_channels):
                module.conv = nn.Conv2d(in_ch, out_ch, kh, stride=module.conv.stride, padding=module.conv.padding)
    encoder.load_state_dict({k: v.float() for k, v in state_dict.items()})
    return encoder.eval()
