"""Fuzz suite: every CLI entry point and every loader, fed bad inputs (issue 17).

Each CLI case runs ``main(argv)`` in-process inside a sandbox folder holding good inputs, bad inputs and an
existing output, and asserts: exit code 2, exactly one stderr line ``error: ...`` (no traceback, no
``[Errno N]``, no temporary file name, no advice to weaken ``weights_only``), and every file that existed
before is byte-identical afterwards, with no new file left behind. The nasty files are generated here (no
fixtures on disk). The loaders are also driven by hypothesis (random bytes, bit flips of valid files, random
JSON cards) and must either work or raise :class:`~prunelab.errors.InputError`. Runs in well under a minute.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from prunelab.errors import InputError

FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
                derandomize=True, database=None)


# -- the files ---------------------------------------------------------------------------------------------
def _png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims ``width`` x ``height`` and holds (almost) nothing: a decompression bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + \
        chunk(b"IEND", b"")


def _npy_member(shape: tuple[int, ...], dtype: str = "<f4", payload: bytes = b"") -> bytes:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": dtype, "fortran_order": False, "shape": shape})
    return header.getvalue() + payload


def _zip(members: dict[str, bytes]) -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


class _Evil:
    """Pickles to a call of ``os.getcwd`` (harmless): a file that tries to run code when unpickled."""

    def __reduce__(self):
        return (os.getcwd, ())


def _skeleton(n: int = 1, frames: int = 120) -> np.ndarray:
    rng = np.random.default_rng(0)
    data = rng.uniform(-0.3, 0.3, (n, 3, frames, 18)).astype(np.float32)
    data[:, 2] = 0.9
    return data


def _openpose_dir(folder: Path, frames: list[object]) -> Path:
    folder.mkdir()
    for t, doc in enumerate(frames):
        (folder / f"f_{t:012d}_keypoints.json").write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return folder


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> dict[str, Path]:
    """Valid inputs the bad cases are built around (made once)."""
    from core_pruning.commands.model_source import LoadedModel, write_card
    from core_pruning.models import build_model
    from core_pruning.plan import PruningPlan, save_pruned

    root = tmp_path_factory.mktemp("good")
    rng = np.random.default_rng(1)
    (root / "content.png").write_bytes(_png_bytes((rng.random((40, 48, 3)) * 255).astype(np.uint8)))
    (root / "style.png").write_bytes(_png_bytes((rng.random((32, 32, 3)) * 255).astype(np.uint8)))
    np.savez(root / "infants.npz", data=_skeleton(2, 150), labels=np.array([0, 1]))
    model = build_model("resnet20", num_classes=10).eval()
    loaded = LoadedModel(model, {"arch": "resnet20", "num_classes": 10, "in_channels": 3}, (3, 32, 32))
    pruned_dir = root / "pruned"
    pruned_dir.mkdir()
    save_pruned(model, PruningPlan(steps=[], criterion="l1"), pruned_dir / "model.pt")
    write_card(pruned_dir / "model.pt", loaded)
    return {"root": root, "content": root / "content.png", "style": root / "style.png",
            "npz": root / "infants.npz", "pruned": pruned_dir}


# -- the harness -------------------------------------------------------------------------------------------
def _snapshot(folder: Path) -> dict[str, str]:
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            found[str(path.relative_to(folder))] = "link:" + os.readlink(path)
        elif path.is_file():
            found[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _main(cli: str):
    if cli == "core":
        from core_pruning.__main__ import main
    elif cli == "artnet":
        from artnet.cli import main
    elif cli == "cp":
        from cp_predict.cli import main
    elif cli == "demos":
        from demos.__main__ import main
    else:  # pragma: no cover
        raise ValueError(cli)
    return main


def assert_refused(cli: str, argv: list[str], sandbox: Path, capsys, expect: str = "") -> str:
    """Run ``main(argv)`` in ``sandbox``; assert exit 2, one clean ``error:`` line, files untouched."""
    before = _snapshot(sandbox)
    capsys.readouterr()
    cwd = os.getcwd()
    os.chdir(sandbox)
    usage = False
    try:
        code = _main(cli)(argv)
    except SystemExit as exc:  # argparse usage errors: argparse's own usage lines, then one error line
        code, usage = exc.code, True
    finally:
        os.chdir(cwd)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, f"{cli} {argv}: exit {code}\n{err[-2000:]}"
    if usage and lines and lines[0].startswith("usage:"):
        lines = [line for line in lines if ": error: " in line]
    assert len(lines) == 1 and "error: " in lines[0], f"{cli} {argv}: not one error line:\n{err[-2000:]}"
    assert usage or lines[0].startswith("error: "), lines[0]
    message = lines[0]
    for bad in ("Traceback", "[Errno", ".tmp", "weights_only", "Weights only"):
        assert bad not in message, f"{cli} {argv}: {bad!r} in {message!r}"
    if expect:
        assert expect.lower() in message.lower(), f"{cli} {argv}: {expect!r} not in {message!r}"
    after = _snapshot(sandbox)
    assert after == before, f"{cli} {argv}: files changed: {set(after.items()) ^ set(before.items())}"
    return message


@pytest.fixture()
def sandbox(tmp_path: Path, good: dict[str, Path]) -> Path:
    """Good inputs, an existing output and a plain file (for paths that run through it)."""
    for name in ("content.png", "style.png", "infants.npz"):
        (tmp_path / name).write_bytes(good[name.replace(".png", "").replace("infants.npz", "npz")].read_bytes())
    (tmp_path / "existing.png").write_bytes(b"precious")
    (tmp_path / "existing.npz").write_bytes(b"precious")
    (tmp_path / "afile.txt").write_text("a file, not a folder")
    (tmp_path / "dangling.png").symlink_to(tmp_path / "nowhere" / "target.png")
    (tmp_path / "dangling.npz").symlink_to(tmp_path / "nowhere" / "target.npz")
    (tmp_path / "dangling_dir").symlink_to(tmp_path / "nowhere_dir")
    return tmp_path


# -- images (artnet stylize/video; core_pruning --calib) -----------------------------------------------------
BAD_IMAGES = {
    "empty.png": (b"", "not a readable image"),
    "garbage.png": (b"\x00garbage" * 50, "not a readable image"),
    "truncated.png": (None, "not a readable image"),
    "bomb.png": (_png_header(40000, 40000), "too large"),
    "zero.png": (_png_header(0, 5), ""),
    "tiny.png": (_png_bytes(np.zeros((1, 1, 3), np.uint8)), "1x1"),
    "strip.png": (_png_bytes(np.zeros((2, 600, 3), np.uint8)), "16 px"),
}


def _write_bad_image(folder: Path, name: str) -> Path:
    payload, _ = BAD_IMAGES[name]
    if payload is None:
        payload = _png_bytes(np.full((64, 64, 3), 200, np.uint8))[:70]
    path = folder / name
    path.write_bytes(payload)
    return path


@pytest.mark.parametrize("name", sorted(BAD_IMAGES))
@pytest.mark.parametrize("role", ["content", "style"])
def test_artnet_stylize_bad_image(sandbox, capsys, name, role):
    bad = _write_bad_image(sandbox, name)
    content, style = (str(bad), "style.png") if role == "content" else ("content.png", str(bad))
    message = assert_refused("artnet", ["stylize", "--content", content, "--style", style, "--out", "out.png",
                                        "--size", "64", "--style-size", "64"], sandbox, capsys,
                             expect=BAD_IMAGES[name][1])
    assert name in message


def test_artnet_stylize_bad_mask_missing_files_and_options(sandbox, capsys):
    _write_bad_image(sandbox, "garbage.png")
    base = ["stylize", "--content", "content.png", "--out", "out.png", "--size", "64"]
    assert_refused("artnet", [*base, "--style", "style.png", "--style", "style.png", "--mask", "garbage.png"],
                   sandbox, capsys, "garbage.png")
    assert_refused("artnet", [*base, "--style", "missing.png"], sandbox, capsys, "missing.png")
    assert_refused("artnet", [*base, "--style", "style.png", "--size", "9"], sandbox, capsys)
    assert_refused("artnet", [*base, "--style", "style.png", "--weights", "0.5,0.5"], sandbox, capsys, "weights")
    assert_refused("artnet", [*base, "--style", "style.png", "--bogus"], sandbox, capsys)
    assert_refused("artnet", [*base, "--style", "style.png", "--encoder", "content.png"], sandbox, capsys,
                   "content.png")


@pytest.mark.parametrize("out,expect", [("existing.png", "already exists"), ("dangling.png", "symbolic link"),
                                        ("afile.txt/out.png", "is a file, not a folder"),
                                        ("out.gif", "unsupported output format"), (".", "")])
def test_artnet_stylize_bad_output(sandbox, capsys, out, expect):
    assert_refused("artnet", ["stylize", "--content", "content.png", "--style", "style.png", "--out", out,
                              "--size", "64", "--style-size", "64"], sandbox, capsys, expect)


def test_artnet_other_commands_bad_input(sandbox, capsys):
    _write_bad_image(sandbox, "garbage.png")
    assert_refused("artnet", ["video", "--input", "nothing.mp4", "--style", "style.png", "--out", "v"], sandbox,
                   capsys, "nothing.mp4")
    assert_refused("artnet", ["video", "--input", "content.png", "--style", "garbage.png", "--out", "v"], sandbox,
                   capsys, "garbage.png")
    assert_refused("artnet", ["video", "--input", "content.png", "--style", "style.png", "--out", "dangling_dir"],
                   sandbox, capsys, "symbolic link")
    assert_refused("artnet", ["bench", "--sizes", "axb", "--models", "artnet", "--repeats", "1"], sandbox, capsys)
    assert_refused("artnet", ["prune", "--encoder", "garbage.png", "--out", "afile.txt/enc.pt"], sandbox, capsys,
                   "afile.txt")
    assert_refused("artnet", ["distill", "--run", "r", "--export", "existing.png"], sandbox, capsys,
                   "already exists")
    assert_refused("artnet", ["train-decoder", "--run", "r", "--export", "dangling.png"], sandbox, capsys,
                   "symbolic link")


def test_artnet_folder_run_reports_every_bad_file_and_writes_the_rest(sandbox, capsys):
    folder = sandbox / "contents"
    folder.mkdir()
    (folder / "a_good.png").write_bytes((sandbox / "content.png").read_bytes())
    _write_bad_image(folder, "garbage.png")
    _write_bad_image(folder, "tiny.png")
    (folder / "z_good.png").write_bytes((sandbox / "content.png").read_bytes())
    from artnet.cli import main

    capsys.readouterr()
    code = main(["stylize", "--content", str(folder), "--style", str(sandbox / "style.png"), "--out",
                 str(sandbox / "styled"), "--size", "64", "--style-size", "64"])
    err = capsys.readouterr().err
    assert code == 2
    assert sorted(p.name for p in (sandbox / "styled").iterdir()) == ["a_good.png", "z_good.png"]
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 3 and "garbage.png" in errors[0] and "tiny.png" in errors[1]
    assert "2 of 4 images failed" in errors[2] and "Traceback" not in err


# -- skeleton files (cp_predict predict/train/evaluate/prune) -------------------------------------------------
def _bad_skeleton_files(folder: Path) -> dict[str, tuple[Path, str]]:
    files: dict[str, tuple[Path, str]] = {}

    def put(name: str, payload: bytes, expect: str) -> None:
        (folder / name).write_bytes(payload)
        files[name] = (folder / name, expect)

    put("empty.npz", b"", "not a readable")
    put("garbage.npz", os.urandom(300), "not a readable")
    put("huge.npz", _zip({"data.npy": _npy_member((100000, 3, 100000, 18))}), "declares shape")
    put("short_payload.npz", _zip({"data.npy": _npy_member((2, 3, 150, 18), payload=b"\0" * 64)}),
        "tampered or truncated")
    put("objects.npz", _npz(data=np.array([object()], dtype=object)), "python objects")
    put("three_d.npz", _npz(data=_skeleton(1)[0]), "3-D")
    nan = _skeleton(2)
    nan[1, 0, 5, 3] = np.nan
    put("nan.npz", _npz(data=nan), "NaN")
    put("joints25.npz", _npz(data=np.zeros((1, 3, 120, 25), np.float32)), "BODY_25")
    put("nodata.npz", _npz(labels=np.array([0, 1])), "no 'data'")
    put("labels.npz", _npz(data=_skeleton(2), labels=np.array([0, 7])), "labels")
    put("short.npz", _npz(data=_skeleton(1, 20)), "too short")
    put("fps.npz", _npz(data=_skeleton(1), fps=np.array(1e9)), "frame rate")
    put("empty.csv", b"", "csv")
    put("header_only.csv", b"frame,nose_x\n", "csv")
    put("letters.csv", b"nose_x,nose_y\nabc,def\n", "csv")
    put("binary.csv", os.urandom(200), "csv")
    put("pose.pkl", pickle.dumps({"annotations": []}), "refusing to unpickle")
    put("evil.pkl", pickle.dumps(_Evil()), "refusing to unpickle")
    put("one.json", b"{}", "folder")
    put("video.xyz", b"x", "unknown input format")
    for name, frames in {
        "op_badjson": ["{not json"],
        "op_people_int": [{"people": 5}],
        "op_keypoints_text": [{"people": [{"pose_keypoints_2d": "abc"}]}],
        "op_person_list": [{"people": [[1, 2, 3]]}],
        "op_count": [{"people": [{"pose_keypoints_2d": [1.0] * 10}]}],
        "op_nan": [{"people": [{"pose_keypoints_2d": [float("nan")] * 54}]}] * 3,
        "op_empty": [],
    }.items():
        if frames:
            _openpose_dir(folder / name, frames)
        else:
            (folder / name).mkdir()
        files[name] = (folder / name, "")
    return files


def test_cp_predict_bad_skeleton_files(sandbox, capsys):
    files = _bad_skeleton_files(sandbox)
    for name, (path, expect) in files.items():
        message = assert_refused("cp", ["predict", "--input", str(path)], sandbox, capsys, expect)
        assert name in message or "_keypoints.json" in message, message  # the file, or the frame file in it


def test_cp_pyskl_with_trust_still_fails_cleanly(sandbox, capsys):
    (sandbox / "garbage.pkl").write_bytes(os.urandom(100))
    (sandbox / "wrong.pkl").write_bytes(pickle.dumps({"annotations": [{"keypoint": "x"}]}))
    (sandbox / "shape.pkl").write_bytes(pickle.dumps([{"keypoint": np.zeros((1, 120, 17, 2)),
                                                       "keypoint_score": np.ones((1, 120, 17))}]))
    for name in ("garbage.pkl", "wrong.pkl", "shape.pkl"):
        assert name in assert_refused("cp", ["predict", "--input", name, "--trust-pickle"], sandbox, capsys)


def test_cp_other_commands_bad_input(sandbox, capsys):
    files = _bad_skeleton_files(sandbox)
    assert_refused("cp", ["train", "--data", str(files["nan.npz"][0]), "--out", "run"], sandbox, capsys, "NaN")
    assert_refused("cp", ["train", "--data", "infants.npz", "--out", "afile.txt/run"], sandbox, capsys,
                   "afile.txt")
    assert_refused("cp", ["evaluate", "--data", str(files["huge.npz"][0])], sandbox, capsys, "declares shape")
    assert_refused("cp", ["evaluate", "--data", "infants.npz", "--model", "content.png"], sandbox, capsys,
                   "content.png")
    assert_refused("cp", ["prune", "--out", "existing.npz"], sandbox, capsys, "already exists")
    assert_refused("cp", ["prune", "--model", "missing_dir", "--out", "p"], sandbox, capsys, "missing_dir")
    assert_refused("cp", ["predict", "--input", "infants.npz", "--model", "infants.npz"], sandbox, capsys,
                   "infants.npz")
    for out, expect in (("existing.npz", "already exists"), ("dangling.npz", "symbolic link"),
                        ("afile.txt/sim.npz", "is a file, not a folder"), ("sim.csv", ".npz")):
        assert_refused("cp", ["simulate", "--n", "2", "--out", out], sandbox, capsys, expect)
    assert_refused("cp", ["extract", "--video", "nothing.mp4", "--out", "existing.npz"], sandbox, capsys)
    assert_refused("cp", ["simulate", "--n", "-3", "--out", "x.npz"], sandbox, capsys)


# -- weights, plans and model cards (core_pruning prune/analyze/train-prune) ------------------------------------
def _bad_model_files(folder: Path, good: dict[str, Path]) -> dict[str, tuple[str, str]]:
    """name -> (--model argument, expected text)."""
    cases: dict[str, tuple[str, str]] = {}

    def put(name: str, payload: bytes, expect: str) -> None:
        (folder / name).write_bytes(payload)
        cases[name] = (str(folder / name), expect)

    put("garbage.pt", os.urandom(500), "not a pytorch checkpoint")
    put("empty.pt", b"", "not a pytorch checkpoint")
    good_pt = (good["pruned"] / "model.pt").read_bytes()
    put("truncated.pt", good_pt[: len(good_pt) // 2], "")
    buffer = io.BytesIO()
    torch.save(_Evil(), buffer)
    put("evil.pt", buffer.getvalue(), "not trusted")
    buffer = io.BytesIO()
    torch.save(torch.zeros(3), buffer)
    put("tensor.pt", buffer.getvalue(), "not a model checkpoint")
    buffer = io.BytesIO()
    torch.save({"conv.weight": torch.zeros(2, 2)}, buffer)
    put("state.pt", buffer.getvalue(), "--arch")
    # pruned-model files with tampered cards / plans
    card = json.loads((good["pruned"] / "model.json").read_text())
    variants = {
        "card_no_base": {k: v for k, v in card.items() if k != "base"},
        "card_no_classes": {**card, "base": {k: v for k, v in card["base"].items() if k != "num_classes"}},
        "card_no_size": {k: v for k, v in card.items() if k != "input_size"},
        "card_bad_size": {**card, "input_size": [3, -1, "x"]},
        "card_huge_size": {**card, "input_size": [3, 100000, 100000]},
        "card_bad_arch": {**card, "base": {**card["base"], "arch": "nonsense"}},
        "card_base_list": {**card, "base": [1, 2]},
        "card_classes_text": {**card, "base": {**card["base"], "num_classes": "ten"}},
        "card_no_recipe": {**card, "base": {"sha256": "0" * 64}},
        "card_module_missing": {**card, "base": {"module": str(folder / "gone.pt")}},
        "card_not_json": "{ not json",
        "card_wrong_format": {**card, "format": "other/9"},
    }
    for name, content in variants.items():
        sub = folder / name
        sub.mkdir()
        (sub / "model.pt").write_bytes(good_pt)
        (sub / "model.json").write_text(content if isinstance(content, str) else json.dumps(content))
        cases[name] = (str(sub / "model.pt"), "model card" if name != "card_wrong_format" else "not a prunelab")
    plan_file = torch.load(good["pruned"] / "model.pt", weights_only=True)
    for name, plan in {"plan_garbage": "not json", "plan_steps": json.dumps({"steps": "x"})}.items():
        sub = folder / name
        sub.mkdir()
        buffer = io.BytesIO()
        torch.save({**plan_file, "plan": plan}, buffer)
        (sub / "model.pt").write_bytes(buffer.getvalue())
        (sub / "model.json").write_text(json.dumps(card))
        cases[name] = (str(sub), "")
    return cases


def test_core_prune_and_analyze_bad_model_files(sandbox, capsys, good):
    cases = _bad_model_files(sandbox, good)
    for name, (model, expect) in cases.items():
        message = assert_refused("core", ["prune", "--model", model, "--criterion", "l1", "--channel-ratio", "0.9",
                                          "--out", "pruned_out"], sandbox, capsys, expect)
        assert name in message or "gone.pt" in message, message
    for name in ("card_no_base", "evil.pt", "truncated.pt"):
        assert_refused("core", ["analyze", "--model", cases[name][0]], sandbox, capsys)


def test_core_bad_calibration_images_and_outputs(sandbox, capsys):
    calib = sandbox / "calib"
    calib.mkdir()
    _write_bad_image(calib, "garbage.png")
    base = ["prune", "--model", "resnet20", "--criterion", "zero", "--calib", str(calib)]
    assert_refused("core", [*base, "--out", "o"], sandbox, capsys, "garbage.png")
    assert_refused("core", [*base[:-2], "--calib", "afile.txt", "--out", "o"], sandbox, capsys, "afile.txt")
    ok = ["prune", "--model", "resnet20", "--criterion", "l1", "--channel-ratio", "0.9"]
    assert_refused("core", [*ok, "--out", "afile.txt"], sandbox, capsys, "is a file")
    assert_refused("core", [*ok, "--out", "dangling_dir"], sandbox, capsys, "symbolic link")
    assert_refused("core", [*ok, "--out", "afile.txt/deeper"], sandbox, capsys, "afile.txt")
    assert_refused("core", [*ok, "--round-to", "x=y"], sandbox, capsys)
    assert_refused("core", ["analyze", "--model", "resnet20", "--figure", "dangling.png"], sandbox, capsys,
                   "symbolic link")
    assert_refused("core", ["analyze", "--model", "resnet20", "--heatmap", "afile.txt/h.png"], sandbox, capsys,
                   "afile.txt")
    assert_refused("core", ["analyze", "--model", "resnet20", "--figure", "existing.png"], sandbox, capsys,
                   "already exists")
    assert_refused("core", ["train-prune", "--method", "sfp", "--model", "resnet20", "--data", "digits",
                            "--epochs", "1", "--out", "afile.txt/run"], sandbox, capsys, "afile.txt")


def test_demo_launcher_bad_options(sandbox, capsys):
    assert_refused("demos", ["--port", "99999"], sandbox, capsys, "--port")
    assert_refused("demos", ["--port", "x"], sandbox, capsys)


# -- hypothesis: the loaders on random and mutated bytes ---------------------------------------------------------
def _expect_input_error_or_value(load, *args):
    try:
        return load(*args)
    except InputError as exc:
        assert "\n" not in str(exc) and str(exc), repr(exc)
        return None


@FUZZ
@given(payload=st.binary(max_size=2000))
def test_image_loader_random_bytes(payload):
    from artnet.images import load_image, load_tensor

    _expect_input_error_or_value(load_image, payload)
    _expect_input_error_or_value(load_tensor, payload, 64)


@FUZZ
@given(data=st.data())
def test_image_loader_bit_flips(data):
    from artnet.images import load_tensor

    valid = bytearray(_png_bytes(np.full((20, 24, 3), 90, np.uint8)))
    for _ in range(data.draw(st.integers(1, 8))):
        valid[data.draw(st.integers(0, len(valid) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(valid)))
    _expect_input_error_or_value(load_tensor, bytes(valid[:cut]), 32)


@FUZZ
@given(data=st.data())
def test_npz_loader_bit_flips_and_cuts(data, tmp_path):
    from cp_predict.formats import load_skeletons

    valid = bytearray(_npz(data=_skeleton(1, 100), labels=np.array([1])))
    for _ in range(data.draw(st.integers(0, 6))):
        valid[data.draw(st.integers(0, len(valid) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(valid)))
    path = tmp_path / "mutant.npz"
    path.write_bytes(bytes(valid[:cut]))
    _expect_input_error_or_value(load_skeletons, path)


@FUZZ
@given(shape=st.lists(st.integers(0, 2**40), min_size=0, max_size=5), dtype=st.sampled_from(["<f4", "<f8", "|u1",
                                                                                                "<i8", "|O"]))
def test_npz_declared_headers(shape, dtype, tmp_path):
    from cp_predict.formats import load_skeletons

    path = tmp_path / "declared.npz"
    path.write_bytes(_zip({"data.npy": _npy_member(tuple(shape), dtype, payload=b"\0" * 256)}))
    _expect_input_error_or_value(load_skeletons, path)


@FUZZ
@given(text=st.text(max_size=400), suffix=st.sampled_from([".csv", ".npz", ".json_dir"]))
def test_skeleton_loaders_random_text(text, suffix, tmp_path):
    from cp_predict.formats import load_skeletons

    if suffix == ".json_dir":
        folder = tmp_path / "frames"
        folder.mkdir(exist_ok=True)
        for old in folder.iterdir():
            old.unlink()
        (folder / "a_000000000000_keypoints.json").write_text(text)
        _expect_input_error_or_value(load_skeletons, folder)
        return
    path = tmp_path / f"random{suffix}"
    path.write_text(text)
    _expect_input_error_or_value(load_skeletons, path)


SCALARS = st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats(allow_nan=False) | st.text(max_size=8)
JSON = st.recursive(SCALARS,
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                 max_size=4), max_leaves=12)


@FUZZ
@given(base=JSON, size=JSON, extra=st.dictionaries(st.sampled_from(["arch", "num_classes", "in_channels", "module",
                                                                     "sha256"]), JSON, max_size=3))
def test_model_card_random_content(base, size, extra, good, tmp_path):
    from core_pruning.commands.model_source import load_model

    folder = tmp_path / "m"
    folder.mkdir(exist_ok=True)
    (folder / "model.pt").write_bytes((good["pruned"] / "model.pt").read_bytes())
    if isinstance(base, dict):
        base = {**base, **extra}
    (folder / "model.json").write_text(json.dumps({"format": "prunelab-model/1", "base": base, "input_size": size}))
    _expect_input_error_or_value(load_model, str(folder / "model.pt"))


@FUZZ
@given(payload=st.binary(max_size=1500))
def test_weights_loaders_random_bytes(payload, tmp_path):
    from artnet.weights import load_encoder
    from core_pruning.commands.model_source import safe_load
    from prunelab.runs import load_checkpoint

    path = tmp_path / "random.pt"
    path.write_bytes(payload)
    for load in (safe_load, load_encoder, load_checkpoint):
        _expect_input_error_or_value(load, path)


# Found by the random-bytes fuzzing above (torch.load's legacy-pickle path raised IndexError on a 1-byte file).
def test_cp_model_loader_one_byte_file(tmp_path):
    from cp_predict.predictor import load_model

    (tmp_path / "model.pt").write_bytes(b".")
    with pytest.raises(InputError):
        load_model(tmp_path / "model.pt")


def test_plan_loader_json_that_is_no_object(tmp_path):
    from core_pruning.plan import PruningPlan

    (tmp_path / "plan.json").write_text("0")
    with pytest.raises(InputError):
        PruningPlan.load(tmp_path / "plan.json")


@FUZZ
@given(text=st.text(max_size=300))
def test_plan_loader_random_json_objects(text, tmp_path):
    from core_pruning.plan import PruningPlan

    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"format": "prunelab-plan/1", "steps": text}) if text else "{}")
    _expect_input_error_or_value(PruningPlan.load, path)


# -- library APIs raise the same InputError family ---------------------------------------------------------------
def test_library_apis_raise_input_errors(tmp_path, good):
    from artnet.images import load_tensor, save_image
    from core_pruning.commands.model_source import load_model
    from cp_predict.data import validate_skeletons
    from cp_predict.formats import read_npz
    from prunelab.errors import OutputError
    from prunelab.io import atomic_write_text, check_output_path

    (tmp_path / "huge.npz").write_bytes(_zip({"data.npy": _npy_member((100000, 3, 100000, 18))}))
    with pytest.raises(InputError, match="declares shape"):
        read_npz(tmp_path / "huge.npz")
    with pytest.raises(InputError, match="3-D"):
        validate_skeletons(_skeleton(1)[0])
    with pytest.raises(InputError, match="1x1"):
        load_tensor(_png_bytes(np.zeros((1, 1, 3), np.uint8)), 64)
    sub = tmp_path / "m"
    sub.mkdir()
    (sub / "model.pt").write_bytes((good["pruned"] / "model.pt").read_bytes())
    (sub / "model.json").write_text(json.dumps({"format": "prunelab-model/1", "input_size": [3, 32, 32]}))
    with pytest.raises(InputError, match="lacks key 'base'"):
        load_model(str(sub))
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    with pytest.raises(OutputError, match="symbolic link"):
        check_output_path(tmp_path / "link")
    (tmp_path / "file").write_text("x")
    for write in (lambda p: atomic_write_text("x", p), lambda p: save_image(np.zeros((4, 4, 3), np.uint8), p)):
        with pytest.raises(OutputError, match="is a file, not a folder") as info:
            write(tmp_path / "file" / "out.png")
        assert ".tmp" not in str(info.value) and "[Errno" not in str(info.value)
    assert issubclass(OutputError, InputError)
