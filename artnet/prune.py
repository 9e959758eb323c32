"""Zero-channel pruning of the encoder through ``core_pruning`` (criterion ``"zero"``), and its report.

ArtNet's observation: many channels of a GoogLeNet encoder are zero after ReLU on every image; they carry
nothing and can be removed without changing any output. ``core_pruning.prune(..., criterion="zero")``
finds channels whose consumers receive exactly 0 on every calibration input and removes them (and the
consumers' input slices) with Torch-Pruning's dependency graph.

How the shipped encoder/decoder pair stays consistent:

* The encoder is pruned together with a consumer of its output, the 1x1 distillation head
  (``inception3b`` -> teacher ``relu4_1``). Without a consumer the last layer's channels would have no
  one to read them and the core keeps them; with it, dead output channels of ``inception3b`` are removed
  as well, so the pruned encoder emits fewer channels.
* The decoder is trained *after* pruning, on the pruned encoder's output width (``train-decoder`` reads
  ``weights/artnet_encoder.pt``), so encoder and decoder agree by construction.
* The kept output channels are stored with the pruned weights (``meta["kept_channels"]``), so the
  unpruned encoder can be paired with the same decoder (zero weights for the removed inputs) for speed
  comparisons; on calibration images the two pairs give the same result.

Calibration data: every training image (``artnet.data.training_images``) at long side 512, padded to a
multiple of 8 -- the data the encoder was distilled on, at the working resolution of the benchmarks.
Held-out images (never trained or calibrated on) measure how often removed channels would have fired.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .encoder import ConvReLU, GoogLeNetEncoder
from .images import fit_long_side, resize, to_tensor
from .padding import pad_to_multiple

CALIBRATION_SIZE = 512
_BRANCHES = ("branch1", "branch2", "branch3", "branch4")


class EncoderWithHead(nn.Module):
    """The encoder followed by its 1x1 head, so that the encoder's own output channels have a consumer."""

    def __init__(self, encoder: GoogLeNetEncoder, head: nn.Conv2d):
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.encoder(x))


def image_batches(images: dict[str, np.ndarray], size: int = CALIBRATION_SIZE) -> list[Tensor]:
    """One ``(1, 3, H, W)`` batch per image, long side ``size``, padded to a multiple of 8."""
    batches = []
    for array in images.values():
        x = to_tensor(array)
        x = resize(x, *fit_long_side(x.shape[2], x.shape[3], size))
        batches.append(pad_to_multiple(x, 8)[0])
    return batches


def _output_layer_order(encoder: GoogLeNetEncoder) -> list[tuple[str, int]]:
    """``inception3b`` concatenation order: (conv module name, width) of each branch's last conv."""
    block = encoder.inception3b
    last = {"branch1": block.branch1, "branch2": block.branch2[1], "branch3": block.branch3[1],
            "branch4": block.branch4[1]}
    names = {"branch1": "inception3b.branch1.conv", "branch2": "inception3b.branch2.1.conv",
             "branch3": "inception3b.branch3.1.conv", "branch4": "inception3b.branch4.1.conv"}
    return [(names[b], last[b].conv.out_channels) for b in _BRANCHES]


def kept_output_channels(unpruned: GoogLeNetEncoder, removed: dict[str, list[int]]) -> list[int]:
    """Indices (in the unpruned 480-channel output) of the channels the pruned encoder still emits."""
    kept, offset = [], 0
    for name, width in _output_layer_order(unpruned):
        gone = set(removed.get(f"encoder.{name}", []))
        kept.extend(offset + i for i in range(width) if i not in gone)
        offset += width
    return kept


def prune_encoder(encoder: GoogLeNetEncoder, head: nn.Conv2d, calibration: list[Tensor]
                  ) -> tuple[GoogLeNetEncoder, nn.Conv2d, dict[str, Any], Any]:
    """Zero-channel prune copies of ``encoder`` + ``head`` on ``calibration``; return them, report, plan."""
    import core_pruning

    model = EncoderWithHead(copy.deepcopy(encoder).eval(), copy.deepcopy(head).eval())
    result = core_pruning.prune(model, calibration[0], criterion="zero", calib_data=calibration)
    return model.encoder, model.head, result.report, result.plan


@torch.no_grad()
def verify_identical(unpruned: GoogLeNetEncoder, pruned: GoogLeNetEncoder, kept: list[int],
                     batches: list[Tensor]) -> dict[str, float]:
    """Largest |difference| between pruned features and the unpruned ones (kept channels), and the largest
    |value| the unpruned encoder puts in removed output channels, over ``batches``."""
    removed = sorted(set(range(unpruned.out_channels)) - set(kept))
    max_diff, max_removed = 0.0, 0.0
    for x in batches:
        full = unpruned(x)
        max_diff = max(max_diff, float((pruned(x) - full[:, kept]).abs().max()))
        if removed:
            max_removed = max(max_removed, float(full[:, removed].abs().max()))
    return {"max_abs_diff": max_diff, "max_abs_removed_output": max_removed}


@torch.no_grad()
def firing_on(unpruned: GoogLeNetEncoder, removed: dict[str, list[int]], batches: list[Tensor]
              ) -> dict[str, Any]:
    """How often channels that pruning removed are non-zero on ``batches`` (e.g. held-out images).

    Per layer: fraction of (removed channel, image) pairs where the channel is > 0 anywhere, and the
    largest value relative to the layer's mean activation of kept channels.
    """
    # hooks on the convolutions themselves (always called; the encoder may pool before a block's ReLU),
    # their outputs passed through the ReLU here: exactly the block's post-ReLU output
    modules = {f"encoder.{name}.conv": module.conv for name, module in unpruned.named_modules()
               if isinstance(module, ConvReLU)}
    outputs: dict[str, list[Tensor]] = {}
    handles = []
    for layer in removed:
        if layer not in modules:
            raise ValueError(f"pruned layer {layer} is not a convolution of this encoder")
        handles.append(modules[layer].register_forward_hook(
            lambda m, i, o, layer=layer: outputs.setdefault(layer, []).append(o.detach().clamp_min(0))))
    try:
        for x in batches:
            unpruned(x)
    finally:
        for handle in handles:
            handle.remove()
    per_layer: dict[str, dict[str, float]] = {}
    fired_pairs = total_pairs = 0
    for layer, idxs in removed.items():
        if layer not in outputs or not idxs:
            continue
        fired = 0
        peak = 0.0
        typical = []
        for out in outputs[layer]:
            active = out[0, idxs].flatten(1).amax(1)
            fired += int((active > 0).sum())
            peak = max(peak, float(active.max()))
            kept = [c for c in range(out.shape[1]) if c not in set(idxs)]
            if kept:
                typical.append(float(out[0, kept].mean()))
        pairs = len(idxs) * len(outputs[layer])
        fired_pairs += fired
        total_pairs += pairs
        mean_kept = sum(typical) / len(typical) if typical else float("nan")
        per_layer[layer] = {"fired_fraction": fired / pairs, "peak": peak,
                            "peak_over_mean_kept": peak / mean_kept if mean_kept and mean_kept > 0 else float("nan")}
    return {"images": len(batches), "fired_fraction": fired_pairs / total_pairs if total_pairs else 0.0,
            "per_layer": per_layer}


def layer_table(unpruned: GoogLeNetEncoder, removed: dict[str, list[int]]) -> list[dict[str, Any]]:
    """One row per encoder convolution: channels before, removed, kept."""
    rows = []
    for name, module in unpruned.named_modules():
        if isinstance(module, ConvReLU):
            key = f"encoder.{name}.conv"
            gone = len(removed.get(key, []))
            rows.append({"layer": name, "channels": module.conv.out_channels, "removed": gone,
                         "kept": module.conv.out_channels - gone})
    return rows


# -- the decoder ------------------------------------------------------------------------------------------------
#: Transforms whose results calibrate the decoder's zero-channel pruning (besides the content's own features).
DECODER_CALIBRATION_TRANSFORMS = ("adain", "wct", "s2")


@torch.no_grad()
def decoder_inputs(encoder: nn.Module, contents: dict[str, np.ndarray], styles: dict[str, np.ndarray],
                   size: int = CALIBRATION_SIZE, styles_per_content: int = 4) -> list[Tensor]:
    """What the decoder reads in use, for every content image at long side ``size``: its own features (alpha 0)
    and, for ``styles_per_content`` styles each (round robin over ``styles``), the results of
    :data:`DECODER_CALIBRATION_TRANSFORMS` and of AdaIN at alpha 0.5.

    Why these cover the alphas and blends between them: the decoder's first layer is a 1x1 convolution, so its
    pre-activation at a position is linear in the input; where two inputs both give <= 0 (a dead channel), every
    convex combination of them does too.
    """
    from .model import STYLE_SIZE
    from .transforms import TRANSFORMS, StyleFeatures
    from .transforms.stats import as_chw

    style_features = []
    for array in styles.values():
        x = to_tensor(array)
        x = resize(x, *fit_long_side(x.shape[2], x.shape[3], STYLE_SIZE))
        style_features.append(StyleFeatures(as_chw(encoder(pad_to_multiple(x, 8)[0]))))
    inputs = []
    for i, batch in enumerate(image_batches(contents, size)):
        content = encoder(batch)
        inputs.append(content)
        for k in range(min(styles_per_content, len(style_features))):
            style = style_features[(i + k) % len(style_features)]
            for name in DECODER_CALIBRATION_TRANSFORMS:
                inputs.append(TRANSFORMS[name](content, style).reshape(content.shape))
            inputs.append(0.5 * content + 0.5 * TRANSFORMS["adain"](content, style).reshape(content.shape))
    return inputs


def prune_decoder(decoder: nn.Module, calibration: list[Tensor]) -> tuple[nn.Module, dict[str, Any], Any]:
    """Zero-channel prune a copy of ``decoder`` on ``calibration`` inputs (:func:`decoder_inputs`); return it, the
    core's report and plan. Its last layer (the RGB output) is never pruned."""
    import core_pruning

    model = copy.deepcopy(decoder).float().eval()
    result = core_pruning.prune(model, calibration[0], criterion="zero", calib_data=calibration)
    return model, result.report, result.plan


@torch.no_grad()
def decoder_difference(unpruned: nn.Module, pruned: nn.Module, inputs: list[Tensor]) -> dict[str, float]:
    """Largest |pixel difference| (images clamped to [0, 1], as shown) between the two decoders over ``inputs``."""
    worst = max((float((pruned(x).clamp(0, 1) - unpruned(x).clamp(0, 1)).abs().max()) for x in inputs), default=0.0)
    return {"max_abs_pixel_diff": worst, "inputs": len(inputs)}
