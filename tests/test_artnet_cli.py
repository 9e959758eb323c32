"""``python -m artnet``: stylize (single, folder, mask, mixing), video, bench; errors are one line, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from artnet.cli import main
from artnet.decoder import Decoder
from artnet.encoder import GoogLeNetEncoder
from artnet.weights import DECODER_FILE, ENCODER_FILE, UNPRUNED_ENCODER_FILE, save_decoder, save_encoder


@pytest.fixture()
def weights_dir(tmp_path, monkeypatch):
    """Random-weight ArtNet files in a temporary weights folder (the CLI must not need trained weights)."""
    folder = tmp_path / "weights"
    torch.manual_seed(0)
    encoder = GoogLeNetEncoder().eval()
    head = torch.nn.Conv2d(480, 512, 1)
    meta = {"kind": "random", "kept_channels": list(range(480))}
    save_encoder(encoder, folder / ENCODER_FILE, head=head, meta=meta)
    save_encoder(encoder, folder / UNPRUNED_ENCODER_FILE, head=head, meta={"kind": "random"})
    save_decoder(Decoder(480), folder / DECODER_FILE)
    monkeypatch.setenv("PRUNELAB_WEIGHTS", str(folder))
    return folder


def _write(path, h=40, w=60, seed=0):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)
    return path


def _run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_stylize_writes_the_image_and_json(weights_dir, tmp_path, capsys):
    content, style = _write(tmp_path / "c.png", 50, 80), _write(tmp_path / "s.jpg", 30, 30, 1)
    out = tmp_path / "out" / "result.png"
    code, stdout, _ = _run(["stylize", "--content", content, "--style", style, "--out", out, "--size", 64,
                            "--transform", "adain", "--json"], capsys)
    assert code == 0
    report = json.loads(stdout)
    assert report["images"] == 1 and report["outputs"][0]["size"] == "64x40"
    assert Image.open(out).size == (64, 40)


def test_swap_weight_reaches_the_s2_transform(weights_dir, tmp_path, capsys, monkeypatch):
    from artnet.transforms import TRANSFORMS

    seen = []
    original = TRANSFORMS["s2"]

    def spy(*args, **kwargs):
        seen.append((kwargs.get("swap_weight"), kwargs.get("max_style_patches")))
        return original(*args, **kwargs)

    monkeypatch.setitem(TRANSFORMS, "s2", spy)
    content, style = _write(tmp_path / "c.png", 50, 80), _write(tmp_path / "s.jpg", 30, 30, 1)
    runs = (("given.png", ["--swap-weight", "0.25", "--style-patches", "16"]), ("default.png", []))
    for name, extra in runs:
        assert _run(["stylize", "--content", content, "--style", style, "--out", tmp_path / name, "--size", 64,
                     "--transform", "s2", *extra], capsys)[0] == 0
    assert seen == [(0.25, 16), (None, None)]  # None: the transform's own default applies


def test_the_commands_opt_in_to_retaining_freed_memory(weights_dir, tmp_path, capsys, monkeypatch):
    """The allocator setting is the command's choice for its own process (constructing ArtNet makes none)."""
    from artnet import runtime

    calls = []
    monkeypatch.setattr(runtime, "retain_freed_memory", lambda: calls.append(1) or True)
    content, style = _write(tmp_path / "c.png"), _write(tmp_path / "s.png", seed=1)
    assert _run(["stylize", "--content", content, "--style", style, "--out", tmp_path / "o.png", "--size", 32,
                 "--transform", "adain", "--device", "cpu"], capsys)[0] == 0
    assert calls == [1]


def test_existing_output_is_not_overwritten_without_force(weights_dir, tmp_path, capsys):
    content, style = _write(tmp_path / "c.png"), _write(tmp_path / "s.png", seed=1)
    out = tmp_path / "keep.png"
    out.write_bytes(b"precious")
    code, _, err = _run(["stylize", "--content", content, "--style", style, "--out", out, "--size", 32], capsys)
    assert code == 2 and "already exists" in err and "--force" in err
    assert out.read_bytes() == b"precious"
    code, _, _ = _run(["stylize", "--content", content, "--style", style, "--out", out, "--size", 32, "--force"],
                      capsys)
    assert code == 0 and out.read_bytes() != b"precious"


@pytest.mark.parametrize("problem", ["corrupt", "missing", "weights_mismatch", "mask_one_style", "swap_not_s2",
                                     "patches_not_s2"])
def test_bad_input_is_one_line_with_exit_code_2(weights_dir, tmp_path, capsys, problem):
    content, style = _write(tmp_path / "c.png"), _write(tmp_path / "s.png", seed=1)
    argv = ["stylize", "--content", content, "--style", style, "--out", tmp_path / "o.png", "--size", 32]
    if problem == "corrupt":
        (tmp_path / "bad.png").write_bytes(b"\x89PNG garbage")
        argv[2] = tmp_path / "bad.png"
    elif problem == "missing":
        argv[4] = tmp_path / "nope.jpg"
    elif problem == "weights_mismatch":
        argv += ["--style", style, "--weights", "0.2,0.3,0.5"]
    elif problem == "mask_one_style":
        argv += ["--mask", content]
    elif problem == "patches_not_s2":
        argv += ["--transform", "wct", "--style-patches", "64"]
    else:
        argv += ["--transform", "adain", "--swap-weight", "0.5"]
    code, _, err = _run(argv, capsys)
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert not (tmp_path / "o.png").exists()


def test_a_usage_error_is_one_line_with_exit_code_2(tmp_path, capsys):
    content, style = _write(tmp_path / "c.png"), _write(tmp_path / "s.png", seed=1)
    with pytest.raises(SystemExit) as exit_info:
        _run(["stylize", "--content", content, "--style", style, "--out", tmp_path / "o.png",
              "--style-patches", "0"], capsys)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert err.startswith("error: ") and "positive integer" in err and err.count("\n") == 1, err


def test_missing_weights_are_reported(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PRUNELAB_WEIGHTS", str(tmp_path / "empty"))
    content = _write(tmp_path / "c.png")
    code, _, err = _run(["stylize", "--content", content, "--style", content, "--out", tmp_path / "o.png"], capsys)
    assert code == 2 and "weights" in err and "not found" in err


def test_folder_batch_mask_and_mixing(weights_dir, tmp_path, capsys):
    folder = tmp_path / "contents"
    folder.mkdir()
    for i in range(3):
        _write(folder / f"img{i}.png", 30 + 8 * i, 40, seed=i)
    (folder / "notes.txt").write_text("not an image")
    s1, s2 = _write(tmp_path / "s1.png", seed=5), _write(tmp_path / "s2.png", seed=6)
    mask = tmp_path / "mask.png"
    Image.fromarray(np.tile(np.array([0, 255], dtype=np.uint8).repeat(20), (30, 1))).save(mask)
    out = tmp_path / "styled"
    code, stdout, _ = _run(["stylize", "--content", folder, "--style", s1, "--style", s2, "--mask", mask, "--out",
                            out, "--size", 48, "--transform", "wct", "--json"], capsys)
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["img0.png", "img1.png", "img2.png"]
    assert json.loads(stdout)["images"] == 3
    code, _, _ = _run(["stylize", "--content", folder / "img0.png", "--style", s1, "--style", s2, "--weights",
                       "0.7,0.3", "--alpha", "0.5", "--preserve-color", "--out", tmp_path / "mix.png", "--size", 32],
                      capsys)
    assert code == 0 and (tmp_path / "mix.png").exists()


def test_video_with_comparison(weights_dir, tmp_path, capsys):
    frames = tmp_path / "frames"
    frames.mkdir()
    rng = np.random.default_rng(0)
    scene = rng.integers(0, 255, (48, 120, 3), dtype=np.uint8)
    scene = np.asarray(Image.fromarray(scene).resize((240, 96), Image.BILINEAR))
    for t in range(5):
        Image.fromarray(scene[:, 2 * t: 2 * t + 64]).save(frames / f"f{t:02d}.png")
    code, stdout, _ = _run(["video", "--input", frames, "--style", frames / "f00.png", "--out", tmp_path / "v.mp4",
                            "--size", 64, "--compare", "--json"], capsys)
    assert code == 0
    report = json.loads(stdout)
    assert report["frames"] == 5 and (tmp_path / "v.mp4").stat().st_size > 0
    assert report["warping_error"] >= 0 and report["warping_error_per_frame"] >= 0  # values: test_artnet_video


def test_bench_json_has_rows_and_ratios(weights_dir, capsys):
    code, stdout, _ = _run(["bench", "--sizes", "64x64,96x64", "--models", "artnet,artnet_unpruned,adain_vgg19",
                            "--repeats", 1, "--style-size", 64, "--json"], capsys)
    assert code == 0
    result = json.loads(stdout)
    assert result["device"].startswith("cpu")
    rows = result["rows"]
    assert {(r["model"], r["size"], r["style_cached"]) for r in rows} == {
        (m, s, c) for m in ("artnet", "artnet_unpruned", "adain_vgg19") for s in ("64x64", "96x64") for c in (0, 1)}
    assert all(r["ms"] > 0 and "peak_mb" in r and "speedup_vs_adain_vgg19" in r for r in rows)


@pytest.mark.shared
def test_bench_compares_with_the_teacher(weights_dir, shared_dir, capsys):
    code, stdout, _ = _run(["bench", "--sizes", "64x64", "--models", "artnet,teacher_adain,teacher_wct",
                            "--repeats", 1, "--style-size", 64, "--json"], capsys)
    assert code == 0
    rows = json.loads(stdout)["rows"]
    assert {(r["model"], r["transform"]) for r in rows} == {("artnet", "adain"), ("teacher_adain", "adain"),
                                                            ("teacher_wct", "wct")}
    for row in rows:
        teacher = next(r for r in rows if r["model"] == "teacher_adain" and r["style_cached"] == row["style_cached"])
        assert row["speedup_vs_teacher_adain"] == pytest.approx(teacher["ms"] / row["ms"], rel=0.02, abs=0.01)
        assert "speedup_vs_adain_vgg19" not in row  # not measured in this run: no ratio invented


def test_usage_errors_through_the_real_entry_point_and_help(capsys):
    result = subprocess.run([sys.executable, "-m", "artnet", "stylize", "--content", "x", "--style", "y",
                             "--out", "z", "--alpha", "7"], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "alpha" in result.stderr
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("stylize", "video", "bench", "distill", "prune", "prune-decoder", "train-decoder"):
        assert command in out


def test_prune_decoder_refuses_missing_weights_and_an_existing_out(tmp_path, capsys):
    existing = tmp_path / "taken.pt"
    existing.write_bytes(b"keep")
    code = main(["prune-decoder", "--decoder", str(tmp_path / "none.pt"), "--out", str(tmp_path / "d.pt")])
    assert code == 2 and "none.pt" in capsys.readouterr().err and not (tmp_path / "d.pt").exists()
    code = main(["prune-decoder", "--decoder", str(tmp_path / "none.pt"), "--out", str(existing)])
    assert code == 2 and "--force" in capsys.readouterr().err and existing.read_bytes() == b"keep"
