"""The decoder's ``adain`` and ``teacher`` objectives: the stylisation split, paired crops, losses, resumable runs."""

from __future__ import annotations

import json

import pytest
import torch

from artnet.cli import main
from artnet.data import STYLIZATION_SPLIT, TRAIN_WHEEL, PairCrops, shared_style_images, split_images, wheel_image
from artnet.decoder import Decoder
from artnet.encoder import GoogLeNetEncoder
from artnet.train_decoder import DecoderConfig, imitation_losses, stylization_losses
from artnet.transforms import adain_batch


@pytest.mark.shared
def test_split_parts_are_disjoint_and_cover_the_shared_images(shared_dir):
    for kind in ("content", "style"):
        parts = [set(STYLIZATION_SPLIT[p][kind]) for p in STYLIZATION_SPLIT]
        assert sum(len(p) for p in parts) == len(set().union(*parts))  # no image in two parts
        assert set().union(*parts) == {path.stem for path in shared_style_images(kind)}
    test_wheel = set(STYLIZATION_SPLIT["test"]["wheel"]) | set(STYLIZATION_SPLIT["validation"]["wheel"])
    assert not test_wheel & set(TRAIN_WHEEL)
    assert set(split_images("test", "style")) == {f"style/{n}" for n in STYLIZATION_SPLIT["test"]["style"]}


def test_pair_crops_resume_exactly():
    contents = {"a": wheel_image("coffee"), "b": wheel_image("astronaut")}
    styles = {"s": wheel_image("brick")}
    sampler = PairCrops(contents, styles, 32, seed=1)
    first = sampler.batch(2)
    assert first.shape == (4, 3, 32, 32)
    state = sampler.state()
    expected = sampler.batch(2)
    other = PairCrops(contents, styles, 32, seed=9)
    other.set_state(state)
    assert torch.equal(other.batch(2), expected)


def test_adain_batch_gives_each_sample_its_style_statistics():
    gen = torch.Generator().manual_seed(0)
    content = torch.randn(3, 5, 8, 8, generator=gen) * 2 + 1
    style = torch.randn(3, 5, 6, 7, generator=gen) * torch.arange(1, 4).view(3, 1, 1, 1)
    out = adain_batch(content, style)
    assert torch.allclose(out.mean((2, 3)), style.mean((2, 3)), atol=1e-5)
    assert torch.allclose(out.std((2, 3), unbiased=False), style.std((2, 3), unbiased=False), atol=1e-3)


class _TinyTeacher(torch.nn.Module):
    """A stand-in loss network with the teacher's ``features`` interface (4 levels, fixed random weights)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.convs = torch.nn.ModuleList(torch.nn.Conv2d(c, 4, 3, padding=1) for c in (3, 4, 4, 4))
        self.requires_grad_(False)

    def forward(self, x):  # the compact features the teacher's decoder takes
        return self.features(x)["relu4_1"]

    def features(self, x, aux=True, upto=None):
        out = {}
        for k, conv in enumerate(self.convs, 1):
            x = torch.relu(conv(x if k == 1 else torch.nn.functional.max_pool2d(x, 2)))
            out[f"relu{k}_1"] = x
        return out


def test_training_steps_lower_the_objective():
    torch.manual_seed(0)
    encoder = GoogLeNetEncoder().eval().requires_grad_(False)
    decoder = Decoder(encoder.out_channels, (16, 8, 8, 8))
    teacher = _TinyTeacher()
    batch = torch.rand(4, 3, 32, 32)
    config = DecoderConfig(reconstruction_weight=0.0)
    optimizer = torch.optim.Adam(decoder.parameters(), lr=3e-3)
    before = {k: float(v.detach()) for k, v in stylization_losses(encoder, decoder, teacher, batch, config).items()}
    assert set(before) >= {"content", "style", "pixel", "perceptual", "reconstruction", "loss"}
    for _ in range(30):
        losses = stylization_losses(encoder, decoder, teacher, batch, config)
        optimizer.zero_grad()
        losses["loss"].backward()
        optimizer.step()
    after = {k: float(v.detach()) for k, v in stylization_losses(encoder, decoder, teacher, batch, config).items()}
    assert after["loss"] < 0.8 * before["loss"]


def test_imitation_steps_pull_the_output_toward_the_teachers_result():
    torch.manual_seed(0)
    encoder = GoogLeNetEncoder().eval().requires_grad_(False)
    decoder = Decoder(encoder.out_channels, (16, 8, 8, 8))
    teacher = _TinyTeacher()
    teacher_decoder = torch.nn.Sequential(torch.nn.Upsample(scale_factor=8), torch.nn.Conv2d(4, 3, 3, padding=1),
                                          torch.nn.Sigmoid()).requires_grad_(False)
    batch = torch.rand(4, 3, 32, 32)
    config = DecoderConfig(objective="teacher", style_weight=0.0, reconstruction_weight=0.0)
    optimizer = torch.optim.Adam(decoder.parameters(), lr=3e-3)
    before = imitation_losses(encoder, decoder, teacher, teacher_decoder, batch, config)
    assert {"imitation", "imitation_pixel", "reconstruction", "loss"} <= set(before) and "style" not in before
    for _ in range(30):
        losses = imitation_losses(encoder, decoder, teacher, teacher_decoder, batch, config)
        optimizer.zero_grad()
        losses["loss"].backward()
        optimizer.step()
    after = imitation_losses(encoder, decoder, teacher, teacher_decoder, batch, config)
    assert float(after["imitation"]) < 0.8 * float(before["imitation"])
    with_style = imitation_losses(encoder, decoder, teacher, teacher_decoder, batch,
                                  DecoderConfig(objective="teacher", style_weight=1.0))
    assert "style" in with_style


@pytest.mark.shared
def test_teacher_objective_run_logs_validation_ratios(tmp_path, capsys, shared_dir):
    command = ["train-decoder", "--objective", "teacher", "--run", str(tmp_path / "run"), "--steps", "2",
               "--batch", "1", "--crop", "64", "--threads", "1", "--validation-size", "64", "--style-weight", "0",
               "--no-progress", "--json"]
    assert main(command) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["objective"] == "teacher" and summary["steps"] == 2 and "train_imitation_last50" in summary
    assert summary["val_content_ratio"] > 0 and summary["val_style_ratio"] > 0


@pytest.mark.shared
def test_adain_objective_run_logs_validation_ratios_and_resumes(tmp_path, capsys, shared_dir):
    run = tmp_path / "run"
    command = ["train-decoder", "--objective", "adain", "--run", str(run), "--steps", "2", "--batch", "1",
               "--crop", "64", "--threads", "1", "--validation-size", "64", "--no-progress", "--json"]
    assert main(command) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["objective"] == "adain" and summary["steps"] == 2
    assert summary["val_content_ratio"] > 0 and summary["val_style_ratio"] > 0
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "loss" in r] == [1, 2] and {"content", "style", "reconstruction"} <= set(log[0])
    assert log[-1]["val_style_ratio"] == summary["val_style_ratio"]  # the checkpoint's validation, logged
    assert main(command) == 0  # the same command again resumes: no step is repeated
    assert json.loads(capsys.readouterr().out)["steps"] == 2
    assert len((run / "log.jsonl").read_text().splitlines()) == len(log)
    changed = [*command[:-1], "--style-weight", "3", "--json"]
    assert main(changed) == 2 and "different settings" in capsys.readouterr().err


def test_training_with_skips_moves_the_skip_projections_and_lowers_the_objective():
    """With --skips the zero-initialised projections receive gradient: after a few steps they are used."""
    from artnet.skips import with_skips

    torch.manual_seed(0)
    encoder = GoogLeNetEncoder().eval().requires_grad_(False)
    decoder = with_skips(Decoder(encoder.out_channels, (16, 8, 8, 8)), encoder)
    teacher = _TinyTeacher()
    batch = torch.rand(4, 3, 32, 32)
    config = DecoderConfig(skips=True)
    optimizer = torch.optim.Adam(decoder.parameters(), lr=3e-3)
    before = float(stylization_losses(encoder, decoder, teacher, batch, config)["loss"])
    for _ in range(30):
        losses = stylization_losses(encoder, decoder, teacher, batch, config)
        optimizer.zero_grad()
        losses["loss"].backward()
        optimizer.step()
    assert float(stylization_losses(encoder, decoder, teacher, batch, config)["loss"]) < 0.8 * before
    assert all(float(getattr(decoder, f"skip_{level}").weight.abs().max()) > 1e-3 for level in decoder.skip_levels)


@pytest.mark.shared
def test_adain_objective_with_skips_exports_a_skip_decoder_with_its_card(tmp_path, capsys, shared_dir):
    from artnet.weights import load_decoder

    out = tmp_path / "dec.pt"
    command = ["train-decoder", "--objective", "adain", "--skips", "--run", str(tmp_path / "run"), "--steps", "2",
               "--batch", "1", "--crop", "64", "--threads", "1", "--validation-size", "64", "--no-progress",
               "--json", "--export", str(out)]
    assert main(command) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["val_content_ratio"] > 0
    assert load_decoder(out).skip_levels == ("conv3", "conv1")
    card = json.loads(out.with_suffix(".json").read_text())
    assert "encoder skips" in card["what"] and "stylisation split" in card["data"] and card["config"]["skips"]
