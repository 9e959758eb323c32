"""Demo handlers under real conditions (issue 19): uploads shared between sessions are never deleted, the CP
summary states what the quality JSON lists, Gradio's ``gr.File`` leaks no empty temp files, the page states
the retention."""

from __future__ import annotations

import numpy as np
from PIL import Image


def test_quality_summary_names_every_unreliable_joint_the_json_lists():
    from demos.cp_tab import quality_problems

    quality = {"warnings": [], "unreliable_joints": {"nose": 0.4, "l_ear": 0.25}, "never_detected": ["r_eye"]}
    problems = quality_problems(quality)
    assert problems and "nose (40%)" in problems[0] and "l_ear (25%)" in problems[0]
    assert any("r_eye" in p for p in problems)
    limb = {"warnings": ["unreliable limb joints (interpolated often): l_wrist"], "unreliable_joints": {"l_wrist": 0.5},
            "never_detected": []}
    assert quality_problems(limb) == limb["warnings"]  # named once, not twice
    assert quality_problems({"warnings": [], "unreliable_joints": {}, "never_detected": []}) == []


def test_cp_tab_summary_agrees_with_its_json_for_an_unreliable_head_joint(tmp_path):
    import shutil
    from pathlib import Path

    from cp_predict.examples import load_example
    from cp_predict.formats import write_csv
    from cp_predict.skeleton import JOINT_NAMES
    from demos import cp_tab

    data = load_example(cp_tab_examples()[0])
    nose = JOINT_NAMES.index("nose")
    data.data[0, 2, ::2, nose] = 0.0  # the nose lost in half of the frames: unreliable, but no limb joint
    upload = write_csv(data, 0, tmp_path / "baby.csv")
    summary, _, _, gif, quality = cp_tab.run(None, [str(upload)], None, 0)
    if gif:
        shutil.rmtree(Path(gif).parent, ignore_errors=True)
    assert "nose" in quality["unreliable_joints"]
    line = next(line for line in summary.split("\n\n") if line.startswith("Data quality"))
    assert "no problems found" not in line and "nose" in line


def cp_tab_examples() -> list[str]:
    from cp_predict.examples import example_titles

    return [t for t in example_titles() if "synthetic" in t.lower()] or example_titles()


def test_style_upload_is_read_but_left_to_gradio(tmp_path):
    from demos.style_tab import read_upload

    path = tmp_path / "shared_by_sessions.png"
    Image.fromarray(np.full((20, 30, 3), 7, np.uint8)).save(path)
    first, _ = read_upload(str(path))
    second, _ = read_upload(str(path))  # a second session with the same (content-hashed) upload
    assert first.shape == second.shape == (20, 30, 3) and path.exists()
    path.unlink()
    gone, message = read_upload(str(path))
    assert gone is None and "no longer on the server" in message and str(tmp_path) not in message


def test_stylize_refuses_tiny_images_with_a_message(monkeypatch):
    from demos import style_tab

    class Net:
        device = "cpu"

    monkeypatch.setattr(style_tab, "_model", lambda: Net())
    image, message = style_tab.stylize(np.zeros((1, 1, 3), np.uint8), np.zeros((64, 64, 3), np.uint8), "adain", 1.0,
                                       256, False)
    assert image is None and "1x1" in message and "16 px" in message
    image, message = style_tab.stylize(np.zeros((2, 900, 3), np.uint8), np.zeros((64, 64, 3), np.uint8), "adain",
                                       1.0, 256, False)
    assert image is None and "16 px" in message


def test_upload_file_component_leaks_no_temp_files(tmp_path, monkeypatch):
    import gradio as gr
    from gradio.data_classes import FileData, ListFiles

    from demos.uploads import UploadFile

    upload = tmp_path / "a.npz"
    upload.write_bytes(b"x")
    cache = tmp_path / "cache"
    cache.mkdir()
    with gr.Blocks():
        plain = gr.File(file_types=[".npz"], type="filepath", file_count="multiple")
        ours = UploadFile(file_types=[".npz"], type="filepath", file_count="multiple")
    for component in (plain, ours):
        component.GRADIO_CACHE = str(cache)
    assert ours.get_block_name() == "file"
    assert ours.preprocess(ListFiles(root=[FileData(path=str(upload))])) == [str(upload)]
    assert list(cache.iterdir()) == []
    plain.preprocess(ListFiles(root=[FileData(path=str(upload))]))
    assert len(list(cache.iterdir())) == 1  # what Gradio's own gr.File leaves behind on every request


def test_retention_is_stated_and_configurable(monkeypatch):
    from demos import uploads

    monkeypatch.setenv("PRUNELAB_DEMO_RETENTION_S", "3")
    assert uploads.retention_seconds() == 3 and "4 s" in uploads.retention_text()
    monkeypatch.delenv("PRUNELAB_DEMO_RETENTION_S")
    assert uploads.retention_seconds() == 300 and "6 min" in uploads.retention_text()


def test_cp_tab_full_temp_folder_keeps_the_prediction_without_animation(monkeypatch):
    import errno
    import tempfile

    from demos import cp_tab

    real = tempfile.mkdtemp

    def full(*args, prefix=None, **kwargs):
        if prefix == cp_tab.GIF_PREFIX:
            raise OSError(errno.ENOSPC, "No space left on device", "/tmp/prunelab-cp-x")
        return real(*args, prefix=prefix, **kwargs)

    monkeypatch.setattr(tempfile, "mkdtemp", full)
    summary, bars, _, gif, quality = cp_tab.run(cp_tab_examples()[0], None, None, 0)
    assert summary.startswith("## ") and "Risk" in summary and bars is not None and quality
    assert gif is None and "No animation" in summary and "No space left on device" in summary
    assert "[Errno" not in summary
