"""Saving and loading artnet's own weight files (``weights/artnet_*.pt``) and their JSON cards.

Files are plain dicts loadable with ``torch.load(weights_only=True)``: a format tag, float16 tensors
(half the bytes; computation stays float32) and a small ``meta`` dict. Architectures are recovered from
tensor shapes, so a channel-pruned encoder needs no separate description.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from prunelab.errors import InputError
from prunelab.io import atomic_save, atomic_write_text
from prunelab.paths import weights_file

from .decoder import Decoder
from .encoder import GoogLeNetEncoder, encoder_from_folded_state_dict

ENCODER_FILE = "artnet_encoder.pt"  # distilled, zero-channel pruned: the default
UNPRUNED_ENCODER_FILE = "artnet_encoder_unpruned.pt"  # distilled, before pruning
DECODER_FILE = "artnet_decoder.pt"  # the default: AdaIN objective, encoder skips, fine-tuned from the plain one
PLAIN_DECODER_FILE = "artnet_decoder_plain.pt"  # reconstruction only, zero-channel pruned (default until 2026-12-04)
UNPRUNED_DECODER_FILE = "artnet_decoder_unpruned.pt"  # reconstruction only, before zero-channel pruning
_ENCODER_FORMAT = "artnet-googlenet-encoder/1"
_DECODER_FORMAT = "artnet-decoder/1"


def _half(state: dict[str, Tensor]) -> dict[str, Tensor]:
    return {k: (v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu()) for k, v in state.items()}


def round_to_half(module: nn.Module) -> nn.Module:
    """Round a module's floating-point parameters to float16-representable float32 values, in place."""
    with torch.no_grad():
        for tensor in list(module.parameters()) + list(module.buffers()):
            if tensor.is_floating_point():
                tensor.copy_(tensor.half().float())
    return module


def save_encoder(encoder: GoogLeNetEncoder, path: str | Path, head: nn.Conv2d | None = None,
                 meta: dict[str, Any] | None = None) -> Path:
    """Write a folded encoder (and optionally its ``inception3b`` distillation head) as float16."""
    if encoder.batchnorm:
        raise ValueError("fold BatchNorm before saving (artnet.encoder.fold_batchnorm)")
    round_to_half(encoder)
    blob: dict[str, Any] = {"format": _ENCODER_FORMAT, "state_dict": _half(encoder.state_dict()),
                            "meta": meta or {}}
    if head is not None:
        round_to_half(head)
        blob["head"] = _half(head.state_dict())
    return atomic_save(blob, path)


def _load(path: str | Path, fmt: str) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} not found")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(f"{path} is not a readable weights file ({type(exc).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != fmt:
        raise InputError(f"{path} is not an {fmt} weights file")
    return blob


def load_encoder(path: str | Path | None = None) -> GoogLeNetEncoder:
    """The folded encoder stored in ``path`` (default: the shipped pruned encoder), float32, eval mode."""
    blob = _load(path or weights_file(ENCODER_FILE), _ENCODER_FORMAT)
    return encoder_from_folded_state_dict(blob["state_dict"])


def load_encoder_head(path: str | Path | None = None) -> nn.Conv2d | None:
    """The ``inception3b`` -> teacher ``relu4_1`` 1x1 distillation head saved with an encoder, if any."""
    blob = _load(path or weights_file(ENCODER_FILE), _ENCODER_FORMAT)
    if "head" not in blob:
        return None
    weight = blob["head"]["weight"]
    head = nn.Conv2d(weight.shape[1], weight.shape[0], 1)
    head.load_state_dict({k: v.float() for k, v in blob["head"].items()})
    return head.eval()


def encoder_meta(path: str | Path | None = None) -> dict[str, Any]:
    """The ``meta`` dict saved with an encoder (default: the shipped one), e.g. ``kept_channels``."""
    return _load(path or weights_file(ENCODER_FILE), _ENCODER_FORMAT)["meta"]


def save_decoder(decoder: Decoder, path: str | Path, meta: dict[str, Any] | None = None) -> Path:
    """Write a decoder as float16 with its widths (rounds ``decoder`` to float16 values in place, as saved)."""
    round_to_half(decoder)
    blob = {"format": _DECODER_FORMAT, "state_dict": _half(decoder.state_dict()),
            "config": {"in_channels": decoder.in_channels, "widths": list(decoder.widths),
                       "skip_channels": decoder.skip_channels()}, "meta": meta or {}}
    return atomic_save(blob, path)


def load_decoder(path: str | Path | None = None) -> Decoder:
    """The decoder stored in ``path`` (default: the shipped one), float32, eval mode."""
    blob = _load(path or weights_file(DECODER_FILE), _DECODER_FORMAT)
    config = blob["config"]
    decoder = Decoder(config["in_channels"], tuple(config["widths"]), config.get("skip_channels"))
    decoder.load_state_dict({k: v.float() for k, v in blob["state_dict"].items()})
    return decoder.eval()


def decoder_from_state_dict(state_dict: dict[str, Tensor]) -> Decoder:
    """Rebuild a decoder (widths and skips read from the tensor shapes), e.g. from a training checkpoint."""
    from .decoder import LAYERS, SKIP_JOINS, skip_name

    widths = tuple(state_dict[f"{name}.weight"].shape[0] for name in LAYERS)
    skips = {level: state_dict[f"{skip_name(level)}.weight"].shape[1] for level in SKIP_JOINS
             if f"{skip_name(level)}.weight" in state_dict}
    decoder = Decoder(state_dict["reduce.weight"].shape[1], widths, skips)
    decoder.load_state_dict({k: v.float() for k, v in state_dict.items()})
    return decoder.eval()


def decoder_meta(path: str | Path | None = None) -> dict[str, Any]:
    """The ``meta`` dict saved with a decoder (default: the shipped one)."""
    return _load(path or weights_file(DECODER_FILE), _DECODER_FORMAT)["meta"]


def default_alpha(decoder_path: str | Path | None = None) -> float:
    """The alpha a decoder is used at by default: its card's ``default_alpha`` (chosen on pairs its card names,
    never the held-out test pairs), 1 (fully stylised) when the card is missing or names none.

    Why per decoder: how strongly a decoder stylises at alpha 1 is a property of its training (style weight,
    skips), so the operating point that balances content against style is calibrated with it.
    """
    card_path = Path(decoder_path or weights_file(DECODER_FILE)).with_suffix(".json")
    try:
        card = json.loads(card_path.read_text())
    except OSError:  # no card
        return 1.0
    except ValueError:
        raise InputError(f"{card_path}: the decoder card is not valid JSON") from None
    value = card.get("default_alpha", 1.0) if isinstance(card, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise InputError(f"{card_path}: default_alpha must be a number in [0, 1], got {value!r}")
    return float(value)


def write_card(weights_path: str | Path, card: dict[str, Any]) -> Path:
    """Write the JSON card beside a weights file (``x.pt`` -> ``x.json``)."""
    path = Path(weights_path).with_suffix(".json")
    return atomic_write_text(json.dumps(card, indent=2) + "\n", path)
