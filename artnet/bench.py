"""``python -m artnet bench``: time ArtNet against baselines in one process, same pipeline, same inputs.

Rows: ms per stylised image and peak memory, for each model x size x style-features (cached or not).
Models:

* ``artnet`` -- pruned GoogLeNet encoder + decoder (shipped weights when present, else same architecture
  with random weights and the note says so), AdaIN unless ``transform``;
* ``artnet_unpruned`` -- the same with the encoder before zero-channel pruning (480 channels);
* ``artnet_plain`` -- ``artnet`` with the decoder without encoder skips (``weights/artnet_decoder_plain.pt``, the
  default until 2026-12-04): what the skips cost;
* ``artnet_s2`` -- ``artnet`` with the S2 transform;
* ``adain_vgg19`` -- VGG19 up to relu4_1 + mirror decoder, AdaIN (random weights: timing only);
* ``teacher_adain`` -- the teacher's enc4/dec4 (16x-compressed VGG19) with AdaIN (needs ../shared): the
  network ArtNet is distilled from, so the one a user would otherwise pick; every row also gets its ratio;
* ``teacher_wct`` -- the same teacher with WCT (needs ../shared).

Timing: after one warm-up per model, the calls of one size are *interleaved* -- repeat 1 of every model
and both style modes, then repeat 2, ... -- and each row reports the median of its ``repeats``, so a
change in the machine's load during the run touches every model alike and the ratios against
``adain_vgg19`` stay fair. The load average before and after is stored with the result.

Peak memory is measured in the untimed warm-up call of each row at its size (the sampling thread would
otherwise compete with the timed work for the cores): on CUDA ``torch.cuda.max_memory_allocated``; on
CPU the rise of the bytes allocated through ``malloc`` (:func:`artnet.runtime.allocated_bytes`, sampled
every millisecond by a thread) over their level before the call -- once the process keeps freed memory mapped
(:func:`artnet.runtime.retain_freed_memory`, which the ``bench`` command and ``benchmarks/artnet_speed.py`` opt
in to, like ``stylize``), its resident size no longer shows what a call needs. Off glibc, the rise of the
resident size is used instead.
"""

from __future__ import annotations

import datetime
import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from prunelab.errors import InputError
from prunelab.machine import cpu_name

from .model import ArtNet
from .runtime import allocated_bytes
from .transforms import StyleFeatures

DEFAULT_SIZES = ("512x512", "1024x1024", "2048x2048", "3840x2160")
MODELS = ("artnet", "artnet_unpruned", "artnet_plain", "artnet_s2", "adain_vgg19", "teacher_adain", "teacher_wct")
#: Baselines every row is compared with (``speedup_vs_<name>``), when they were measured in the same run.
BASELINES = ("adain_vgg19", "teacher_adain")


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
    """Peak extra memory (MB) during a ``with`` block: CUDA allocator peak, or sampled malloc/RSS rise on CPU."""

    def __init__(self, device: torch.device):
        self.device = device
        self.peak_mb = 0.0

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * 4096

    def _level(self) -> int:
        allocated = allocated_bytes()
        return self._rss() if allocated is None else allocated

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
            return self
        self.base = self._level()
        self.peak = self.base
        self.running = True

        def sample() -> None:
            while self.running:
                self.peak = max(self.peak, self._level())
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
        self.peak = max(self.peak, self._level())
        self.peak_mb = (self.peak - self.base) / 2**20


@dataclass
class Candidate:
    """One benchmarked network: its row name, the pipeline, the transform it runs and a note for the table."""
    name: str
    net: ArtNet
    transform: str
    note: str


def _candidates(models: list[str], device: torch.device, tile: int, transform: str, precision: str = "float32"
                ) -> tuple[list[Candidate], list[str]]:
    from .decoder import Decoder
    from .encoder import GoogLeNetEncoder

    notes: list[str] = []
    out: list[Candidate] = []
    try:
        pruned = ArtNet.load("pruned", device=str(device), tile=tile, precision=precision)
        shipped = True
    except (FileNotFoundError, InputError):
        encoder = GoogLeNetEncoder()
        pruned = ArtNet(encoder, Decoder(encoder.out_channels), device=device, tile=tile, precision=precision)
        shipped = False
        notes.append("shipped weights missing: artnet rows use the unpruned architecture with random weights")
    for name in models:
        if name == "artnet":
            out.append(Candidate(name, pruned, transform, "pruned" if shipped else "random weights"))
        elif name == "artnet_s2":
            out.append(Candidate(name, pruned, "s2", "pruned, S2"))
        elif name == "artnet_unpruned":
            try:
                net = ArtNet.load("unpruned", device=str(device), tile=tile, precision=precision)
            except (FileNotFoundError, InputError):
                encoder = GoogLeNetEncoder()
                net = ArtNet(encoder, Decoder(encoder.out_channels), device=device, tile=tile, precision=precision)
            out.append(Candidate(name, net, transform, f"{net.encoder.out_channels} channels"))
        elif name == "artnet_plain":
            from prunelab.paths import weights_file

            from .weights import PLAIN_DECODER_FILE

            try:
                net = ArtNet.load("pruned", decoder=weights_file(PLAIN_DECODER_FILE), device=str(device), tile=tile,
                                  precision=precision)
            except (FileNotFoundError, InputError) as exc:
                notes.append(f"{name} skipped: {exc}")
                continue
            out.append(Candidate(name, net, transform, "decoder without skips"))
        elif name == "adain_vgg19":
            from .baselines import VGGDecoder, VGGEncoder

            torch.manual_seed(0)
            vgg = ArtNet(VGGEncoder(), VGGDecoder(), device=device, tile=tile, precision=precision)
            out.append(Candidate(name, vgg, "adain", "random weights"))
        elif name in ("teacher_adain", "teacher_wct"):
            from .teacher import load_teacher_decoder, load_teacher_encoder

            try:
                net = ArtNet(load_teacher_encoder(4), load_teacher_decoder(4), device=device, tile=tile,
                             precision=precision)
            except FileNotFoundError as exc:
                notes.append(f"{name} skipped: {exc}")
                continue
            out.append(Candidate(name, net, name.removeprefix("teacher_"), "enc4/dec4"))
        else:
            raise InputError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    return out, notes


def _timed(fn: Callable[[], Any], device: torch.device) -> float:
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) * 1000


def run_bench(sizes: list[str], models: list[str], device: torch.device, repeats: int, tile: int,
              transform: str = "adain", style_size: int = 512, progress: Callable[[str], None] | None = None,
              precision: str = "float32") -> dict[str, Any]:
    """Measure every model x size x (style cached, not cached); returns the ``bench --json`` document.

    ``sizes``: ``"WxH"`` strings; ``models``: names of :data:`MODELS`; ``repeats``: timed calls per row up to
    1024x1024 (one above); ``tile``: tile side; ``transform``: for the ``artnet``/``artnet_unpruned`` rows;
    ``style_size``: side of the random style image; ``progress``: called with one line per row.
    """
    parsed = [(s, *parse_size(s)) for s in sizes]
    candidates, notes = _candidates(models, device, tile, transform, precision)
    generator = torch.Generator().manual_seed(0)
    style_image = torch.rand(1, 3, style_size, style_size, generator=generator).to(device)
    load_before = _load_average()
    rows: list[dict[str, Any]] = []
    warm = min(256, *(min(w, h) for _, w, h in parsed))
    for cand in candidates:  # warm-up: first-call allocations and kernel selection
        cand.net.stylize(torch.rand(1, 3, warm, warm, generator=generator).to(device), style_image,
                         transform=cand.transform)
    for label, width, height in parsed:
        content = torch.rand(1, 3, height, width, generator=generator).to(device)
        calls: dict[tuple[str, bool], Callable[[], None]] = {}
        peaks: dict[tuple[str, bool], float] = {}
        for cand in candidates:
            cached: StyleFeatures = cand.net.encode_style(style_image, style_size)
            for is_cached in (True, False):
                style = cached if is_cached else style_image

                def call(style=style, cand=cand, content=content) -> None:
                    cand.net.stylize(content, style, transform=cand.transform, style_size=style_size)

                with PeakMemory(device) as memory:  # untimed warm-up at this size (fills the style cache)
                    call()
                calls[(cand.name, is_cached)], peaks[(cand.name, is_cached)] = call, memory.peak_mb
        count = repeats if width * height <= 1024 * 1024 else 1
        times: dict[tuple[str, bool], list[float]] = {key: [] for key in calls}
        for _ in range(count):  # interleaved: every model once per round
            for key, call in calls.items():
                times[key].append(_timed(call, device))
        for (name, is_cached), values in times.items():
            cand = next(c for c in candidates if c.name == name)
            ms, peak = statistics.median(values), peaks[(name, is_cached)]
            rows.append({"model": name, "size": label, "style_cached": is_cached, "transform": cand.transform,
                         "ms": round(ms, 1), "peak_mb": round(peak, 1), "repeats": count, "note": cand.note})
            if progress:
                progress(f"{name:16s} {label:10s} cached={is_cached!s:5s} {ms:10.1f} ms {peak:8.1f} MB")
    for row in rows:  # ratios against the baselines measured in this same run
        for baseline in BASELINES:
            base = next((r for r in rows if r["model"] == baseline and r["size"] == row["size"]
                         and r["style_cached"] == row["style_cached"]), None)
            if base is not None and row["ms"] > 0:
                row[f"speedup_vs_{baseline}"] = round(base["ms"] / row["ms"], 2)
    return {"device": _device_name(device), "threads": torch.get_num_threads(), "tile": tile, "precision": precision,
            "date": datetime.datetime.now().isoformat(timespec="seconds"), "torch": torch.__version__,
            "load_average": {"before": load_before, "after": _load_average()}, "notes": notes, "rows": rows}


def _load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return f"cpu: {cpu_name()}"


def format_table(result: dict[str, Any]) -> str:
    """Plain-text table of the bench rows (Markdown-compatible)."""
    load = result.get("load_average") or {}
    load_text = ""
    if load.get("before") and load.get("after"):
        load_text = ("  load average (1/5/15 min) before: " + "/".join(f"{v:.1f}" for v in load["before"])
                     + ", after: " + "/".join(f"{v:.1f}" for v in load["after"]))
    lines = [f"device: {result['device']}  threads: {result['threads']}  precision: "
             f"{result.get('precision', 'float32')}  date: {result['date']}{load_text}", "",
             "| model | size | style cached | transform | ms | peak MB | "
             + " | ".join(f"x faster than {b}" for b in BASELINES) + " |",
             "|---|---|---|---|---:|---:|" + "---:|" * len(BASELINES)]
    for row in result["rows"]:
        ratios = " | ".join(f"{row[f'speedup_vs_{b}']:.2f}" if f"speedup_vs_{b}" in row else "-" for b in BASELINES)
        lines.append(f"| {row['model']} | {row['size']} | {'yes' if row['style_cached'] else 'no'} | "
                     f"{row['transform']} | {row['ms']:.1f} | {row['peak_mb']:.0f} | {ratios} |")
    for note in result["notes"]:
        lines.append(f"note: {note}")
    return "\n".join(lines)
