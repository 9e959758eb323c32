"""Zero-channel pruning of the pretrained 5SE teacher encoder, calibrated on ../shared/data/style.

For two models, the 5SE encoder alone (output relu5_1, whose own channels stay: they are the output) and
5SE + 5SD (the decoder consumes relu5_1, so dead relu5_1 channels can go too), and with and without folding
constant channels into consumer biases, the script reports per layer how many channels ``criterion="zero"``
removed, the largest output change on the 27 calibration images (lossless by construction: expected at
float32 rounding level), and how often the removed channels *fire* (are non-zero anywhere) on 12 images it
never saw (scikit-image's), with the output change there.

Run: ``python benchmarks/core_zero_teacher.py [--side 256]`` (needs ../shared; a few minutes on a CPU).
"""

from __future__ import annotations

import argparse
import copy
import sys

import torch
from core_common import header, table
from core_teacher_model import ENCODER_LAYERS, held_out_images, load_autoencoder, load_encoder, style_images
from torch import nn

import core_pruning as cp
from core_pruning.criteria.zero import collect_input_stats


def consumers_of(model: nn.Module) -> dict[str, str]:
    """Layer -> the layer that reads its output (a chain here): what "fires" is measured at."""
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    return dict(zip(names[:-1], names[1:]))


def firing(model: nn.Module, result: cp.PruneResult, images: list[torch.Tensor]) -> tuple[int, int, float]:
    """How the removed channels behave on ``images``: (channels that break their calibration behaviour on at
    least one image, channels removed, mean fraction of images on which a channel breaks it).

    A removed dead channel breaks it when it is non-zero anywhere ("fires"); a folded constant channel when
    its value differs from the constant folded into the consumer's bias.
    """
    modules = dict(model.named_modules())
    next_layer = consumers_of(model)
    folded = {(f["layer"], int(f["channel"])): float(f["value"]) for step in result.plan.steps for f in step.folds}
    broken = {(layer, i): 0 for layer, idxs in result.report["removed"].items() for i in idxs}
    for image in images:
        stats = collect_input_stats(model, [(image, None)], [modules[c] for c in set(next_layer.values())])
        for layer, i in broken:
            consumer = next_layer[layer]
            st = stats[modules[consumer]]
            if (consumer, i) in folded:
                value = folded[(consumer, i)]
                deviates = max(abs(float(st.vmax[i]) - value), abs(float(st.vmin[i]) - value)) > 1e-6
            else:
                deviates = float(st.amax[i]) > 0
            broken[(layer, i)] += int(deviates)
    if not broken:
        return 0, 0, 0.0
    fractions = [count / len(images) for count in broken.values()]
    return sum(1 for c in broken.values() if c), len(broken), sum(fractions) / len(fractions)


@torch.no_grad()
def max_delta(a: nn.Module, b: nn.Module, images: list[torch.Tensor]) -> tuple[float, float, float]:
    """(max |a(x) - b(x)|, max relative L2 error, max |a(x)|: the scale of the outputs) over ``images``."""
    worst, rel, scale = 0.0, 0.0, 0.0
    for x in images:
        ya, yb = a(x), b(x)
        worst = max(worst, float((ya - yb).abs().max()))
        rel = max(rel, float((ya - yb).norm() / ya.norm().clamp(min=1e-12)))
        scale = max(scale, float(ya.abs().max()))
    return worst, rel, scale


def run(label: str, original: nn.Module, calib: list[torch.Tensor], held: list[torch.Tensor], fold: bool) -> dict:
    model = copy.deepcopy(original)
    result = cp.prune(model, calib[0], criterion="zero", calib_data=calib, fold_constant=fold)
    delta, rel, scale = max_delta(original, model, calib)
    held_delta, held_rel, _ = max_delta(original, model, held)
    # the same comparison in float64: what is left of the float32 difference is summation-order rounding
    delta64 = max_delta(copy.deepcopy(original).double(), copy.deepcopy(model).double(),
                        [x.double() for x in calib])[0]
    fired, removed, rate = firing(original, result, held)
    return {"label": label, "fold": fold, "report": result.report, "calib_delta": delta, "calib_rel": rel,
            "scale": scale, "delta64": delta64, "held_delta": held_delta, "held_rel": held_rel, "fired": fired,
            "removed": removed, "rate": rate, "seconds": result.report["seconds"]}


def dead_outputs(model: nn.Module, calib: list[torch.Tensor]) -> int:
    """relu5_1 channels that are zero on every calibration image (the encoder's own output)."""
    with torch.no_grad():
        peak = torch.stack([model(x).amax(dim=(0, 2, 3)) for x in calib]).amax(0)
    return int((peak <= 0).sum())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=256, help="images resized and centre-cropped to side x side")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    _, calib = style_images(args.side)
    _, held = held_out_images(args.side)
    encoder, autoencoder = load_encoder(), load_autoencoder()
    runs = [run("5SE encoder", encoder, calib, held, fold) for fold in (False, True)]
    runs += [run("5SE + 5SD", autoencoder, calib, held, fold) for fold in (False, True)]

    print(header("Zero-channel pruning of the teacher encoder 5SE (calibrated on shared/data/style)"))
    print(f"calibration: {len(calib)} images of shared/data/style (content + style), {args.side}x{args.side}; "
          f"held out: {len(held)} scikit-image images at the same size")
    print(f"5SE's own output relu5_1: {dead_outputs(encoder, calib)} of 128 channels are zero on every "
          "calibration image (kept in the encoder-only model: they are its output)\n")
    rows = []
    for name in ["conv0", *ENCODER_LAYERS]:
        row = {"layer (encoder)": name}
        for r in runs:
            key = f"{r['label']}{' +fold' if r['fold'] else ''}"
            prefix = "encoder." if r["label"] == "5SE + 5SD" else ""
            module = (autoencoder if prefix else encoder).get_submodule(prefix + name)
            gone = r["report"]["removed_per_layer"].get(prefix + name, 0)
            row[key] = f"{gone}/{module.out_channels} ({gone / module.out_channels:.0%})"
        rows.append(row)
    print(table(rows, list(rows[0])))
    print()
    summary = []
    for r in runs:
        rep = r["report"]
        summary.append({
            "model": r["label"], "fold constants": "yes" if r["fold"] else "no",
            "channels removed": f"{rep['channels_before'] - rep['channels_after']}/{rep['channels_before']} "
                                f"({1 - rep['channels_after'] / rep['channels_before']:.1%})",
            "FLOPs kept": f"{rep['flops_ratio']:.3f}", "params kept": f"{rep['params_ratio']:.3f}",
            "max |y| calib": f"{r['scale']:.1f}", "max |Δ| calib": f"{r['calib_delta']:.2e}",
            "max rel. err calib": f"{r['calib_rel']:.2e}", "max |Δ| calib float64": f"{r['delta64']:.1e}",
            "max |Δ| held-out": f"{r['held_delta']:.2e}",
            "max rel. err held-out": f"{r['held_rel']:.2e}",
            "removed that fire on held-out": f"{r['fired']}/{r['removed']}",
            "mean firing rate (held-out)": f"{r['rate']:.1%}", "prune s": f"{r['seconds']:.1f}",
        })
    print(table(summary, list(summary[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
