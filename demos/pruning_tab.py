"""Demo tab: Pruning lab — prune a small CNN in the browser and see what the pruning criteria see.

Pick a model, a criterion and a FLOPs target, press "Prune": the tab shows FLOPs/params/channels before
and after with the channels kept per layer, the criteria-similarity heat-map (mean per-layer Spearman
correlation of the chosen criteria on the unpruned weights) and per-layer weight-normality verdicts.

* ``build()`` only lays out components; torch and core_pruning are imported on the first click.
* Models are built with seeded random weights (no downloads here), at small input sizes so a click
  takes seconds on a CPU; only weight-based criteria are offered (``taylor`` and ``zero`` need data).
* "round channel counts to" keeps every pruned layer's width a multiple of 1, 8 or 16, and the report
  measures the CPU speed-up of the pruned model against the unpruned one (batch 16, alternating medians):
  FLOPs and speed are not the same thing on a CPU, whose kernels work in blocks of channels.
* Bad input (an unreachable target, fewer than two criteria to compare) gives a readable message.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

#: label -> (model name for core_pruning.models.build_model, input size C,H,W)
MODELS: dict[str, tuple[str, tuple[int, int, int]]] = {
    "ResNet-20 (CIFAR-style, 3x32x32)": ("resnet20", (3, 32, 32)),
    "VGG-small (3x32x32)": ("vgg_small", (3, 32, 32)),
    "torchvision ResNet-18 (3x64x64)": ("torchvision:resnet18", (3, 64, 64)),
    "torchvision MobileNetV2 (3x64x64)": ("torchvision:mobilenet_v2", (3, 64, 64)),
    "torchvision VGG-16-BN (3x32x32)": ("torchvision:vgg16_bn", (3, 32, 32)),
}
CRITERIA = ("cpmc", "l1", "l2", "fpgm", "bn_scale", "random")
COMPARED = ("l1", "l2", "fpgm", "cpmc")
ROUND_TO = (1, 8, 16)
LATENCY_BATCH, LATENCY_REPEATS = 16, 7
NORMALITY_HEADERS = ["layer", "weights", "skewness", "excess kurtosis", "D'Agostino p", "KS p", "verdict"]


def _build_model(label: str, seed: int):
    import torch

    from core_pruning.models import build_model

    name, size = MODELS[label]
    torch.manual_seed(seed)
    model = build_model(name, num_classes=10, in_channels=size[0]).eval()
    return model, torch.randn(1, *size, generator=torch.Generator().manual_seed(seed))


def _channels_figure(before: dict[str, int], after: dict[str, int]):
    """Horizontal bars: output channels per conv/linear layer before (light) and after (dark) pruning."""
    from matplotlib.figure import Figure

    names = list(before)
    height = max(3.0, 0.22 * len(names) + 1.2)
    fig = Figure(figsize=(7.5, height), layout="constrained")
    ax = fig.subplots()
    rows = range(len(names))
    ax.barh(rows, [before[n] for n in names], color="#c8d6e5", label="before")
    ax.barh(rows, [after[n] for n in names], color="#2e86de", label="kept")
    ax.set_yticks(list(rows), names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("output channels")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Channels kept per layer", fontsize=10)
    return fig


def _out_channels(model) -> dict[str, int]:
    from torch import nn

    layers = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Linear)
    return {name: (m.out_features if isinstance(m, nn.Linear) else m.out_channels)
            for name, m in model.named_modules() if isinstance(m, layers)}


def _report_markdown(label: str, report: dict[str, Any], normality_summary: str, latency: dict[str, float]) -> str:
    return (
        f"### {label} pruned with `{report['criterion']}` to {report['target']['fraction']:.0%} of FLOPs\n"
        "| | before | after | kept |\n|---|---:|---:|---:|\n"
        f"| FLOPs (MACs) | {report['flops_before'] / 1e6:.2f} M | {report['flops_after'] / 1e6:.2f} M | "
        f"{report['flops_ratio']:.1%} |\n"
        f"| parameters | {report['params_before'] / 1e6:.3f} M | {report['params_after'] / 1e6:.3f} M | "
        f"{report['params_ratio']:.1%} |\n"
        f"| channels | {report['channels_before']} | {report['channels_after']} | "
        f"{report['channels_after'] / report['channels_before']:.1%} |\n"
        f"| CPU time, batch {LATENCY_BATCH} (measured) | {latency['base_ms']:.1f} ms | {latency['pruned_ms']:.1f} ms | "
        f"speed-up {latency['speedup']:.2f}x |\n\n"
        f"Pruned in {report['seconds']:.1f} s. {normality_summary}"
    )


def run_pruning(label: str, criterion: str, target: float, compared: list[str], alpha: float, seed: float,
                round_to: Any = 1):
    """Click handler: (status, report, channels figure, heat-map, normality rows)."""
    empty = ("", None, None, None)
    problem = _check_inputs(label, criterion, target, compared, alpha, seed) or _check_round_to(round_to)
    if problem:
        return (f"**Cannot prune:** {problem}", *empty)
    import copy

    import torch

    from core_pruning import prune
    from core_pruning.analysis import analyze, similarity_figure
    from core_pruning.latency import latency_ratio
    from prunelab.errors import InputError, error_message

    seed = int(seed)
    try:
        model, x = _build_model(label, seed)
        analysis = analyze(model, x, list(compared), ratio=0.5, alpha=float(alpha), seed=seed,
                           criterion_options={"random": {"seed": seed}} if "random" in compared else None)
        before, unpruned = _out_channels(model), copy.deepcopy(model)
        options = {"seed": seed} if criterion == "random" else {}
        result = prune(model, x, criterion=criterion, target_flops=float(target), round_to=int(round_to), **options)
    except InputError as exc:
        return (f"**Cannot prune:** {error_message(exc)}", *empty)
    batch = torch.randn(LATENCY_BATCH, *x.shape[1:], generator=torch.Generator().manual_seed(seed))
    latency = latency_ratio(unpruned, result.model, batch, repeats=LATENCY_REPEATS)
    summary = (f"Weights look Gaussian-like in {analysis.gaussian_layers} of {analysis.tested_layers} tested conv "
               f"layers (D'Agostino-Pearson and KS, alpha = {float(alpha):g}); weights are seeded random "
               "initialisations, the setting of the blind-spots paper's analysis.")
    rows = [[r.layer, r.weights, _round(r.skewness), _round(r.excess_kurtosis), _round(r.dagostino_p),
             _round(r.ks_p), r.verdict] for r in analysis.normality]
    heatmap = similarity_figure(analysis.matrix(), analysis.criteria, title="mean per-layer Spearman rho")
    return ("Done.", _report_markdown(label, result.report, summary, latency),
            _channels_figure(before, _out_channels(result.model)), heatmap, rows)


def _round(value: float | None) -> float | None:
    return None if value is None or value != value else round(float(value), 4)


def _check_inputs(label: str, criterion: str, target: Any, compared: list[str], alpha: Any, seed: Any) -> str:
    """A readable reason why the inputs cannot be used, or "" when they are fine."""
    if label not in MODELS:
        return f"unknown model {label!r}; pick one from the list."
    if criterion not in CRITERIA:
        return f"unknown criterion {criterion!r}; pick one from the list."
    if not isinstance(target, (int, float)) or not 0.05 <= float(target) <= 1.0:
        return "the FLOPs target must be a fraction to keep between 0.05 and 1."
    if len(compared or []) < 2:
        return "tick at least two criteria to compare in the similarity heat-map."
    if any(c not in CRITERIA for c in compared):
        return "only the listed criteria can be compared."
    if not isinstance(alpha, (int, float)) or not 0.0 < float(alpha) < 1.0:
        return "alpha (level of the normality tests) must be between 0 and 1, e.g. 0.05."
    if not isinstance(seed, (int, float)) or seed != seed or not 0 <= seed < 2**31:
        return "the seed must be a whole number between 0 and 2^31."
    return ""


def _check_round_to(round_to: Any) -> str:
    try:
        ok = int(round_to) in ROUND_TO and float(round_to) == int(round_to)
    except (TypeError, ValueError):
        ok = False
    return "" if ok else f"round channel counts to one of {', '.join(map(str, ROUND_TO))}."


def build() -> None:
    gr.Markdown(
        "Prune a CNN to a FLOPs budget with one of the pruning criteria of `core_pruning` and compare the "
        "criteria on its weights (similarity and normality, after Huang et al., *Rethinking the Pruning Criteria "
        "for CNNs*, NeurIPS 2021). Models use seeded random weights and small inputs so that a run takes seconds."
    )
    with gr.Row():
        model = gr.Dropdown(list(MODELS), value=next(iter(MODELS)), label="model", elem_id="prune-model")
        criterion = gr.Dropdown(list(CRITERIA), value="cpmc", label="criterion", elem_id="prune-criterion")
        target = gr.Slider(0.05, 1.0, value=0.5, step=0.01, label="FLOPs to keep", elem_id="prune-target")
    with gr.Row():
        compared = gr.CheckboxGroup(list(CRITERIA), value=list(COMPARED), label="criteria to compare",
                                    elem_id="prune-compare")
        alpha = gr.Number(value=0.05, label="alpha (normality tests)", elem_id="prune-alpha")
        seed = gr.Number(value=0, precision=0, label="seed", elem_id="prune-seed")
        round_to = gr.Dropdown(list(ROUND_TO), value=1, label="round channel counts to", elem_id="prune-round-to")
    button = gr.Button("Prune", variant="primary", elem_id="prune-run")
    status = gr.Markdown(elem_id="prune-status")
    report = gr.Markdown(elem_id="prune-report")
    with gr.Row():
        channels = gr.Plot(label="channels kept per layer", elem_id="prune-channels")
        heatmap = gr.Plot(label="criteria similarity", elem_id="prune-heatmap")
    normality = gr.Dataframe(headers=NORMALITY_HEADERS, label="weight normality per conv layer",
                             elem_id="prune-normality", interactive=False)
    button.click(run_pruning, inputs=[model, criterion, target, compared, alpha, seed, round_to],
                 outputs=[status, report, channels, heatmap, normality])
