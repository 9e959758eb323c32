"""The ``prune`` command: zero-channel prune the distilled encoder, verify, measure, write weights + card.

See :mod:`artnet.prune` for the method and how the shipped encoder/decoder pair stays consistent.
"""

from __future__ import annotations

import datetime
import time
from pathlib import Path
from typing import Any

import torch

from prunelab.errors import InputError

from .data import heldout_images, training_images
from .prune import (
    CALIBRATION_SIZE,
    firing_on,
    image_batches,
    kept_output_channels,
    layer_table,
    prune_encoder,
    verify_identical,
)
from .weights import encoder_meta, load_encoder, load_encoder_head, save_encoder, write_card


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


