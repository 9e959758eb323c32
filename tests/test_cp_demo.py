"""The CP tab of the demo app: fast build, predictions through the handler and through a real browser."""

from __future__ import annotations

import shutil
import time

import gradio as gr
import pytest

from cp_predict import RESEARCH_NOTICE
from cp_predict.examples import GENERATED, example_titles, load_example
from cp_predict.formats import write_csv
from demos import cp_tab


def test_build_is_fast_and_loads_no_model():
    cp_tab._model.cache_clear()
    start = time.perf_counter()
    with gr.Blocks():
        cp_tab.build()
    assert time.perf_counter() - start < 20  # generous: a shared, loaded CI machine
    assert cp_tab._model.cache_info().currsize == 0


def test_examples_without_shared_data(monkeypatch, tmp_path):
    monkeypatch.setenv("PRUNELAB_SHARED", str(tmp_path / "absent"))
    assert example_titles() == list(GENERATED)
    one = load_example(GENERATED[1])
    assert len(one) == 1 and one.labels.tolist() == [1]


@pytest.mark.shared
def test_mini_rgbd_examples_offered_with_shared_data(shared_dir):
    titles = example_titles()
    assert len(titles) == len(GENERATED) + 12 and any("MINI-RGBD 04" in t for t in titles)


def test_prediction_through_the_handler():
    summary, bars, heat, gif, quality = cp_tab.run(GENERATED[3], None, None, 0)
    assert summary.startswith("## Risk ") and RESEARCH_NOTICE in summary
    assert bars is not None and heat is not None and gif.endswith(".gif")
    assert quality["frames"] == 300 and "warnings" in quality


def test_uploads_are_read_from_a_private_copy_and_left_to_gradio(tmp_path):
    upload = write_csv(load_example(GENERATED[0]), 0, tmp_path / "baby.csv")
    before = upload.read_bytes()
    summary, *_ = cp_tab.run(None, [str(upload)], None, 0)
    assert "`baby`" in summary and upload.read_bytes() == before  # Gradio's file (shared by sessions): kept
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"nonsense")
    summary, bars, *_ = cp_tab.run(GENERATED[0], [str(bad)], None, 0)
    assert summary.startswith("**Error:**") and "not a readable" in summary and bars is None
    assert RESEARCH_NOTICE in summary and bad.exists()


@pytest.mark.browser
def test_prediction_through_the_page(app_page, tmp_path):
    page = app_page
    page.get_by_role("tab", name="CP risk (joint attention)").click()
    page.locator("#cp-predict").click()
    result = page.locator("#cp-result")
    result.get_by_text("Risk", exact=False).first.wait_for(timeout=120_000)
    text = result.inner_text()
    assert "%" in text and RESEARCH_NOTICE in text and "synthetic_1" in text
    page.locator("#cp-animation img").first.wait_for(timeout=60_000)
    # now an upload: a CSV skeleton of another generated infant
    upload = write_csv(load_example(GENERATED[1]), 0, tmp_path / "upload_baby.csv")
    page.locator("#cp-upload input[type=file]").set_input_files(str(upload))
    page.get_by_text("upload_baby.csv").first.wait_for(timeout=60_000)
    page.locator("#cp-predict").click()
    page.locator("#cp-result").get_by_text("upload_baby", exact=False).first.wait_for(timeout=120_000)
    assert RESEARCH_NOTICE in page.locator("#cp-result").inner_text()
    shutil.rmtree(tmp_path, ignore_errors=True)
