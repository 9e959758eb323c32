"""``python -m artnet bench``: time ArtNet against baselines in one process, same pipeline, same inputs.

Rows: ms per stylised image (median of ``repeats`` after one warm-up per model) and peak memory, for each
model x size x style-features (cached or not). Models:

* ``artnet`` -- pruned GoogLeNet encoder + decoder (shipped weights when present, else same architecture
  with random weights and the note says so), AdaIN unless ``--transform``;
* ``artnet_unpruned`` -- the same before zero-channel pruning (480 channels);
* ``artnet_s2`` -- ``artnet`` with the S2 transform;
* ``adain_vgg19`` -- VGG19 up to relu4_1 + mirror decoder, AdaIN (random weights: timing only);
* ``teacher_wct`` -- the teacher's enc4/dec4 (16x-compressed VGG19) with WCT (needs ../shared).

Peak memory: on CUDA ``torch.cuda.max_memory_allocated``; on CPU the rise of the process's resident
memory over its level before the call, sampled every millisecond by a thread (``/proc/self/statm``).
"""

from __future__ import annotations

import datetime
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from core_pruning.utils import InputError, cpu_name

from .model import ArtNet
from .transforms import StyleFeatures

DEFAULT_SIZES = ("512x512", "1024x1024", "2048x2048", "3840x2160")
MODELS = ("artnet", "artnet_unpruned", "artnet_s2", "adain_vgg19", "teacher_wct")


def parse_size(text: str) -> tuple[int, int]:
    """``"WxH"`` -> ``(W, H)``, each in 16..4096."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError(f"size {text!r} is not WxH (e.g. 512x512)") from None
    if not (16 <= width <= 4096 and 16 <= height <= 4096):
        raise InputError(f"size {text} out of range: each side must be 16..4096")
    return width, height


class PeakMemory:
    """Peak extra memory (MB) during a ``with`` block: CUDA allocator peak, or sampled RSS rise on CPU."""

    def __init__(self, device: torch.device):
        self.device = device
        self.peak_mb = 0.0

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * 4096

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
            return self
        self.base = self._rss()
        self.peak = self.base
        self.running = True

        def sample() -> None:
            while self.running:
                self.peak = max(self.peak, self._rss())
                time.sleep(0.001)

        self.thread = threading.Thread(target=sample, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_mb = (torch.cuda.max_memory_allocated(self.device) - self.base) / 2**20
            return
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, self._rss())
        self.peak_mb = (self.peak - self.base) / 2**20


@dataclass
class Candidate:
    name: str
    net: ArtNet
    transform: str
    note: str


def _candidates(models: list[str], device: torch.device, tile: int, transform: str
                ) -> tuple[list[Candidate], list[str]]:
    from .decoder import Decoder
    from .encoder import GoogLeNetEncoder

    notes: list[str] = []
    out: list[Candidate] = []
    try:
        pruned = ArtNet.load("pruned", device=str(device), tile=tile)
        shipped = True
    except (FileNotFoundError, InputError):
        encoder = GoogLeNetEncoder()
        pruned = ArtNet(encoder, Decoder(encoder.out_channels), device=device, tile=tile)
        shipped = False
        notes.append("shipped weights missing: artnet rows use the unpruned architecture with random weights")
    for name in models:
        if name == "artnet":
            out.append(Candidate(name, pruned, transform, "pruned" if shipped else "random weights"))
        elif name == "artnet_s2":
            out.append(Candidate(name, pruned, "s2", "pruned, S2"))
        elif name == "artnet_unpruned":
            try:
                net = ArtNet.load("unpruned", device=str(device), tile=tile)
            except (FileNotFoundError, InputError):
                encoder = GoogLeNetEncoder()
                net = ArtNet(encoder, Decoder(encoder.out_channels), device=device, tile=tile)
            out.append(Candidate(name, net, transform, f"{net.encoder.out_channels} channels"))
        elif name == "adain_vgg19":
            from .baselines import VGGDecoder, VGGEncoder

            torch.manual_seed(0)
            out.append(Candidate(name, ArtNet(VGGEncoder(), VGGDecoder(), device=device, tile=tile), "adain",
                                 "random weights"))
        elif name == "teacher_wct":
            from .teacher import load_teacher_decoder, load_teacher_encoder

            try:
                net = ArtNet(load_teacher_encoder(4), load_teacher_decoder(4), device=device, tile=tile)
            except FileNotFoundError as exc:
                notes.append(f"teacher_wct skipped: {exc}")
                continue
            out.append(Candidate(name, net, "wct", "enc4/dec4"))
        else:
            raise InputError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    return out, notes


def _time(fn: Callable[[], Any], device: torch.device, repeats: int) -> tuple[float, float]:
    times, peaks = [], []
    for _ in range(repeats):
        with PeakMemory(device) as memory:
            start = time.perf_counter()
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            times.append((time.perf_counter() - start) * 1000)
        peaks.append(memory.peak_mb)
    return statistics.median(times), max(peaks)


def run_bench(sizes: list[str], models: list[str], device: torch.device, repeats: int, tile: int,
              transform: str = "adain", style_size: int = 512, progress: Callable[[str], None] | None = None
              ) -> dict[str, Any]:
    """Measure every model x size x (style cached, not cached); returns the ``--json`` document."""
    parsed = [(s, *parse_size(s)) for s in sizes]
    candidates, notes = _candidates(models, device, tile, transform)
    generator = torch.Generator().manual_seed(0)
    style_image = torch.rand(1, 3, style_size, style_size, generator=generator).to(device)
    rows: list[dict[str, Any]] = []
    warm = min(256, *(min(w, h) for _, w, h in parsed))
    for cand in candidates:  # warm-up: first-call allocations and kernel selection
        cand.net.stylize(torch.rand(1, 3, warm, warm, generator=generator).to(device), style_image,
                         transform=cand.transform)
    for label, width, height in parsed:
        content = torch.rand(1, 3, height, width, generator=generator).to(device)
        for cand in candidates:
            cached: StyleFeatures = cand.net.encode_style(style_image, style_size)
            cand.net.stylize(content[:, :, :64, :64], cached, transform=cand.transform)  # fills the stats cache
            for is_cached in (True, False):
                style = cached if is_cached else style_image

                def call(style=style, cand=cand, content=content) -> None:
                    cand.net.stylize(content, style, transform=cand.transform, style_size=style_size)

                count = repeats if width * height <= 1024 * 1024 else 1
                ms, peak = _time(call, device, count)
                row = {"model": cand.name, "size": label, "style_cached": is_cached, "transform": cand.transform,
                       "ms": round(ms, 1), "peak_mb": round(peak, 1), "repeats": count, "note": cand.note}
                rows.append(row)
                if progress:
                    progress(f"{cand.name:16s} {label:10s} cached={is_cached!s:5s} {ms:10.1f} ms {peak:8.1f} MB")
    for row in rows:  # ratios against the VGG19 AdaIN network measured in this same run
        base = next((r for r in rows if r["model"] == "adain_vgg19" and r["size"] == row["size"]
                     and r["style_cached"] == row["style_cached"]), None)
        if base is not None and row["ms"] > 0:
            row["speedup_vs_adain_vgg19"] = round(base["ms"] / row["ms"], 2)
    return {"device": _device_name(device), "threads": torch.get_num_threads(), "tile": tile,
            "date": datetime.datetime.now().isoformat(timespec="seconds"), "torch": torch.__version__,
            "notes": notes, "rows": rows}


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {cpu_name()}"


def format_table(result: dict[str, Any]) -> str:
    """Plain-text table of the bench rows (Markdown-compatible)."""
    lines = [f"device: {result['device']}  threads: {result['threads']}  date: {result['date']}", "",
             "| model | size | style cached | transform | ms | peak MB | x faster than adain_vgg19 |",
             "|---|---|---|---|---:|---:|---:|"]
    for row in result["rows"]:
        lines.append(f"| {row['model']} | {row['size']} | {'yes' if row['style_cached'] else 'no'} | "
                     f"{row['transform']} | {row['ms']:.1f} | {row['peak_mb']:.0f} | "
                     f"{row.get('speedup_vs_adain_vgg19', float('nan')):.2f} |")
    for note in result["notes"]:
        lines.append(f"note: {note}")
    return "\n".join(lines)
