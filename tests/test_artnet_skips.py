"""Decoders with encoder skips (artnet.skips): zero start, alignment, tiling, weights files, training, stylize."""

from __future__ import annotations

import copy

import pytest
import torch

from artnet.decoder import SKIP_JOINS, Decoder
from artnet.encoder import GoogLeNetEncoder
from artnet.model import ArtNet
from artnet.skips import align_skips_batch, encode_levels, with_skips
from artnet.transforms import adain, adain_batch, mean_std
from artnet.weights import load_decoder, save_decoder


@pytest.fixture(scope="module")
def nets() -> tuple[GoogLeNetEncoder, Decoder, Decoder]:
    """An encoder, a plain decoder and the same decoder with skips whose projections are no longer zero."""
    torch.manual_seed(0)
    encoder = GoogLeNetEncoder().eval()
    with torch.no_grad():
        for module in encoder.modules():
            if isinstance(module, torch.nn.Conv2d):
                module.bias.normal_(0.02, 0.02)
    plain = Decoder(encoder.out_channels, (32, 16, 8, 8)).eval()
    skipped = with_skips(plain, encoder).eval()
    with torch.no_grad():
        for level in skipped.skip_levels:
            getattr(skipped, f"skip_{level}").weight.normal_(0, 0.05)
    return encoder, plain, skipped


def _image(h: int, w: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, max(2, h // 16), max(2, w // 16), generator=g)
    return torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)


def test_fresh_skips_start_from_the_plain_decoder_and_then_change_it(nets):
    """Zero-initialised skips compute exactly the plain decoder; trained (non-zero) ones add to it."""
    encoder, plain, skipped = nets
    x = _image(64, 64, 1)
    features, skips = encode_levels(encoder, x, skipped)
    assert set(skips) == set(SKIP_JOINS)
    assert skips["conv1"].shape[2:] == (32, 32) and skips["conv3"].shape[2:] == (16, 16)
    fresh = with_skips(plain, encoder)
    assert torch.equal(fresh(features, skips), plain(features))
    assert (skipped(features, skips) - plain(features)).abs().max() > 1e-3
    assert torch.allclose(skipped.forward_reference(features, skips), skipped(features, skips), atol=1e-5)
    with pytest.raises(ValueError, match="needs the encoder's conv3, conv1"):
        skipped(features)
    with pytest.raises(ValueError, match="unknown skip level"):
        Decoder(encoder.out_channels, skip_channels={"conv2": 64})


def test_skip_macs_are_counted(nets):
    encoder, plain, skipped = nets
    extra = 128 ** 2 * 192 * skipped.conv4a.out_channels + 256 ** 2 * 64 * skipped.conv2.out_channels
    assert skipped.executed_macs(512) - plain.executed_macs(512) == extra


def test_aligned_skips_carry_the_style_statistics_and_alpha_mixes():
    torch.manual_seed(1)
    content = {"conv3": torch.randn(2, 5, 8, 8) * 3 + 1}
    style = {"conv3": torch.randn(2, 5, 6, 6) * 0.5 - 2}
    aligned = align_skips_batch(content, style)["conv3"]
    assert torch.allclose(aligned.mean((2, 3)), style["conv3"].mean((2, 3)), atol=1e-4)
    assert torch.allclose(aligned.std((2, 3), unbiased=False), style["conv3"].std((2, 3), unbiased=False), atol=1e-3)
    half = align_skips_batch(content, style, 0.5)["conv3"]
    assert torch.allclose(half, 0.5 * aligned + 0.5 * content["conv3"], atol=1e-5)
    assert align_skips_batch(content, style, 0.0)["conv3"] is content["conv3"]


def test_weights_file_keeps_the_skips(nets, tmp_path):
    _, _, skipped = nets
    path = save_decoder(skipped, tmp_path / "dec.pt")
    loaded = load_decoder(path)
    assert loaded.skip_channels() == skipped.skip_channels() == {"conv3": 192, "conv1": 64}
    for key, value in skipped.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value.half().float()), key


def test_stylize_with_skips_is_seamless_when_tiled_and_alpha_zero_reconstructs(nets):
    encoder, _, skipped = nets
    tiled, whole = ArtNet(encoder, skipped, tile=96), ArtNet(encoder, skipped, tile=4096)
    content, style = _image(163, 229, 2), _image(90, 120, 3)
    for transform in ("adain", "s2"):
        a = tiled.stylize(content, style, transform=transform).image
        b = whole.stylize(content, style, transform=transform).image
        assert a.shape == (1, 3, 163, 229)
        assert (a - b).abs().max() < 1e-4, transform
    recon = whole.reconstruct(content)
    assert torch.equal(whole.stylize(content, style, alpha=0.0).image, recon)
    assert (tiled.reconstruct(content) - recon).abs().max() < 1e-4
    half = whole.stylize(content, style, transform="adain", alpha=0.5).image
    full = whole.stylize(content, style, transform="adain", alpha=1.0).image
    assert (half - recon).abs().mean() < (full - recon).abs().mean()


def test_stylize_aligns_the_skips_as_documented(nets, monkeypatch):
    """The decoder receives AdaIN of each content skip toward the style's (one style, alpha 1)."""
    encoder, _, skipped = nets
    net = ArtNet(encoder, skipped, tile=4096)
    content, style = _image(64, 64, 4), _image(64, 64, 5)
    seen = {}

    def spy(self, x, skips=None):
        seen.update(skips)
        return torch.zeros(1, 3, x.shape[2] * 8, x.shape[3] * 8)

    monkeypatch.setattr(Decoder, "forward", spy)
    net.stylize(content, net.encode_style(style, size=0), transform="adain")
    levels_c = encoder.forward_levels(content)
    levels_s = encoder.forward_levels(style)
    for level in SKIP_JOINS:
        expected = adain(levels_c[level], levels_s[level])
        assert torch.allclose(seen[level][0], expected, atol=1e-4), level
        mu, sigma = mean_std(seen[level][0])
        assert torch.allclose(mu, mean_std(levels_s[level])[0], atol=1e-3)


def test_two_styles_and_masks_run_with_skips(nets):
    encoder, _, skipped = nets
    net = ArtNet(encoder, skipped)
    content, a, b = _image(64, 64, 6), _image(64, 64, 7), _image(64, 64, 8)
    mixed = net.stylize(content, [a, b], weights=[0.5, 0.5], transform="adain").image
    only_a = net.stylize(content, [a, b], weights=[1.0, 0.0], transform="adain").image
    assert torch.allclose(only_a, net.stylize(content, a, transform="adain").image, atol=1e-5)
    assert (mixed - only_a).abs().max() > 1e-4
    mask = torch.zeros(64, 64)
    mask[:, :32] = 1
    masked = net.stylize(content, [a, b], mask=mask, transform="adain").image
    assert masked.shape == (1, 3, 64, 64) and torch.isfinite(masked).all()


def test_style_cached_without_skips_is_refused(nets):
    encoder, plain, skipped = nets
    style = ArtNet(encoder, plain).encode_style(_image(64, 64, 9))
    from prunelab.errors import InputError

    with pytest.raises(InputError, match="without skips"):
        ArtNet(encoder, skipped).stylize(_image(64, 64, 10), style)


def test_adain_batch_matches_the_training_alignment(nets):
    """Training (adain_batch per level) and inference (adain per level) align skips the same way."""
    encoder, _, skipped = nets
    c, s = _image(64, 64, 11), _image(64, 64, 12)
    (_, sc), (_, ss) = encode_levels(encoder, c, skipped), encode_levels(encoder, s, skipped)
    for level in SKIP_JOINS:
        assert torch.allclose(adain_batch(sc[level], ss[level])[0], adain(sc[level], ss[level]), atol=1e-4)


def test_exported_graph_with_skips_equals_stylize(nets, tmp_path):
    """The AdaIN graph aligns the skips too: it matches stylize, and the written TorchScript file matches it."""
    from artnet.export import AdaINGraph, export

    encoder, _, skipped = nets
    net = ArtNet(encoder, skipped, tile=4096)
    content, style = _image(64, 80, 13), _image(48, 64, 14)
    graph = AdaINGraph(encoder, skipped)
    for alpha in (1.0, 0.6):
        with torch.no_grad():
            got = graph(content, style, torch.tensor(alpha))
        want = net.stylize(content, net.encode_style(style, size=0), transform="adain", alpha=alpha).image
        assert (got - want).abs().max() < 1e-4, alpha
    report = export(encoder, skipped, "torchscript", tmp_path)
    assert report.max_abs_diff is not None and report.max_abs_diff <= 1e-3


def test_decoder_pruning_refuses_skips_with_a_clear_message(nets, tmp_path):
    from artnet.pruning_run import run_decoder_pruning
    from artnet.weights import save_encoder
    from prunelab.errors import InputError

    encoder, _, skipped = nets
    enc_path = save_encoder(copy.deepcopy(encoder), tmp_path / "enc.pt")
    dec_path = save_decoder(copy.deepcopy(skipped), tmp_path / "dec.pt")
    with pytest.raises(InputError, match="reads encoder skips"):
        run_decoder_pruning(dec_path, tmp_path / "out.pt", enc_path, use_shared=False)
    assert not (tmp_path / "out.pt").exists()


def test_large_images_keep_skip_maps_in_float16_within_a_level(nets, monkeypatch):
    """Above SKIP_HALF_PIXELS the skip maps are stored in float16: the image moves by less than one 8-bit level,
    and tiled still equals whole-image at that size (the pixel count decides, not the tile)."""
    import artnet.model as model

    encoder, _, skipped = nets
    content, style = _image(96, 128, 15), _image(64, 64, 16)
    exact = ArtNet(encoder, skipped).stylize(content, style, transform="adain").image
    monkeypatch.setattr(model, "SKIP_HALF_PIXELS", 1000)
    net = ArtNet(encoder, skipped)
    assert all(f.dtype == torch.float16 for f in net._encode_levels(content)[1].values())
    half = net.stylize(content, style, transform="adain").image
    assert 0 < (half - exact).abs().max() < 1 / 255
    tiled = ArtNet(encoder, skipped, tile=64).stylize(content, style, transform="adain").image
    assert (tiled - half).abs().max() < 1e-4


def test_shipped_default_decoder_has_skips_and_the_bench_times_the_plain_one_beside_it():
    from artnet.bench import _candidates

    candidates, notes = _candidates(["artnet", "artnet_plain"], torch.device("cpu"), 1024, "adain")
    by_name = {c.name: c.net.decoder for c in candidates}
    assert by_name["artnet"].skip_levels == ("conv3", "conv1") and by_name["artnet_plain"].skip_levels == ()
    assert not notes
