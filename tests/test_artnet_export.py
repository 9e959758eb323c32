"""``python -m artnet export``: the exported AdaIN graph computes what ``ArtNet.stylize`` computes."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from artnet.cli import main
from artnet.export import TOLERANCE, AdaINGraph, _example
from artnet.model import ArtNet


@pytest.fixture(scope="module")
def net() -> ArtNet:
    return ArtNet.load(device="cpu")


def test_graph_equals_stylize_with_adain(net: ArtNet) -> None:
    graph = AdaINGraph(net.encoder, net.decoder)
    content, style = _example(120, 160, 3), _example(96, 64, 4)
    for alpha in (1.0, 0.4):
        expected = net.stylize(content, style, transform="adain", alpha=alpha, style_size=0).image
        with torch.no_grad():
            got = graph(content, style, torch.tensor(alpha))
        assert got.shape == expected.shape
        assert float((got - expected).abs().max()) < 1e-4


def test_alpha_zero_is_reconstruction(net: ArtNet) -> None:
    graph = AdaINGraph(net.encoder, net.decoder)
    content, style = _example(64, 64, 5), _example(64, 64, 6)
    with torch.no_grad():
        zero = graph(content, style, torch.tensor(0.0))
        other = graph(content, _example(64, 64, 7), torch.tensor(0.0))
        full = graph(content, style, torch.tensor(1.0))
    assert torch.equal(zero, other)  # alpha 0: the style does not matter
    assert float((zero - full).abs().mean()) > 1e-3


def _export(tmp_path, fmt: str, capsys) -> dict:
    code = main(["export", "--format", fmt, "--out", str(tmp_path), "--json", "--threads", "1"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def _third_shape(net: ArtNet) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    content, style, alpha = _example(48, 88, 8), _example(72, 56, 9), torch.tensor(0.75)
    with torch.no_grad():
        expected = AdaINGraph(net.encoder, net.decoder)(content, style, alpha)
    return content, style, alpha, expected


def test_torchscript_export_runs_at_other_shapes(tmp_path, capsys, net: ArtNet) -> None:
    report = _export(tmp_path, "torchscript", capsys)
    assert report["max_abs_diff"] is not None and report["max_abs_diff"] <= TOLERANCE
    card = json.loads((tmp_path / "artnet_adain.json").read_text())
    assert card["format"] == "torchscript" and card["source"]["encoder"] == "pruned"
    content, style, alpha, expected = _third_shape(net)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        loaded = torch.jit.load(report["path"])
    with torch.no_grad():
        got = loaded(content, style, alpha)
    assert float((got - expected).abs().max()) <= TOLERANCE


def test_onnx_export_checked_by_onnxruntime(tmp_path, capsys, net: ArtNet) -> None:
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    report = _export(tmp_path, "onnx", capsys)
    assert report["checked_with"].startswith("onnxruntime")
    assert report["max_abs_diff"] <= TOLERANCE
    content, style, alpha, expected = _third_shape(net)
    session = ort.InferenceSession(report["path"], providers=["CPUExecutionProvider"])
    got = session.run(None, {"content": content.numpy(), "style": style.numpy(), "alpha": alpha.numpy()})[0]
    assert float((torch.from_numpy(got) - expected).abs().max()) <= TOLERANCE


def test_existing_export_is_kept(tmp_path, capsys) -> None:
    target = tmp_path / "artnet_adain.torchscript.pt"
    target.write_bytes(b"earlier export")
    assert main(["export", "--format", "torchscript", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "already exists" in err and "\n" not in err
    assert target.read_bytes() == b"earlier export"


def test_unknown_format_is_a_usage_error(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "--format", "tflite", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_imagenet_encoder_needs_its_files(tmp_path, capsys) -> None:
    assert main(["export", "--format", "onnx", "--encoder", "imagenet", "--out", str(tmp_path)]) == 2
    assert "ImageNet" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_out_is_a_file(tmp_path, capsys) -> None:
    out = tmp_path / "file.txt"
    out.write_text("keep")
    assert main(["export", "--format", "torchscript", "--out", str(out)]) == 2
    assert "is a file" in capsys.readouterr().err
    assert out.read_text() == "keep"



def test_dangling_link_in_the_way_is_refused(tmp_path, capsys) -> None:
    (tmp_path / "artnet_adain.json").symlink_to(tmp_path / "missing.json")
    assert main(["export", "--format", "torchscript", "--out", str(tmp_path)]) == 2
    assert "symbolic link" in capsys.readouterr().err
    assert not (tmp_path / "artnet_adain.torchscript.pt").exists()
