"""artnet.ArtNet.stylize: seamless tiling, alpha, style mixing, masks, colour preservation, bad options."""

from __future__ import annotations

import pytest
import torch

from artnet.color import preserve_color, rgb_to_ycbcr
from artnet.decoder import Decoder
from artnet.encoder import GoogLeNetEncoder
from artnet.model import ArtNet, check_weights
from artnet.transforms import StyleFeatures, adain, mean_std
from prunelab.errors import InputError, error_message


@pytest.fixture(scope="module")
def pair() -> tuple[GoogLeNetEncoder, Decoder]:
    torch.manual_seed(0)
    encoder = GoogLeNetEncoder().eval()
    with torch.no_grad():  # small positive biases so that features are not mostly zero
        for module in encoder.modules():
            if isinstance(module, torch.nn.Conv2d):
                module.bias.normal_(0.02, 0.02)
    return encoder, Decoder(encoder.out_channels).eval()


def _image(h: int, w: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, max(2, h // 16), max(2, w // 16), generator=g)
    return torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)


def test_tiled_encoding_and_decoding_have_no_seams(pair):
    """Tiles with halos give the whole-image result (no seams), also for sizes that are not multiples of 8."""
    encoder, decoder = pair
    tiled, whole = ArtNet(encoder, decoder, tile=96), ArtNet(encoder, decoder, tile=4096)
    content, style = _image(163, 229, 1), _image(90, 120, 2)
    f_tiled, f_whole = tiled.encode(content), whole.encode(content)
    assert f_whole.shape == (1, 480, 21, 29)
    assert torch.allclose(f_tiled, f_whole, atol=1e-5)
    for transform in ("adain", "wct", "s2"):
        a = tiled.stylize(content, style, transform=transform).image
        b = whole.stylize(content, style, transform=transform).image
        assert a.shape == (1, 3, 163, 229)
        assert (a - b).abs().max() < 1e-4, transform


def test_alpha_zero_is_reconstruction_and_alpha_interpolates(pair):
    net = ArtNet(*pair)
    content, style = _image(64, 80, 3), _image(64, 64, 4)
    recon = net.decode(net.encode(content), (64, 80))
    assert torch.equal(net.stylize(content, style, alpha=0.0).image, recon)
    half = net.stylize(content, style, transform="adain", alpha=0.5).image
    full = net.stylize(content, style, transform="adain", alpha=1.0).image
    assert (half - recon).abs().mean() < (full - recon).abs().mean()


def test_default_alpha_comes_from_the_decoder_card(pair, tmp_path):
    """``stylize`` without an alpha uses the network's default; the card beside a decoder file sets it."""
    import json

    from artnet.weights import default_alpha

    net = ArtNet(*pair, default_alpha=0.7)
    content, style = _image(48, 64, 3), _image(48, 48, 4)
    assert torch.equal(net.stylize(content, style, transform="adain").image,
                       net.stylize(content, style, transform="adain", alpha=0.7).image)
    assert ArtNet(*pair).default_alpha == 1.0  # no card: fully stylised
    decoder = tmp_path / "decoder.pt"
    assert default_alpha(decoder) == 1.0  # a decoder without a card
    decoder.with_suffix(".json").write_text(json.dumps({"default_alpha": 0.85}))
    assert default_alpha(decoder) == 0.85
    decoder.with_suffix(".json").write_text(json.dumps({"what": "a card without one"}))
    assert default_alpha(decoder) == 1.0
    decoder.with_suffix(".json").write_text(json.dumps({"default_alpha": 3}))
    with pytest.raises(InputError, match="default_alpha"):
        default_alpha(decoder)
    decoder.with_suffix(".json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        default_alpha(decoder)
    with pytest.raises(InputError, match="default_alpha"):
        ArtNet(*pair, default_alpha=-0.1)


def test_the_shipped_network_starts_at_its_cards_alpha():
    """``ArtNet.load`` (pruned and unpruned encoder) takes the shipped decoder card's calibrated alpha."""
    from artnet.weights import default_alpha

    shipped = default_alpha()
    assert 0.0 < shipped < 1.0  # the card names one (chosen on train+validation pairs, docs/artnet.md)
    assert ArtNet.load(device="cpu").default_alpha == shipped
    assert ArtNet.load("unpruned", device="cpu").default_alpha == shipped


def test_style_weights_mix_transformed_features(pair, monkeypatch):
    net = ArtNet(*pair)
    content = _image(48, 48, 5)
    styles = [net.encode_style(_image(64, 64, 6)), net.encode_style(_image(64, 64, 7))]
    captured = {}
    original = net.decode

    def spy(features, size, skips=None):
        captured["features"] = features
        return original(features, size, skips)

    monkeypatch.setattr(net, "decode", spy)
    net.stylize(content, styles, weights=[3, 1], transform="adain")
    fc = net.encode(content)[0]
    expected = 0.75 * adain(fc, styles[0]) + 0.25 * adain(fc, styles[1])
    assert torch.allclose(captured["features"][0], expected, atol=1e-5)
    assert check_weights([2, 2], 2) == [0.5, 0.5]
    for bad in ([1], [-1, 2], [0, 0], [float("nan"), 1]):
        with pytest.raises(InputError):
            check_weights(bad, 2)


def test_mask_puts_one_style_per_region(pair, monkeypatch):
    net = ArtNet(*pair)
    content = _image(64, 128, 8)
    dark, bright = StyleFeatures(torch.full((480, 6, 6), 0.01)), StyleFeatures(torch.full((480, 6, 6), 2.0))
    for s in (dark, bright):
        s.features += torch.rand(480, 6, 6) * 0.01
    mask = torch.zeros(64, 128)
    mask[:, :64] = 1
    captured = {}
    original = net.decode
    monkeypatch.setattr(net, "decode", lambda f, size, skips=None: original(captured.setdefault("f", f), size, skips))
    net.stylize(content, [bright, dark], mask=mask, transform="adain")
    features = captured["f"][0]
    left, right = features[:, :, :8].mean(), features[:, :, 8:].mean()
    assert left > 1.5 and right < 0.1
    left_mean, _ = mean_std(features[:, :, 1:7])
    assert torch.allclose(left_mean, bright.mean_std()[0], atol=0.05)  # region has the style's own statistics


def test_mask_and_option_errors(pair):
    net = ArtNet(*pair)
    content, style = _image(32, 32, 9), _image(32, 32, 10)
    with pytest.raises(InputError, match="exactly two styles"):
        net.stylize(content, style, mask=torch.ones(32, 32))
    with pytest.raises(InputError, match="alpha"):
        net.stylize(content, style, alpha=1.5)
    with pytest.raises(InputError, match="unknown transform"):
        net.stylize(content, style, transform="swap")
    with pytest.raises(InputError, match="shape"):
        net.stylize(torch.rand(3, 32, 32), style)
    with pytest.raises(InputError, match="NaN"):
        net.stylize(torch.full((1, 3, 16, 16), float("nan")), style)
    with pytest.raises(InputError, match="not trained together"):
        ArtNet(pair[0], Decoder(100))


def test_errors_name_parameters_and_the_command_line_shows_flags(pair):
    net = ArtNet(*pair)
    content, style = _image(32, 32, 9), _image(32, 32, 10)
    with pytest.raises(InputError) as info:
        net.stylize(content, [style, style], weights=[0.5, 0.5], mask=torch.ones(32, 32))
    assert str(info.value).endswith("and no weights") and "--" not in str(info.value)
    assert error_message(info.value, for_cli=True).endswith("and no --weights")
    with pytest.raises(InputError) as info:
        ArtNet(*pair, tile=32)
    assert str(info.value).startswith("tile must be") and error_message(info.value, for_cli=True).startswith("--tile")


class _SpyLibc:
    """Stands in for glibc in :mod:`artnet.runtime`: records ``mallopt`` calls instead of making them."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append((param, value))
        return 1


def test_constructing_an_artnet_leaves_the_allocator_alone(pair, monkeypatch):
    """No process-wide side effect: building (or loading) an ArtNet on the CPU changes no allocator setting;
    :func:`artnet.runtime.retain_freed_memory` does, when a caller opts in."""
    from artnet import runtime

    spy = _SpyLibc()
    monkeypatch.setattr(runtime, "_libc", lambda: spy)
    net = ArtNet(*pair, device="cpu")
    net.stylize(_image(32, 32, 9), _image(32, 32, 10), transform="adain")
    assert net.device.type == "cpu" and spy.calls == []
    assert runtime.retain_freed_memory() is True
    assert [param for param, _ in spy.calls] == [runtime._M_MMAP_THRESHOLD, runtime._M_TRIM_THRESHOLD]


def test_preserve_color_keeps_content_chroma_and_output_luma():
    # in gamut: grey-ish content chroma on mid-range luma, so the final clamp does not bite
    stylized, content = torch.rand(1, 3, 20, 30) * 0.4 + 0.3, torch.rand(1, 3, 20, 30) * 0.1 + 0.45
    out = preserve_color(stylized, content)
    y_out, y_styl, y_cont = rgb_to_ycbcr(out), rgb_to_ycbcr(stylized), rgb_to_ycbcr(content)
    assert torch.allclose(y_out[:, 0], y_styl[:, 0], atol=1e-5)
    assert torch.allclose(y_out[:, 1:], y_cont[:, 1:], atol=1e-5)


def test_cached_style_features_give_the_same_result(pair):
    net = ArtNet(*pair)
    content, style = _image(40, 56, 11), _image(70, 70, 12)
    direct = net.stylize(content, style, transform="s2").image
    cached = net.stylize(content, net.encode_style(style), transform="s2").image
    assert torch.equal(direct, cached)


@pytest.mark.gpu
def test_cuda_matches_cpu(pair):
    content, style = _image(64, 96, 13), _image(64, 64, 14)
    cpu = ArtNet(*pair, device="cpu").stylize(content, style, transform="s2").image
    gpu = ArtNet(*pair, device="cuda").stylize(content, style, transform="s2").image.cpu()
    assert (cpu - gpu).abs().max() < 1e-2
