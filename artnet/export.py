"""Export ArtNet with the AdaIN transform as one graph (ONNX or TorchScript) for deployment runtimes.

:meth:`artnet.ArtNet.stylize` does padding, tiling, style mixing and masks in Python; a runtime such as
onnxruntime or LibTorch wants one pure-tensor function instead. :class:`AdaINGraph` is that function:
``(content (1, 3, H, W), style (1, 3, h, w), alpha ()) -> image (1, 3, H, W)``, images in [0, 1], with
``H, W, h, w`` multiples of 8 from 16 to 4096 (the encoder's stride; pad other sizes with
:func:`artnet.padding.pad_to_multiple` and crop the result, as ``stylize`` does: padding inside the graph made
``torch.export``'s symbolic shapes fail on the ceil-mode pooling). It runs the encoder on both images, AdaIN
(population variance, ``eps`` 1e-5, as :func:`artnet.transforms.adain`; also at the skip levels of a decoder
with skips, :mod:`artnet.skips`), the ``alpha`` blend and the decoder,
and clamps. Not inside: tiling (memory grows with the image) and the
resizing of the style to 512 px that ``stylize`` does; resize the style before calling the graph.

:func:`export` writes the graph and a JSON card, then checks the written file against PyTorch by running it
(onnxruntime for ONNX when it is installed, ``torch.jit.load`` for TorchScript) on two input sizes.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from artnet.skips import transfer_batch
from prunelab.errors import InputError
from prunelab.io import atomic_write_text, check_output_path

FORMATS = ("onnx", "torchscript")
#: Largest max |difference| (pixels in [0, 1]) accepted between the exported graph and PyTorch.
TOLERANCE = 1e-3
#: (content H, W, style h, w) sizes the written graph is checked on: two shapes, to show it is not fixed to one.
CHECK_SIZES = ((96, 128, 64, 80), (136, 72, 88, 120))


class AdaINGraph(nn.Module):
    """Encoder + AdaIN + decoder as one traceable module (see the module docstring for its contract)."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, eps: float = 1e-5) -> None:
        super().__init__()
        self.encoder = encoder.eval()
        self.decoder = decoder.eval()
        self.eps = eps

    def forward(self, content: Tensor, style: Tensor, alpha: Tensor) -> Tensor:
        mixed, skips = transfer_batch(self.encoder, self.decoder, content, style, alpha, self.eps)[0]
        return (self.decoder(mixed) if skips is None else self.decoder(mixed, skips)).clamp(0, 1)


@dataclass
class ExportReport:
    """What :func:`export` wrote and how the written graph compared with PyTorch."""

    format: str
    path: str
    card: str
    inputs: dict[str, str]
    output: str
    checked_with: str
    max_abs_diff: float | None
    tolerance: float = TOLERANCE
    check_sizes: list[list[int]] = field(default_factory=lambda: [list(s) for s in CHECK_SIZES])
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data (``export --json``)."""
        return asdict(self)


def _example(height: int, width: int, seed: int) -> Tensor:
    """A smooth, image-like test input (gradients plus a little noise), deterministic."""
    gen = torch.Generator().manual_seed(seed)
    ys = torch.linspace(0, 1, height)[:, None]
    xs = torch.linspace(0, 1, width)[None, :]
    base = torch.stack([ys * xs, (1 - ys) * 0.8 + 0.1 * xs, 0.5 + 0.4 * torch.sin(6 * xs + 3 * ys)])
    return (base + 0.05 * torch.rand(3, height, width, generator=gen)).clamp(0, 1)[None]


def _cases() -> list[tuple[Tensor, Tensor, Tensor]]:
    return [(_example(h, w, 0), _example(sh, sw, 1), torch.tensor(a))
            for (h, w, sh, sw), a in zip(CHECK_SIZES, (1.0, 0.6), strict=True)]


def _export_onnx(graph: AdaINGraph, path: Path) -> None:
    try:
        import onnx  # noqa: F401  (torch.onnx's exporter needs both)
        import onnxscript  # noqa: F401
    except ImportError:
        raise InputError("ONNX export needs the onnx and onnxscript packages: pip install 'prunelab[export]'") from None
    content, style, alpha = _cases()[0]
    def eighths(name: str) -> Any:
        return 8 * torch.export.Dim(name, min=2, max=512)

    dims = {2: eighths("height8"), 3: eighths("width8")}
    style_dims = {2: eighths("style_height8"), 3: eighths("style_width8")}
    program = torch.onnx.export(graph, (content, style, alpha), dynamo=True, external_data=False,
                                input_names=["content", "style", "alpha"], output_names=["image"],
                                dynamic_shapes=(dims, style_dims, {}), verbose=False)
    program.save(str(path))


def _export_torchscript(graph: AdaINGraph, path: Path) -> None:
    """Traced (the encoder's Python properties do not script); the check on a second shape shows it is not fixed."""
    import warnings

    content, style, alpha = _cases()[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated upstream but still what LibTorch loads
        traced = torch.jit.trace(graph, (content, style, alpha), check_trace=False)
        torch.jit.save(traced, str(path))


def _run_onnx(path: Path, cases: list[tuple[Tensor, Tensor, Tensor]]) -> list[Tensor] | None:
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return [torch.from_numpy(session.run(None, {"content": c.numpy(), "style": s.numpy(),
                                                 "alpha": a.numpy()})[0]) for c, s, a in cases]


def _run_torchscript(path: Path, cases: list[tuple[Tensor, Tensor, Tensor]]) -> list[Tensor]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        loaded = torch.jit.load(str(path))
    with torch.no_grad():
        return [loaded(c, s, a) for c, s, a in cases]


def export(encoder: nn.Module, decoder: nn.Module, fmt: str, out_dir: str | Path, force: bool = False,
           source: dict[str, str] | None = None) -> ExportReport:
    """Write ``artnet_adain.onnx`` or ``artnet_adain.torchscript.pt`` plus a card to ``out_dir``, then check it.

    The check runs the written file on :data:`CHECK_SIZES` and compares with :class:`AdaINGraph` in PyTorch;
    a difference above :data:`TOLERANCE` raises :class:`InputError` (the file stays, for inspection, and the
    card records the difference). ``source`` (e.g. which weights) is copied into the card.
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    folder = Path(out_dir)
    name = "artnet_adain.onnx" if fmt == "onnx" else "artnet_adain.torchscript.pt"
    path, card = folder / name, folder / "artnet_adain.json"
    for target in (path, card):  # existing files kept without force; dangling links and files in the way refused
        check_output_path(target, force=force)
    graph = AdaINGraph(encoder, decoder).eval().requires_grad_(False)
    tmp = folder / f".{name}.partial"
    try:
        (_export_onnx if fmt == "onnx" else _export_torchscript)(graph, tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)

    cases = _cases()
    with torch.no_grad():
        expected = [graph(c, s, a) for c, s, a in cases]
    got = _run_onnx(path, cases) if fmt == "onnx" else _run_torchscript(path, cases)
    notes = []
    if got is None:
        checked_with, diff = "not checked (onnxruntime is not installed: pip install onnxruntime)", None
    else:
        checked_with = "onnxruntime (CPUExecutionProvider)" if fmt == "onnx" else "torch.jit.load"
        diff = max(float((g - e).abs().max()) for g, e in zip(got, expected, strict=True))
        if any(tuple(g.shape) != tuple(e.shape) for g, e in zip(got, expected, strict=True)):
            diff = math.inf
            notes.append("output shapes differ from PyTorch")
    report = ExportReport(
        format=fmt, path=str(path), card=str(card),
        inputs={"content": "float32 (1, 3, H, W) in [0, 1]; H, W multiples of 8 in 16..4096",
                "style": "float32 (1, 3, h, w) in [0, 1]; h, w multiples of 8 in 16..4096 (resize it to long side "
                "512 as ArtNet.stylize does)", "alpha": "float32 scalar in [0, 1], 1 = fully stylised (ArtNet.stylize "
                "uses the decoder card's default_alpha when given none: weights/artnet_decoder.json)"},
        output="image: float32 (1, 3, H, W) in [0, 1]", checked_with=checked_with, max_abs_diff=diff, notes=notes)
    atomic_write_text(json.dumps({**report.to_dict(), "source": source or {}, "torch": torch.__version__},
                                 indent=2) + "\n", card)
    if diff is not None and not diff <= TOLERANCE:
        raise InputError(f"exported graph {path} differs from PyTorch by {diff:.3g} (> {TOLERANCE}); see {card}")
    return report
