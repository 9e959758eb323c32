"""Encoder skips for a decoder that reads more than the 1/8 bottleneck (:data:`artnet.decoder.SKIP_JOINS`).

The bottleneck goes through the chosen transform (S2, AdaIN, WCT); each skip level is aligned to the style by
AdaIN at its own level, then mixed with the content's by ``alpha`` like the bottleneck. Why AdaIN there and not
the bottleneck's transform: the skips carry *where* fine structure is (edges, thin lines), and AdaIN keeps that
layout while giving each channel the style's mean and spread; patch swapping or whitening at 1/2 and 1/4
resolution would cost more than the rest of the network. With ``alpha = 0`` the skips are the content's own
features, so reconstruction is exact in form.
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor, nn

from .decoder import Decoder
from .encoder import GoogLeNetEncoder
from .transforms import adain_batch

BOTTLENECK = "inception3b"


def skip_levels(decoder: nn.Module) -> tuple[str, ...]:
    """The encoder levels ``decoder`` reads besides the bottleneck (empty for any decoder without skips)."""
    return tuple(getattr(decoder, "skip_levels", ()))


def encode_levels(encoder: GoogLeNetEncoder, images: Tensor, decoder: nn.Module) -> tuple[Tensor, dict[str, Tensor]]:
    """Bottleneck features and the skip features ``decoder`` needs (``{}`` without skips), one encoder pass."""
    levels = skip_levels(decoder)
    if not levels:
        return encoder(images), {}
    out = encoder.forward_levels(images, (*levels, BOTTLENECK))
    return out.pop(BOTTLENECK), out


def align_skips_batch(content: Mapping[str, Tensor], style: Mapping[str, Tensor], alpha: float | Tensor = 1.0,
                      eps: float = 1e-5) -> dict[str, Tensor]:
    """Per-sample AdaIN of each content skip toward the style's, mixed with the content by ``alpha`` (a number,
    or a 0-d tensor in exported graphs; a number 0 returns the content's own maps)."""
    if isinstance(alpha, (int, float)) and alpha == 0:
        return dict(content)
    return {level: alpha * adain_batch(features, style[level], eps) + (1 - alpha) * features
            for level, features in content.items()}


def transfer_batch(encoder: GoogLeNetEncoder, decoder: nn.Module, content: Tensor, style: Tensor,
                   alpha: float | Tensor = 1.0, eps: float = 1e-5
                   ) -> tuple[tuple[Tensor, dict[str, Tensor] | None], tuple[Tensor, dict[str, Tensor]]]:
    """Batch AdaIN of ``content`` toward ``style`` as ``decoder`` reads it, and the contents' own encoding.

    Returns ``((features, skips or None), (content_features, content_skips))``: the bottleneck and every skip
    level aligned per sample and blended with the content by ``alpha`` -- the one definition that training,
    validation and the exported graph share (:meth:`artnet.ArtNet.stylize` does the same on one image, with
    mixing, masks and bounded memory).
    """
    (fc, skips_c), (fs, skips_s) = encode_levels(encoder, content, decoder), encode_levels(encoder, style, decoder)
    mixed = alpha * adain_batch(fc, fs, eps) + (1 - alpha) * fc
    return (mixed, align_skips_batch(skips_c, skips_s, alpha, eps) or None), (fc, skips_c)


def with_skips(decoder: Decoder, encoder: GoogLeNetEncoder, levels: tuple[str, ...] = ("conv3", "conv1")) -> Decoder:
    """A copy of ``decoder`` with zero-initialised skips from ``encoder``'s ``levels`` (same output as before).

    Existing skips are kept with their weights; new ones start at zero, so fine-tuning starts from the
    decoder's own images.
    """
    channels = encoder.level_channels()
    wanted = {level: channels[level] for level in dict.fromkeys((*decoder.skip_levels, *levels))}
    out = Decoder(decoder.in_channels, decoder.widths, wanted)
    missing, unexpected = out.load_state_dict(decoder.state_dict(), strict=False)
    if unexpected or any(not key.startswith("skip_") for key in missing):
        raise ValueError(f"cannot widen this decoder with skips: {missing or unexpected}")
    return out.to(next(decoder.parameters()).device).train(decoder.training)
