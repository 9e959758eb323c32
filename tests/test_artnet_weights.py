"""The shipped ArtNet weights: present, described by cards, consistent, lossless pruning, real reconstruction."""

from __future__ import annotations

import json

import pytest
import torch

from artnet import ArtNet
from artnet.data import heldout_images, training_images, wheel_image
from artnet.images import to_tensor
from artnet.metrics import psnr
from artnet.prune import image_batches, verify_identical
from artnet.weights import (
    DECODER_FILE,
    ENCODER_FILE,
    PLAIN_DECODER_FILE,
    UNPRUNED_DECODER_FILE,
    UNPRUNED_ENCODER_FILE,
    encoder_meta,
    load_decoder,
    load_encoder,
)
from prunelab.paths import weights_file


def _card(name: str) -> dict:
    return json.loads(weights_file(name).with_suffix(".json").read_text())


def test_files_are_small_and_carded():
    for name in (ENCODER_FILE, UNPRUNED_ENCODER_FILE, DECODER_FILE, PLAIN_DECODER_FILE, UNPRUNED_DECODER_FILE):
        path = weights_file(name)
        assert path.stat().st_size < 4 * 2**20, name  # "a few MB"
        card = _card(name)
        for key in ("data", "command", "summary", "date"):
            assert key in card, (name, key)
        assert card["command"].startswith("python -m artnet ")
    assert _card(UNPRUNED_ENCODER_FILE)["summary"]["steps"] > 100
    assert _card(UNPRUNED_ENCODER_FILE)["seed"] == 0
    assert "psnr_heldout_512" in _card(UNPRUNED_DECODER_FILE)["summary"]
    assert "on_heldout_test_pairs" in _card(PLAIN_DECODER_FILE)["summary"]
    shipped = _card(DECODER_FILE)
    assert shipped["config"]["objective"] == "adain" and shipped["config"]["skips"]
    assert {"val_content_ratio", "val_style_ratio", "train_seconds"} <= set(shipped["summary"])
    assert "identical_on_calibration" in _card(ENCODER_FILE)["summary"]


def test_pruned_pair_is_consistent():
    encoder, decoder = load_encoder(), load_decoder()
    unpruned = load_encoder(weights_file(UNPRUNED_ENCODER_FILE))
    assert decoder.in_channels == encoder.out_channels < unpruned.out_channels
    assert len(encoder_meta()["kept_channels"]) == encoder.out_channels
    assert sum(p.numel() for p in encoder.parameters()) < sum(p.numel() for p in unpruned.parameters())


@pytest.mark.shared
def test_pruned_encoder_is_identical_on_calibration_images(shared_dir):
    encoder = load_encoder()
    unpruned = load_encoder(weights_file(UNPRUNED_ENCODER_FILE))
    images = dict(list(training_images().items())[::5])  # 8 of the 39 calibration images (all: slow test)
    check = verify_identical(unpruned, encoder, encoder_meta()["kept_channels"], image_batches(images))
    assert check["max_abs_diff"] < 1e-4 and check["max_abs_removed_output"] == 0.0


@pytest.mark.slow
@pytest.mark.shared
def test_pruned_encoder_is_identical_on_all_calibration_images(shared_dir):
    encoder = load_encoder()
    unpruned = load_encoder(weights_file(UNPRUNED_ENCODER_FILE))
    check = verify_identical(unpruned, encoder, encoder_meta()["kept_channels"], image_batches(training_images()))
    assert check["max_abs_diff"] < 1e-4 and check["max_abs_removed_output"] == 0.0


@pytest.mark.shared
def test_pruned_decoder_is_identical_on_calibration_inputs_and_within_a_level_on_test_pairs(shared_dir):
    """The shipped decoder is the trained one zero-channel pruned (``prune-decoder``): the same image on inputs it
    was calibrated on, and within one 8-bit level on test contents x styles it never saw."""
    from artnet.data import split_images
    from artnet.prune import decoder_difference, decoder_inputs

    encoder, pruned = load_encoder(), load_decoder(weights_file(PLAIN_DECODER_FILE))
    unpruned = load_decoder(weights_file(UNPRUNED_DECODER_FILE))
    assert pruned.executed_macs(512) < 0.7 * unpruned.executed_macs(512)

    def first(part: str, kind: str, n: int) -> dict:
        return dict(list(split_images(part, kind).items())[:n])

    # contents 0, 1 with styles 0, 1 at 512 px: pairs the calibration saw (round robin over all of them)
    calibration = decoder_inputs(encoder, first("train", "content", 2), first("train", "style", 2), 512, 1)
    assert decoder_difference(unpruned, pruned, calibration)["max_abs_pixel_diff"] < 1e-5
    test = decoder_inputs(encoder, first("test", "content", 2), first("test", "style", 2), 256, 2)
    assert decoder_difference(unpruned, pruned, test)["max_abs_pixel_diff"] < 1 / 255


def test_reconstruction_of_held_out_images():
    """The decoder inverts the pruned encoder on images it never saw (wheel images: no ../shared needed)."""
    net = ArtNet.load(device="cpu")
    values = []
    for array in heldout_images(use_shared=False).values():
        x = to_tensor(array)[:, :, :384, :384]
        values.append(psnr(net.reconstruct(x), x))
    # measured 23.4 (chelsea), 21.3 (flower), 15.6 (synthetic colour wheel): bars just below
    assert min(values) > 14.5 and sum(values) / len(values) > 19.0, values


def test_unpruned_encoder_with_widened_decoder_matches_on_a_calibration_image():
    pruned, unpruned = ArtNet.load("pruned", device="cpu"), ArtNet.load("unpruned", device="cpu")
    x = image_batches({"coffee": wheel_image("coffee")})[0]  # exactly as calibrated (training image, 512 px)
    with torch.no_grad():
        a = pruned.stylize(x, x, transform="adain").image
        b = unpruned.stylize(x, x, transform="adain").image
    assert (a - b).abs().max() < 1e-4


@pytest.mark.slow
def test_4k_stylisation_in_bounded_memory():
    """3840x2160 with the shipped pair: tiling keeps the extra resident memory well below an untiled pass."""
    from artnet.bench import PeakMemory

    content = torch.rand(1, 3, 2160, 3840)
    peaks = {}
    for tile in (1024, 4096):  # tiled first: memory freed by a run may stay resident and inflate the next
        net = ArtNet.load(device="cpu", tile=tile)
        style = net.encode_style(torch.rand(1, 3, 512, 512))
        with PeakMemory(torch.device("cpu")) as memory:
            out = net.stylize(content, style, transform="adain").image
        assert out.shape == (1, 3, 2160, 3840)
        peaks[tile] = memory.peak_mb
    assert peaks[1024] < 0.6 * peaks[4096], peaks
