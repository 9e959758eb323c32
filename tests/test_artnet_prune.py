"""Zero-channel pruning of the encoder through core_pruning: exactly the dead channels go, outputs identical."""

from __future__ import annotations

import pytest
import torch

from artnet.decoder import Decoder
from artnet.encoder import GoogLeNetEncoder
from artnet.model import widen_decoder_for
from artnet.prune import firing_on, kept_output_channels, layer_table, prune_encoder, verify_identical

DEAD = {  # (conv module path, channels forced to zero by a very negative bias)
    "conv3": [0, 5, 17],
    "inception3a.branch2.0": [1, 2],
    "inception3b.branch1": [3, 100],
    "inception3b.branch4.1": [0],
}


def _module(encoder: GoogLeNetEncoder, path: str) -> torch.nn.Module:
    module = encoder
    for part in path.split("."):
        module = module[int(part)] if part.isdigit() else getattr(module, part)
    return module


@pytest.fixture(scope="module")
def pruned():
    torch.manual_seed(0)
    encoder = GoogLeNetEncoder().eval()
    with torch.no_grad():
        for module in encoder.modules():
            if isinstance(module, torch.nn.Conv2d):
                module.bias.uniform_(0.0, 0.05)  # everything else alive on random images
        for path, channels in DEAD.items():
            _module(encoder, path).conv.bias[channels] = -1e4
    head = torch.nn.Conv2d(480, 512, 1)
    g = torch.Generator().manual_seed(1)
    calibration = [torch.rand(1, 3, 64, 64 + 8 * i, generator=g) for i in range(3)]
    small, small_head, report, plan = prune_encoder(encoder, head, calibration)
    return encoder, small, small_head, report, plan, calibration


def _dead_channels(encoder: GoogLeNetEncoder, images: list[torch.Tensor]) -> dict[str, list[int]]:
    """Independent check: channels whose post-ReLU output is 0 everywhere on every image.

    Hooks the convolutions (the encoder may max-pool before a block's ReLU); a channel is dead when its
    pre-activation is <= 0 everywhere, i.e. its ReLU output is 0."""
    from artnet.encoder import ConvReLU

    peak: dict[str, torch.Tensor] = {}
    handles = [m.conv.register_forward_hook(lambda _m, _i, out, name=name: peak.__setitem__(
        name, torch.maximum(peak.get(name, torch.zeros(out.shape[1])), out.amax(dim=(0, 2, 3)).clamp_min(0))))
        for name, m in encoder.named_modules() if isinstance(m, ConvReLU)]
    with torch.no_grad():
        for x in images:
            encoder(x)
    for handle in handles:
        handle.remove()
    return {f"encoder.{name}.conv": torch.nonzero(p == 0).flatten().tolist() for name, p in peak.items()
            if bool((p == 0).any())}


def test_exactly_the_dead_channels_are_removed(pruned):
    encoder, small, _, report, _, calibration = pruned
    dead = _dead_channels(encoder, calibration)
    assert report["removed"] == dead
    for path, channels in DEAD.items():
        assert set(channels) <= set(dead[f"encoder.{path}.conv"])
    assert small.out_channels == 480 - sum(len(dead.get(f"encoder.inception3b.{b}.conv", []))
                                           for b in ("branch1", "branch2.1", "branch3.1", "branch4.1"))
    rows = {row["layer"]: row for row in layer_table(encoder, report["removed"])}
    assert rows["conv3"]["removed"] == len(dead["encoder.conv3.conv"])
    assert rows["conv3"]["kept"] == 192 - rows["conv3"]["removed"]
    assert report["flops_after"] < report["flops_before"]


def test_outputs_are_identical_on_the_calibration_set(pruned):
    encoder, small, small_head, report, _, calibration = pruned
    kept = kept_output_channels(encoder, report["removed"])
    assert len(kept) == small.out_channels
    assert 3 not in kept and 100 not in kept and 128 + 192 + 96 not in kept  # branch1 3 and 100, branch4 0
    check = verify_identical(encoder, small, kept, calibration)
    assert check["max_abs_diff"] < 1e-5 and check["max_abs_removed_output"] == 0.0
    assert small_head.in_channels == small.out_channels


def test_firing_statistics(pruned):
    encoder, _, _, report, _, calibration = pruned
    assert firing_on(encoder, report["removed"], calibration)["fired_fraction"] == 0.0  # by definition
    other = firing_on(encoder, report["removed"], [torch.rand(1, 3, 48, 48)])
    assert set(other["per_layer"]) == set(report["removed"])
    assert 0.0 <= other["fired_fraction"] <= 1.0
    forced = firing_on(encoder, {"encoder.conv3.conv": DEAD["conv3"]}, [torch.rand(1, 3, 48, 48)])
    assert forced["fired_fraction"] == 0.0  # biases of -1e4 never fire
    alive = [c for c in range(192) if c not in report["removed"]["encoder.conv3.conv"]][:4]
    assert firing_on(encoder, {"encoder.conv3.conv": alive}, calibration)["fired_fraction"] == 1.0


def test_unpruned_encoder_can_share_the_pruned_decoder(pruned, monkeypatch):
    encoder, small, _, report, _, calibration = pruned
    kept = kept_output_channels(encoder, report["removed"])
    decoder = Decoder(small.out_channels).eval()
    monkeypatch.setattr("artnet.weights.encoder_meta", lambda *a, **k: {"kept_channels": kept})
    wide = widen_decoder_for(decoder, encoder)
    assert wide.in_channels == 480
    with torch.no_grad():
        x = calibration[1]
        assert torch.allclose(wide(encoder(x)), decoder(small(x)), atol=1e-5)


def test_plan_replays_as_json(pruned, tmp_path):
    *_, plan, _ = pruned
    path = plan.save(tmp_path / "plan.json")
    assert path.read_text().strip().startswith("{")


# -- the decoder ---------------------------------------------------------------------------------------------
DECODER_DEAD = {"conv8": [0, 7], "conv4a": [3], "conv2": [1, 2, 30], "conv1a": [5]}


def _decoder_with_dead_channels() -> Decoder:
    torch.manual_seed(2)
    decoder = Decoder(24).eval()
    with torch.no_grad():
        for module in decoder.modules():
            if isinstance(module, torch.nn.Conv2d):  # non-negative weights on non-negative inputs: all alive
                module.weight.abs_()
                module.bias.uniform_(0.0, 0.05)
        for name, channels in DECODER_DEAD.items():
            getattr(decoder, name).bias[channels] = -1e20  # below any sum of positive terms
    return decoder


def test_decoder_zero_pruning_removes_the_dead_channels_and_keeps_the_image(tmp_path):
    from artnet.prune import decoder_difference, prune_decoder
    from artnet.weights import load_decoder, save_decoder

    decoder = _decoder_with_dead_channels()
    g = torch.Generator().manual_seed(3)
    calibration = [torch.rand(1, 24, 6, 5 + i, generator=g) for i in range(4)]
    pruned, report, _ = prune_decoder(decoder, calibration)
    assert report["removed"] == DECODER_DEAD
    assert pruned.widths == (128, 126, 63, 64, 29, 15)  # 6 per-layer widths once the mirror is broken
    assert decoder_difference(decoder, pruned, calibration)["max_abs_pixel_diff"] < 1e-5
    assert pruned.executed_macs(64) < decoder.executed_macs(64)
    save_decoder(pruned, tmp_path / "d.pt")
    loaded = load_decoder(tmp_path / "d.pt")
    assert loaded.widths == pruned.widths
    torch.testing.assert_close(loaded(calibration[0]), pruned(calibration[0]))


def test_decoder_inputs_cover_the_transforms():
    from artnet.prune import DECODER_CALIBRATION_TRANSFORMS, decoder_inputs

    encoder = GoogLeNetEncoder().eval()
    g = torch.Generator().manual_seed(4)
    images = {f"i{k}": (torch.rand(40, 48, 3, generator=g) * 255).byte().numpy() for k in range(2)}
    inputs = decoder_inputs(encoder, images, images, size=48, styles_per_content=2)
    assert len(inputs) == 2 * (1 + 2 * (len(DECODER_CALIBRATION_TRANSFORMS) + 1))
    assert all(x.shape[1] == encoder.out_channels for x in inputs)


def test_executed_macs_count_the_upsampling_convolutions_as_run():
    """The analytic count equals what PyTorch's FlopCounterMode sees the forward pass execute (borders aside)."""
    from torch.utils.flop_counter import FlopCounterMode

    decoder = _decoder_with_dead_channels()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        decoder(torch.rand(1, 24, 8, 8))
    measured = counter.get_total_flops() / 2
    assert decoder.executed_macs(64) == pytest.approx(measured, rel=0.15)
