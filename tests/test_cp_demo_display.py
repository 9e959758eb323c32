"""What the CP demo tab shows: interval with its meaning, gate verdict, side asymmetry, cohort beside the infant,
the animated skeleton's legend and L/R labels (handler and real browser)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from cp_predict import RESEARCH_NOTICE
from cp_predict.examples import GENERATED, load_example
from cp_predict.formats import write_csv
from cp_predict.plots import skeleton_gif
from cp_predict.preprocess import prepare
from demos import cp_tab


def test_summary_shows_interval_meaning_asymmetry_and_cohort():
    summary, bars, *_ = cp_tab.run(GENERATED[1], None, None, 0)
    assert "90% interval" in summary and "split-conformal" in summary and "quality gate: **assessable**" in summary
    assert "Side asymmetry, (right - left) / (right + left): importance" in summary
    assert "Above the cohort average for this infant" in summary and "occlusion" in summary
    labels = [t.get_text() for t in bars.axes[0].get_legend().get_texts()]
    assert "cohort average" in labels


def test_not_assessable_recording_gets_no_risk(tmp_path):
    data = load_example(GENERATED[0])
    data.data[:, :2] = data.data[:, :2, :1]  # frozen skeleton
    upload = write_csv(data, 0, tmp_path / "frozen.csv")
    summary, *_ = cp_tab.run(None, [str(upload)], None, 0)
    assert summary.startswith("## Not assessable: near-motionless") and "Risk" not in summary.split("\n")[0]
    assert RESEARCH_NOTICE in summary


def test_animation_has_a_colour_legend_and_side_labels(tmp_path):
    positions = prepare(load_example(GENERATED[0]))[0]
    importance = np.zeros((positions.shape[1], 18))
    path = skeleton_gif(positions, importance, tmp_path / "a.gif", max_frames=3)
    frame = np.asarray(Image.open(path).convert("RGB"))
    legend = frame[6:16, 95:159]  # the low-to-high colour ramp
    assert legend.std(axis=1).mean() > 20 and frame.shape[0] == 320 + 18 + 22
    # an "L" / "R" letter just right of and above each wrist and ankle (same placement as skeleton_gif)
    xy = positions[:, ::100]
    lo, hi = xy.min(axis=(1, 2)), xy.max(axis=(1, 2))
    scale = 280 / (hi - lo).max()
    pts = xy[:, 0].T * scale + (320 - scale * (hi - lo)) / 2 - scale * lo + np.array([0, 22])
    for joint in ("l_wrist", "l_ankle", "r_wrist", "r_ankle"):
        x, y = pts[list(cp_tab_joints()).index(joint)].round().astype(int)
        box = frame[y - 12:y - 2, x + 9:x + 15]
        assert (box.sum(axis=2) < 100).any(), joint  # black text pixels


def cp_tab_joints():
    from cp_predict.skeleton import JOINT_NAMES

    return JOINT_NAMES


@pytest.mark.browser
def test_page_shows_side_asymmetry_and_gate(app_page, tmp_path):
    page = app_page
    page.get_by_role("tab", name="CP risk (joint attention)").click()
    page.locator("#cp-predict").click()
    result = page.locator("#cp-result")
    result.get_by_text("Side asymmetry", exact=False).first.wait_for(timeout=120_000)
    text = result.inner_text()
    assert "(right - left) / (right + left)" in text and "quality gate: assessable" in text
    assert "90% interval" in text and "cohort average" in text
    data = load_example(GENERATED[0])
    data.data[:, :2] = data.data[:, :2, :1]
    upload = write_csv(data, 0, tmp_path / "frozen_baby.csv")
    page.locator("#cp-upload input[type=file]").set_input_files(str(upload))
    page.get_by_text("frozen_baby.csv").first.wait_for(timeout=60_000)
    page.locator("#cp-predict").click()
    page.locator("#cp-result").get_by_text("Not assessable", exact=False).first.wait_for(timeout=120_000)
    shutil.rmtree(tmp_path, ignore_errors=True)
