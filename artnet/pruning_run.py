"""The ``prune`` and ``prune-decoder`` commands: zero-channel prune the distilled encoder or the trained decoder,
verify, measure, write weights + card.

See :mod:`artnet.prune` for the method and how the shipped encoder/decoder pair stays consistent.
"""

from __future__ import annotations

import datetime
import time
from pathlib import Path
from typing import Any

import torch

from prunelab.errors import InputError

from .data import heldout_images, split_images, training_images
from .prune import (
    CALIBRATION_SIZE,
    DECODER_CALIBRATION_TRANSFORMS,
    decoder_difference,
    decoder_inputs,
    firing_on,
    image_batches,
    kept_output_channels,
    layer_table,
    prune_decoder,
    prune_encoder,
    verify_identical,
)
from .weights import (
    ENCODER_FILE,
    decoder_meta,
    encoder_meta,
    load_decoder,
    load_encoder,
    load_encoder_head,
    save_decoder,
    save_encoder,
    write_card,
)


def run_pruning(encoder_path: Path, out: Path, use_shared: bool = True, command: str = "") -> dict[str, Any]:
    """Prune ``encoder_path`` with calibration on all training images; write ``out`` (+ card, plan)."""
    import core_pruning

    encoder = load_encoder(encoder_path)
    head = load_encoder_head(encoder_path)
    if head is None:
        raise InputError(f"{encoder_path} has no distillation head: zero-pruning needs it as the consumer of the "
                         "encoder's output channels (export with `python -m artnet distill --export`)")
    start = time.perf_counter()
    calibration = image_batches(training_images(use_shared), CALIBRATION_SIZE)
    heldout = image_batches(heldout_images(use_shared), CALIBRATION_SIZE)
    with torch.no_grad():
        pruned, pruned_head, report, plan = prune_encoder(encoder, head, calibration)
    removed = report["removed"]
    kept = kept_output_channels(encoder, removed)
    if len(kept) != pruned.out_channels:
        raise RuntimeError(f"kept-channel bookkeeping ({len(kept)}) disagrees with the pruned encoder "
                           f"({pruned.out_channels})")
    with torch.no_grad():
        identical = verify_identical(encoder, pruned, kept, calibration)
        firing = firing_on(encoder, removed, heldout)
    example = torch.zeros(1, 3, 512, 512)
    flops_before, params_before = core_pruning.count_flops_params(encoder, example)
    flops_after, params_after = core_pruning.count_flops_params(pruned, example)
    layers = layer_table(encoder, removed)
    summary = {
        "calibration_images": len(calibration),
        "calibration_size": CALIBRATION_SIZE,
        "heldout_images": len(heldout),
        "channels_before": sum(r["channels"] for r in layers),
        "channels_removed": sum(r["removed"] for r in layers),
        "output_channels": pruned.out_channels,
        "encoder_flops_512": {"before": flops_before, "after": flops_after, "ratio": flops_after / flops_before},
        "encoder_params": {"before": params_before, "after": params_after, "ratio": params_after / params_before},
        "identical_on_calibration": identical,
        "heldout_firing": firing,
        "layers": layers,
        "seconds": round(time.perf_counter() - start, 1),
    }
    source_meta = encoder_meta(encoder_path)
    save_encoder(pruned, out, head=pruned_head,
                 meta={"kind": "distilled+zero-pruned", "kept_channels": kept, "source": encoder_path.name,
                       "distill": source_meta.get("summary", {})})
    plan_path = out.with_name(out.stem + "_plan.json")
    plan.save(plan_path)
    write_card(out, {
        "weights": out.name,
        "what": "distilled GoogLeNet encoder after zero-channel pruning (core_pruning, criterion 'zero')",
        "source": encoder_path.name,
        "data": "calibration: every training image (artnet.data.training_images) at long side "
                f"{CALIBRATION_SIZE}; held out: artnet.data.HELDOUT_WHEEL + every 4th mountain_2 frame",
        "summary": summary,
        "plan": plan_path.name,
        "command": command,
        "date": datetime.date.today().isoformat(),
    })
    return summary


def run_decoder_pruning(decoder_path: Path, out: Path, encoder_path: Path | None = None, use_shared: bool = True,
                        command: str = "") -> dict[str, Any]:
    """Zero-channel prune the decoder at ``decoder_path`` for the encoder at ``encoder_path`` (default: shipped).

    Calibration: the decoder's inputs (:func:`artnet.prune.decoder_inputs`) on the stylisation split's train and
    validation contents x styles; the check: the same on its test contents x styles (never calibrated on).
    """
    encoder = load_encoder(encoder_path).eval()
    decoder = load_decoder(decoder_path)
    if decoder.in_channels != encoder.out_channels:
        raise InputError(f"{decoder_path} takes {decoder.in_channels} channels, the encoder gives "
                         f"{encoder.out_channels}: pass the encoder it was trained for (--encoder)")
    if decoder.skip_levels:  # the calibration inputs and the core's trace are single-tensor: not yet for skips
        raise InputError(f"{decoder_path} reads encoder skips ({', '.join(decoder.skip_levels)}); zero-channel "
                         "pruning of decoders with skips is not supported yet (train them from a pruned decoder)")
    start = time.perf_counter()
    parts = ("train", "validation")
    contents = {k: v for part in parts for k, v in split_images(part, "content", use_shared).items()}
    styles = {k: v for part in parts for k, v in split_images(part, "style", use_shared).items()}
    if not styles:
        raise InputError("calibrating the decoder needs the ../shared style paintings (set PRUNELAB_SHARED)")
    calibration = decoder_inputs(encoder, contents, styles)
    heldout = decoder_inputs(encoder, split_images("test", "content", use_shared),
                             split_images("test", "style", use_shared), styles_per_content=5)
    pruned, report, plan = prune_decoder(decoder, calibration)
    summary = {
        "calibration": {"contents": len(contents), "styles": len(styles), "inputs": len(calibration),
                        "size": CALIBRATION_SIZE, "transforms": ["content (alpha 0)", *DECODER_CALIBRATION_TRANSFORMS,
                                                                 "adain alpha 0.5"]},
        "removed_per_layer": report["removed_per_layer"],
        "widths": {"before": list(decoder.widths), "after": list(pruned.widths)},
        "executed_macs_512": {"before": decoder.executed_macs(512), "after": pruned.executed_macs(512)},
        "on_calibration": decoder_difference(decoder, pruned, calibration),
        "on_heldout_test_pairs": decoder_difference(decoder, pruned, heldout),
        "seconds": round(time.perf_counter() - start, 1),
    }
    macs = summary["executed_macs_512"]
    macs["ratio"] = macs["after"] / macs["before"]
    save_decoder(pruned, out, meta={"kind": "trained+zero-pruned", "source": decoder_path.name,
                                    "source_meta": decoder_meta(decoder_path)})
    plan_path = out.with_name(out.stem + "_plan.json")
    plan.save(plan_path)
    write_card(out, {
        "weights": out.name,
        "what": "ArtNet decoder after zero-channel pruning (core_pruning, criterion 'zero'): channels that are zero "
                "after ReLU on every calibration input removed",
        "source": decoder_path.name,
        "encoder": (encoder_path or Path(ENCODER_FILE)).name,
        "data": "calibration: the stylisation split's train + validation contents x styles (artnet.data."
                "STYLIZATION_SPLIT) at long side 512; check: its test contents x styles (never calibrated on)",
        "summary": summary,
        "plan": plan_path.name,
        "command": command,
        "date": datetime.date.today().isoformat(),
    })
    return summary


def format_decoder_report(summary: dict[str, Any]) -> str:
    macs = summary["executed_macs_512"]
    removed = ", ".join(f"{layer} {n}" for layer, n in summary["removed_per_layer"].items()) or "none"
    return "\n".join([
        f"removed: {removed}; widths {summary['widths']['before']} -> {summary['widths']['after']}",
        f"executed decoder MACs at 512x512: {macs['before'] / 1e9:.2f} G -> {macs['after'] / 1e9:.2f} G "
        f"({macs['ratio']:.1%})",
        f"calibration ({summary['calibration']['inputs']} inputs): max |pixel difference| "
        f"{summary['on_calibration']['max_abs_pixel_diff']:.3g}",
        f"held-out test pairs ({summary['on_heldout_test_pairs']['inputs']} inputs): max |pixel difference| "
        f"{summary['on_heldout_test_pairs']['max_abs_pixel_diff']:.3g} (one 8-bit level is {1 / 255:.3g})"])


def format_report(summary: dict[str, Any]) -> str:
    lines = ["| layer | channels | removed | kept |", "|---|---:|---:|---:|"]
    for row in summary["layers"]:
        lines.append(f"| {row['layer']} | {row['channels']} | {row['removed']} | {row['kept']} |")
    flops = summary["encoder_flops_512"]
    lines += ["", f"removed {summary['channels_removed']} of {summary['channels_before']} channels; output "
                  f"channels {summary['output_channels']}; encoder MACs at 512x512 {flops['before'] / 1e9:.2f} G -> "
                  f"{flops['after'] / 1e9:.2f} G ({flops['ratio']:.1%})",
              f"calibration ({summary['calibration_images']} images): max |pruned - unpruned| = "
              f"{summary['identical_on_calibration']['max_abs_diff']:.3g}",
              f"held-out ({summary['heldout_images']} images): removed channels fired in "
              f"{summary['heldout_firing']['fired_fraction']:.2%} of (channel, image) pairs"]
    return "\n".join(lines)


