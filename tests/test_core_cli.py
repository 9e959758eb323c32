"""``python -m core_pruning prune|analyze``: outputs that load back, JSON, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import core_pruning as cp
from core_pruning.__main__ import main
from core_pruning.models import build_model

R20 = ["--model", "resnet20", "--input-size", "1,28,28"]


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code: int, err: str, match: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert match in lines[0], lines[0]


def write_images(folder, count: int, size: int = 28, mode: str = "L", seed: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        shape = (size, size) if mode == "L" else (size, size, 3)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(folder / f"img{i}.png")


# -- prune ----------------------------------------------------------------------------------------

def test_prune_writes_a_model_that_loads_back_and_a_replayable_plan(tmp_path, capsys):
    out = tmp_path / "r20"
    code, stdout, _ = run_cli(capsys, "prune", *R20, "--criterion", "l1", "--target-flops", "0.5", "--out", str(out))
    assert code == 0 and "FLOPs" in stdout
    assert sorted(p.name for p in out.iterdir()) == ["model.json", "model.pt", "plan.json", "report.json"]
    x = torch.randn(2, 1, 28, 28)
    model = cp.load_pruned(build_model("resnet20", in_channels=1).eval(), out / "model.pt", x[:1])
    flops, params = cp.count_flops_params(model, x[:1])
    report = json.loads((out / "report.json").read_text())
    assert report["flops_after"] == flops and report["params_after"] == params
    assert abs(flops / report["flops_before"] - 0.5) <= 0.02
    replayed = cp.apply_plan(build_model("resnet20", in_channels=1).eval(), out / "plan.json", x[:1])
    assert [p.shape for p in replayed.parameters()] == [p.shape for p in model.parameters()]


def test_prune_json_report_and_pruning_a_pruned_model_again(tmp_path, capsys):
    first, second = tmp_path / "a", tmp_path / "b"
    assert run_cli(capsys, "prune", *R20, "--criterion", "cpmc", "--target-params", "0.6", "--out", str(first))[0] == 0
    code, stdout, _ = run_cli(capsys, "prune", "--model", str(first), "--criterion", "l2", "--keep-ratio", "0.8",
                              "--out", str(second), "--json")
    assert code == 0
    report = json.loads(stdout)
    assert {"flops_before", "flops_after", "params_before", "params_after", "channels_before", "channels_after",
            "removed"} <= set(report)
    assert report["input_size"] == [1, 28, 28]  # taken from the first output's model card
    assert abs(report["channels_after"] / report["channels_before"] - 0.8) <= 0.02
    # the plan of the second output replays both prunings from the unpruned architecture
    x = torch.randn(1, 1, 28, 28)
    replayed = cp.apply_plan(build_model("resnet20", in_channels=1).eval(), second / "plan.json", x)
    assert cp.count_flops_params(replayed, x)[0] == report["flops_after"]


def test_existing_output_is_never_overwritten_without_force(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.pt").write_bytes(b"precious")
    args = ["prune", *R20, "--criterion", "l1", "--target-flops", "0.5", "--out", str(out)]
    code, _, err = run_cli(capsys, *args)
    assert_one_line_error(code, err, "--force")
    assert (out / "model.pt").read_bytes() == b"precious"
    assert run_cli(capsys, *args, "--force")[0] == 0
    assert (out / "model.pt").read_bytes() != b"precious"


def test_whole_module_and_state_dict_checkpoints(tmp_path, capsys):
    torch.manual_seed(0)
    model = build_model("vgg_small", in_channels=1, width=0.25).eval()
    torch.save(model, tmp_path / "whole.pt")
    code, _, err = run_cli(capsys, "prune", "--model", str(tmp_path / "whole.pt"), "--target-flops", "0.5",
                           "--out", str(tmp_path / "o1"))
    assert_one_line_error(code, err, "--input-size")
    assert run_cli(capsys, "prune", "--model", str(tmp_path / "whole.pt"), "--input-size", "1,16,16",
                   "--target-flops", "0.5", "--out", str(tmp_path / "o1"))[0] == 0
    card = json.loads((tmp_path / "o1" / "model.json").read_text())
    assert card["base"]["module"] == str((tmp_path / "whole.pt").resolve())
    code, stdout, _ = run_cli(capsys, "analyze", "--model", str(tmp_path / "o1"), "--json")  # card gives the size
    assert code == 0 and json.loads(stdout)["input_size"] == [1, 16, 16]

    torch.save({"state_dict": build_model("resnet20", in_channels=1).state_dict()}, tmp_path / "sd.pt")
    code, _, err = run_cli(capsys, "prune", "--model", str(tmp_path / "sd.pt"), "--target-flops", "0.5",
                           "--out", str(tmp_path / "o2"))
    assert_one_line_error(code, err, "--arch")
    assert run_cli(capsys, "prune", "--model", str(tmp_path / "sd.pt"), "--arch", "resnet20", "--input-size",
                   "1,28,28", "--target-flops", "0.5", "--out", str(tmp_path / "o2"))[0] == 0
    code, _, err = run_cli(capsys, "prune", "--model", str(tmp_path / "sd.pt"), "--arch", "vgg_small",
                           "--target-flops", "0.5", "--out", str(tmp_path / "o3"))
    assert_one_line_error(code, err, "does not fit vgg_small")


class _Planted:
    """A pickle that would create a file if it were ever unpickled with code execution."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("case,argv,match", [
    ("model", ["--model", "nope", "--target-flops", "0.5"], "unknown model 'nope'"),
    ("torchvision", ["--model", "torchvision:nope", "--target-flops", "0.5"], "unknown torchvision model"),
    ("criterion", [*R20, "--criterion", "nope", "--target-flops", "0.5"], "unknown criterion 'nope'"),
    ("option", [*R20, "--option", "bogus=1", "--target-flops", "0.5"], "no option 'bogus'"),
    ("impossible", [*R20, "--target-flops", "0.05", "--max-layer-ratio", "0.5"], "cannot reach"),
    ("range", [*R20, "--target-flops", "1.5"], "(0, 1]"),
    ("no budget", [*R20], "exactly one of --target-flops"),
    ("two budgets", [*R20, "--target-flops", "0.5", "--target-params", "0.5"], "exactly one"),
    ("keep and pruning ratio", [*R20, "--keep-ratio", "0.5", "--pruning-ratio", "0.5"], "exactly one"),
    ("old and new name", [*R20, "--keep-ratio", "0.5", "--channel-ratio", "0.5"], "deprecated name of --keep-ratio"),
    ("pruning ratio range", [*R20, "--pruning-ratio", "1"], "--pruning-ratio must be a fraction of channels to remove"),
    ("zero budget", [*R20, "--criterion", "zero", "--target-flops", "0.5"], "give no --target"),
    ("taylor", [*R20, "--criterion", "taylor", "--target-flops", "0.5"], "needs calibration images"),
    ("input size", ["--model", "resnet20", "--input-size", "2,28,28", "--calib", "IMAGES", "--criterion", "zero"],
     "1 or 3 channels"),
    ("missing file", ["--model", "MISSING.pt", "--target-flops", "0.5"], "does not exist"),
    ("garbage file", ["--model", "GARBAGE.pt", "--target-flops", "0.5"], "not a PyTorch checkpoint"),
    ("untrusted class", ["--model", "PLANTED.pt", "--target-flops", "0.5"], "not trusted"),
    ("ignored layer", [*R20, "--target-flops", "0.5", "--ignore", "no.such"], "no layer named"),
])
def test_prune_errors_are_one_line_with_exit_code_2_and_write_nothing(tmp_path, capsys, case, argv, match):
    (tmp_path / "GARBAGE.pt").write_bytes(b"not a checkpoint at all")
    torch.save({"weights": _Planted(tmp_path / "EXECUTED")}, tmp_path / "PLANTED.pt")
    write_images(tmp_path / "IMAGES", 2)
    argv = [str(tmp_path / a) if a in ("MISSING.pt", "GARBAGE.pt", "PLANTED.pt", "IMAGES") else a for a in argv]
    code, _, err = run_cli(capsys, "prune", *argv, "--out", str(tmp_path / "out"))
    assert_one_line_error(code, err, match)
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "EXECUTED").exists()


def test_keep_ratio_pruning_ratio_and_the_deprecated_channel_ratio_flag_prune_alike(tmp_path, capsys):
    """--keep-ratio F keeps F of the channels, --pruning-ratio 1-F removes the rest (Torch-Pruning's meaning);
    --channel-ratio, the old name of --keep-ratio, still works and says it is deprecated."""
    plans = {}
    for flag, value in (("--keep-ratio", "0.75"), ("--pruning-ratio", "0.25"), ("--channel-ratio", "0.75")):
        out = tmp_path / flag.strip("-")
        torch.manual_seed(0)  # the same random resnet20 each time
        code, _, err = run_cli(capsys, "prune", *R20, "--criterion", "l1", flag, value, "--out", str(out))
        assert code == 0
        assert ("deprecated" in err and "--keep-ratio" in err) == (flag == "--channel-ratio"), err
        plans[flag] = json.loads((out / "plan.json").read_text())["steps"]
    assert plans["--keep-ratio"] == plans["--pruning-ratio"] == plans["--channel-ratio"]


def test_calibration_folders_feed_zero_and_taylor(tmp_path, capsys):
    model = build_model("resnet20", in_channels=1).eval()
    with torch.no_grad():  # plant dead channels: BN output always negative before the ReLU
        model.layer1[0].bn1.weight[[2, 7]] = 0.0
        model.layer1[0].bn1.bias[[2, 7]] = -1.0
    torch.save(model, tmp_path / "planted.pt")
    write_images(tmp_path / "flat", 6)
    code, stdout, _ = run_cli(capsys, "prune", "--model", str(tmp_path / "planted.pt"), "--input-size", "1,28,28",
                              "--criterion", "zero", "--calib", str(tmp_path / "flat"), "--out", str(tmp_path / "z"),
                              "--json")
    assert code == 0
    assert {2, 7} <= set(json.loads(stdout)["removed"]["layer1.0.conv1"])

    code, _, err = run_cli(capsys, "prune", *R20, "--criterion", "taylor", "--target-flops", "0.6",
                           "--calib", str(tmp_path / "flat"), "--out", str(tmp_path / "t"))
    assert_one_line_error(code, err, "one sub-folder per class")
    for label in range(3):
        write_images(tmp_path / "classes" / f"digit{label}", 2, seed=label)
    assert run_cli(capsys, "prune", *R20, "--criterion", "taylor", "--target-flops", "0.6",
                   "--calib", str(tmp_path / "classes"), "--out", str(tmp_path / "t"))[0] == 0


# -- analyze ------------------------------------------------------------------------------------

def test_analyze_prints_tables_json_and_writes_figures(tmp_path, capsys):
    fig, heat = tmp_path / "normality.png", tmp_path / "heat.png"
    code, stdout, _ = run_cli(capsys, "analyze", *R20, "--criteria", "l1,l2,cpmc", "--option",
                              "cpmc.flops_weight=0", "--figure", str(fig), "--heatmap", str(heat), "--max-layers", "2")
    assert code == 0
    assert "l1 vs l2" in stdout and "gaussian-like" in stdout
    assert fig.read_bytes()[:4] == heat.read_bytes()[:4] == b"\x89PNG"
    before = fig.read_bytes()
    code, _, err = run_cli(capsys, "analyze", *R20, "--figure", str(fig))
    assert_one_line_error(code, err, "--force")
    assert fig.read_bytes() == before
    code, stdout, _ = run_cli(capsys, "analyze", *R20, "--criteria", "l1,fpgm", "--ratio", "0.3", "--json")
    data = json.loads(stdout)
    assert data["ratio"] == 0.3 and data["pairs"][0]["a"] == "l1" and data["pairs"][0]["b"] == "fpgm"
    assert data["normality"]["tested_layers"] == 21


@pytest.mark.parametrize("argv,match", [
    (["--criteria", "l1,nope"], "unknown criterion 'nope'"),
    (["--criteria", "l1,l1"], "given twice"),
    (["--criteria", "l1", "--option", "l2.p=1"], "not in --criteria"),
    (["--criteria", "l1", "--option", "p=1"], "CRITERION.KEY=VALUE"),
    (["--criteria", "taylor"], "needs calibration images"),
    (["--ratio", "1.5"], "ratio"),
])
def test_analyze_errors_are_one_line(capsys, argv, match):
    code, _, err = run_cli(capsys, "analyze", *R20, *argv)
    assert_one_line_error(code, err, match)


def test_module_entry_point_exit_code_and_help(capsys):
    result = subprocess.run([sys.executable, "-m", "core_pruning", "prune", "--model", "nope", "--target-flops",
                             "0.5", "--out", "unused"], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.startswith("error: unknown model") and not result.stdout
    with pytest.raises(SystemExit) as exited:
        main(["analyze", "--help"])
    assert exited.value.code == 0
    helped = capsys.readouterr().out
    assert "--criteria" in helped and "--figure" in helped
