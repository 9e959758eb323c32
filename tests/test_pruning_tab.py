"""The Pruning lab tab: lazy build, a pruning through the handler, readable messages, and a run in the browser."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from demos import pruning_tab

LABEL = "ResNet-20 (CIFAR-style, 3x32x32)"


def test_build_imports_no_torch():
    """``build()`` only lays out components: torch and core_pruning load on the first click."""
    code = ("import sys, gradio as gr; from demos import pruning_tab\n"
            "with gr.Blocks(): pruning_tab.build()\n"
            "print(sorted(m for m in ('torch', 'core_pruning') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_pruning_through_the_handler():
    status, report, channels, heatmap, rows = pruning_tab.run_pruning(LABEL, "l1", 0.5, ["l1", "l2", "fpgm"],
                                                                      0.05, 0)
    assert status == "Done."
    kept = float(re.search(r"\| FLOPs \(MACs\) \|[^|]+\|[^|]+\| ([\d.]+)% \|", report).group(1))
    assert abs(kept - 50.0) <= 2.0
    assert channels.axes[0].get_title() == "Channels kept per layer"
    image = heatmap.axes[0].images[0].get_array()
    assert image.shape == (3, 3) and (image.diagonal() == 1).all()
    assert len(rows) == 21 and {r[-1] for r in rows} <= {"gaussian-like", "not gaussian", "too few weights"}


def test_rounded_pruning_keeps_multiples_and_reports_a_measured_speed_up():
    status, report, channels, _, _ = pruning_tab.run_pruning(LABEL, "cpmc", 0.5, ["l1", "l2"], 0.05, 0, 8)
    assert status == "Done."
    before, kept = ([bar.get_width() for bar in c] for c in channels.axes[0].containers)
    pruned = [k for b, k in zip(before, kept) if k < b]
    assert pruned and all(k % 8 == 0 for k in pruned)
    row = re.search(r"\| CPU time, batch 16 \(measured\) \| ([\d.]+) ms \| ([\d.]+) ms \| speed-up ([\d.]+)x \|",
                    report)
    base_ms, pruned_ms, speedup = map(float, row.groups())
    assert base_ms > 0 and pruned_ms > 0 and speedup == pytest.approx(base_ms / pruned_ms, rel=0.02)


@pytest.mark.parametrize("args,message", [
    ((LABEL, "l1", 0.5, ["l1", "l2"], 0.05, 0, 3), "round channel counts"),
    ((LABEL, "l1", 0.5, ["l1"], 0.05, 0), "at least two criteria"),
    ((LABEL, "l1", 0.01, ["l1", "l2"], 0.05, 0), "between 0.05 and 1"),
    ((LABEL, "l1", 0.5, ["l1", "l2"], 1.5, 0), "alpha"),
    ((LABEL, "nope", 0.5, ["l1", "l2"], 0.05, 0), "unknown criterion"),
    (("no such model", "l1", 0.5, ["l1", "l2"], 0.05, 0), "unknown model"),
    ((LABEL, "l1", 0.5, ["l1", "l2"], 0.05, -3), "seed"),
])
def test_bad_input_gives_a_readable_message(args, message):
    status, report, channels, heatmap, rows = pruning_tab.run_pruning(*args)
    assert status.startswith("**Cannot prune:**") and message in status
    assert report == "" and channels is None and heatmap is None and rows is None


def test_engine_refusal_is_shown_as_a_message(monkeypatch):
    """An unreachable budget raised by the engine (here forced by a 10-layer floor) reaches the page as text."""
    import core_pruning

    real = core_pruning.prune
    monkeypatch.setattr(core_pruning, "prune", lambda *a, **k: real(*a, **k, min_channels=1000))
    status, *_ = pruning_tab.run_pruning(LABEL, "l1", 0.5, ["l1", "l2"], 0.05, 0)
    assert status.startswith("**Cannot prune:**") and "cannot reach" in status


@pytest.mark.browser
def test_pruning_through_the_page(app_page):
    page = app_page
    page.get_by_role("tab", name="Pruning lab").click()
    page.locator("#prune-run").click()
    page.wait_for_selector("#prune-status :text('Done.')", timeout=180_000)
    report = page.locator("#prune-report").inner_text()
    assert "pruned with cpmc to 50% of FLOPs" in report
    kept = float(re.search(r"FLOPs \(MACs\)\s+[\d.]+ M\s+[\d.]+ M\s+([\d.]+)%", report).group(1))
    assert abs(kept - 50.0) <= 2.0
    assert re.search(r"CPU time, batch 16 \(measured\)\s+[\d.]+ ms\s+[\d.]+ ms\s+speed-up [\d.]+x", report)
    for plot in ("#prune-channels", "#prune-heatmap"):
        assert page.locator(f"{plot} img").count() == 1
    assert "gaussian-like" in page.locator("#prune-normality").inner_text()

    page.locator("#prune-compare").get_by_label("l2").uncheck()
    page.locator("#prune-compare").get_by_label("fpgm").uncheck()
    page.locator("#prune-compare").get_by_label("cpmc").uncheck()
    page.locator("#prune-run").click()
    page.wait_for_selector("#prune-status :text('Cannot prune')", timeout=60_000)
    assert "at least two criteria" in page.locator("#prune-status").inner_text()
