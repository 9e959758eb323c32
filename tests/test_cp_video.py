"""Video input (optional ``video`` extra): the 33 -> 18 landmark mapping, the install hint, extraction."""

from __future__ import annotations

import numpy as np
import pytest

from cp_predict.cli import main
from cp_predict.skeleton import JOINT_INDEX
from cp_predict.video import BLAZEPOSE_INDEX, INSTALL_HINT, blazepose_to_openpose18, mediapipe_available
from prunelab.errors import InputError


def _video(path, frames, fps=25.0):
    import cv2

    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def test_blazepose_mapping_to_openpose18():
    t = 4
    lm = np.zeros((t, 33, 3))
    lm[:, :, 0] = np.arange(33) / 40.0
    lm[:, :, 1] = 0.25
    lm[:, :, 2] = np.linspace(0.5, 0.99, 33)
    lm[2] = np.nan  # no person in frame 2
    out = blazepose_to_openpose18(lm)
    assert out.shape == (3, t, 18)
    for name, src in BLAZEPOSE_INDEX.items():
        j = JOINT_INDEX[name]
        if isinstance(src, tuple):
            assert out[0, 0, j] == pytest.approx((src[0] + src[1]) / 80.0 - 0.5)
            assert out[2, 0, j] == pytest.approx(min(lm[0, src[0], 2], lm[0, src[1], 2]))
        else:
            assert out[0, 0, j] == pytest.approx(src / 40.0 - 0.5)
            assert out[2, 0, j] == pytest.approx(lm[0, src, 2])
    assert (out[:, 2] == 0).all()
    # BlazePose's "left" is the person's left, like OpenPose: l_wrist is landmark 15
    assert BLAZEPOSE_INDEX["l_wrist"] == 15 and BLAZEPOSE_INDEX["r_ankle"] == 28


@pytest.mark.skipif(mediapipe_available(), reason="checks the message shown when the video extra is missing")
def test_without_the_extra_the_message_says_how_to_install(tmp_path, capsys):
    video = _video(tmp_path / "v.avi", [np.zeros((64, 64, 3), np.uint8)] * 3)
    code = main(["extract", "--video", str(video), "--out", str(tmp_path / "s.npz")])
    err = capsys.readouterr().err
    assert code == 2 and "pip install 'prunelab[video]'" in err and err.count("\n") == 1
    assert not (tmp_path / "s.npz").exists()
    from cp_predict.formats import load_skeletons

    with pytest.raises(InputError, match="prunelab\\[video\\]"):
        load_skeletons(video)
    assert "mediapipe==0.10.21" in INSTALL_HINT


@pytest.mark.skipif(not mediapipe_available(), reason="needs the optional video extra (mediapipe)")
def test_extract_finds_a_person(tmp_path, capsys):
    import cv2
    from skimage import data

    person = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    frames = [np.roll(person, shift, axis=1) for shift in range(0, 120, 1)]
    video = _video(tmp_path / "astronaut.avi", frames)
    out = tmp_path / "s.npz"
    assert main(["extract", "--video", str(video), "--out", str(out), "--json"]) == 0
    import json

    quality = json.loads(capsys.readouterr().out)["quality"]
    assert quality["frames"] == 120 and quality["fps"] == 25.0 and quality["frames_with_pose"] >= 100
    from cp_predict.formats import read_npz

    skel = read_npz(out)
    nose = skel.data[0, :, :, JOINT_INDEX["nose"]]
    assert (nose[2] > 0.5).mean() > 0.8  # the face is clearly visible
    assert np.median(np.diff(nose[0])) > 0  # the picture moves right, so does the nose
