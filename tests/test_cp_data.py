"""cp_predict input: validation at the boundary and every reader/writer."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from cp_predict.data import MIN_SECONDS, validate_skeletons
from cp_predict.formats import (
    CSV_COLUMNS,
    load_skeletons,
    read_csv,
    read_npz,
    read_openpose_json_dir,
    read_pyskl,
    save_npz,
    write_csv,
    write_pyskl,
)
from cp_predict.simulate import GeneratorConfig, generate
from cp_predict.skeleton import FLIP_PERMUTATION, JOINT_NAMES
from prunelab.errors import InputError


@pytest.fixture(scope="module")
def small():
    return generate(GeneratorConfig(n=4, seed=5, frames=120))


def test_joint_layout_is_openpose_coco18():
    assert JOINT_NAMES[:5] == ("nose", "neck", "r_shoulder", "r_elbow", "r_wrist")
    assert len(JOINT_NAMES) == 18
    flipped = [JOINT_NAMES[i] for i in FLIP_PERMUTATION]
    assert flipped[2] == "l_shoulder" and flipped[0] == "nose" and flipped[17] == "r_ear"


@pytest.mark.parametrize(
    ("data", "kwargs", "message"),
    [
        (np.zeros((2, 3, 200)), {}, "shape"),
        (np.zeros((2, 2, 200, 18)), {}, "3 channels"),
        (np.zeros((2, 3, 200, 25)), {}, "BODY_25"),
        (np.zeros((2, 3, 200, 17)), {}, "18 joints"),
        (np.zeros((1, 3, 50, 18)), {}, "too short"),
        (np.ones((1, 3, 200, 18)), {"fps": 1000}, "frame rate"),
        (np.ones((1, 3, 200, 18)), {"fps": float("nan")}, "frame rate"),
        (np.ones((1, 3, 200, 18)) * 2, {}, "confidence"),
        (np.zeros((1, 3, 200, 18)), {}, "no detected joint"),
        (np.ones((2, 3, 200, 18)), {"labels": [0, 2]}, r"0 \(normal\) or 1"),
        (np.ones((2, 3, 200, 18)), {"labels": [0]}, r"shape \(2,\)"),
        (np.ones((2, 3, 200, 18)), {"names": ["a"]}, "'names' has 1"),
        ("not numbers", {}, "numeric"),
    ],
)
def test_validation_errors_name_the_problem(data, kwargs, message):
    with pytest.raises(InputError, match=message):
        validate_skeletons(data, **kwargs)


def test_nan_is_rejected_with_infant_index():
    data = np.ones((3, 3, 200, 18), dtype=np.float32)
    data[2, 0, 10, 4] = np.nan
    with pytest.raises(InputError, match=r"NaN/inf.*#2"):
        validate_skeletons(data)


def test_minimum_length_is_in_seconds():
    ok = np.ones((1, 3, int(MIN_SECONDS * 50), 18))
    assert validate_skeletons(ok, fps=50).num_frames == MIN_SECONDS * 50
    with pytest.raises(InputError, match="too short"):
        validate_skeletons(ok, fps=25 * 2.5)


def test_npz_round_trip_keeps_everything(tmp_path, small):
    path = save_npz(small, tmp_path / "d.npz")
    back = read_npz(path)
    np.testing.assert_array_equal(back.data, small.data)
    np.testing.assert_array_equal(back.labels, small.labels)
    assert back.names == small.names and back.fps == small.fps
    assert list(back.meta["pattern"]) == list(small.meta["pattern"])
    with np.load(path, allow_pickle=False) as npz:  # readable without pickle
        assert npz["data"].shape == (4, 3, 120, 18)


def test_corrupt_and_incomplete_npz(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(InputError, match="not a readable .npz"):
        load_skeletons(bad)
    np.savez(tmp_path / "nodata.npz", labels=np.zeros(2))
    with pytest.raises(InputError, match="no 'data' array"):
        load_skeletons(tmp_path / "nodata.npz")
    np.savez(tmp_path / "obj.npz", data=np.array([object()], dtype=object))
    with pytest.raises(InputError, match="not a readable"):
        load_skeletons(tmp_path / "obj.npz")


def test_unknown_format_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_skeletons(tmp_path / "nope.npz")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(InputError, match="unknown input format"):
        load_skeletons(tmp_path / "x.txt")


def test_csv_round_trip_and_fps_comment(tmp_path, small):
    path = write_csv(small, 1, tmp_path / "one.csv")
    back = load_skeletons(path)
    np.testing.assert_allclose(back.data[0], small.data[1], atol=1e-6)
    assert back.fps == small.fps and back.labels is None
    assert read_csv(path, fps=20).fps == 20


def test_csv_errors(tmp_path):
    (tmp_path / "cols.csv").write_text("frame,nose_x\n0,1\n")
    with pytest.raises(InputError, match="lacks 53 columns"):
        load_skeletons(tmp_path / "cols.csv")
    header = ",".join(CSV_COLUMNS)
    (tmp_path / "text.csv").write_text(header + "\n" + ",".join(["oops"] * len(CSV_COLUMNS)) + "\n")
    with pytest.raises(InputError, match="non-numeric"):
        load_skeletons(tmp_path / "text.csv")


def test_pyskl_needs_trust_flag_and_round_trips(tmp_path, small):
    path = write_pyskl(small, tmp_path / "ann.pkl")
    with pytest.raises(InputError, match="refusing to unpickle"):
        load_skeletons(path)
    back = read_pyskl(path, trust_pickle=True, fps=small.fps)
    assert back.names == small.names
    np.testing.assert_array_equal(back.labels, small.labels)
    np.testing.assert_allclose(back.data[:, :2], small.data[:, :2], atol=1e-5)
    (tmp_path / "junk.pkl").write_bytes(pickle.dumps({"annotations": [{"nothing": 1}]}))
    with pytest.raises(InputError, match="lacks keypoint"):
        load_skeletons(tmp_path / "junk.pkl", trust_pickle=True)


def _write_openpose(folder, frames, body25=False, people_extra=None):
    folder.mkdir()
    for t, kp in enumerate(frames):
        people = [] if kp is None else [{"pose_keypoints_2d": kp.reshape(-1).tolist()}]
        if people_extra is not None and kp is not None:
            people.append({"pose_keypoints_2d": people_extra.reshape(-1).tolist()})
        (folder / f"video_{t:012d}_keypoints.json").write_text(json.dumps({"version": 1.3, "people": people}))


def test_openpose_json_folder_pixels_missing_frames_and_extra_people(tmp_path, small):
    seq = small.data[0]  # (3, T, V) canonical
    px = (seq[:2] + 0.5) * np.array([640, 480])[:, None, None]
    frames = [np.concatenate([px[:, t].T, seq[2, t][:, None]], axis=1) for t in range(seq.shape[1])]
    frames[5] = None  # nobody detected in frame 5
    faint = np.full((18, 3), 10.0)
    faint[:, 2] = 0.01  # a second, barely detected person must be ignored
    _write_openpose(tmp_path / "op", frames, people_extra=faint)
    back = load_skeletons(tmp_path / "op", fps=25)
    assert back.names == ["op"] and back.num_frames == seq.shape[1]
    keep = np.ones(seq.shape[1], bool)
    keep[5] = False
    detected = seq[2] > 0
    mask = keep[:, None] & detected
    np.testing.assert_allclose(back.data[0, :2][:, mask], seq[:2][:, mask], atol=1e-4)
    assert (back.data[0, 2, 5] == 0).all()


def test_openpose_body25_is_converted(tmp_path):
    kp = np.zeros((25, 3))
    kp[:, 0], kp[:, 1], kp[:, 2] = np.arange(25) * 10 + 5, 100, 0.9
    _write_openpose(tmp_path / "b25", [kp] * 120)
    back = read_openpose_json_dir(tmp_path / "b25")
    # COCO r_hip (8) is BODY_25 RHip (9): x = 95 px
    assert back.data[0, 0, 0, 8] == pytest.approx(95 / 640 - 0.5)
    assert back.data[0, 0, 0, 1] == pytest.approx(15 / 640 - 0.5)


def test_openpose_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no OpenPose .json"):
        load_skeletons(tmp_path / "empty")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "a.json").write_text("{not json")
    with pytest.raises(InputError, match="not an OpenPose keypoint JSON"):
        load_skeletons(tmp_path / "broken")
    kp = np.full((18, 3), 900.0)
    kp[:, 2] = 0.8
    _write_openpose(tmp_path / "big", [kp] * 120)
    with pytest.raises(InputError, match=r"give the video's size \(image_size\)"):
        load_skeletons(tmp_path / "big")
    assert load_skeletons(tmp_path / "big", image_size=(1000, 1000)).num_frames == 120


@pytest.mark.shared
def test_mini_rgbd_loads(shared_dir):
    data = read_npz(shared_dir / "data" / "cp" / "mini_rgbd_openpose18.npz")
    assert data.data.shape == (12, 3, 300, 18)
    assert data.labels.tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 1]
    assert data.names[0] == "01.json" and data.fps == 25
    assert data.data[:, 2].max() <= 1.0  # the one 1.0018 confidence is clipped
