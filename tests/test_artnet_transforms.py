"""artnet.transforms: AdaIN, WCT and S2 do what defines them, stably and in bounded memory."""

from __future__ import annotations

import pytest
import torch

from artnet.transforms import (
    DEFAULT_TRANSFORM,
    TRANSFORMS,
    StyleFeatures,
    adain,
    mean_cov,
    mean_std,
    s2,
    style_swap,
    transform_names,
    wct,
)


def _features(channels: int, height: int, width: int, seed: int, offset: float = 0.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(channels, channels, generator=g) / channels**0.5
    base = torch.randn(channels, height * width, generator=g)
    scale = 0.5 + torch.rand(channels, 1, 1, generator=g)
    return torch.relu(mix @ base + offset).reshape(channels, height, width) * scale


def test_chunked_statistics_match_direct_computation():
    f = _features(16, 20, 30, 0, offset=3.0)
    flat = f.reshape(16, -1).double()
    mean, std = mean_std(f, chunk=7, eps=0.0)
    assert torch.allclose(mean.double(), flat.mean(1), atol=1e-5)
    assert torch.allclose(std.double(), flat.std(1, unbiased=False), atol=1e-5)
    mu, cov = mean_cov(f, chunk=13)
    centred = flat - flat.mean(1, keepdim=True)
    assert torch.allclose(cov, centred @ centred.T / flat.shape[1], atol=1e-5)
    assert torch.allclose(mu, flat.mean(1), atol=1e-5)


def test_masked_statistics_use_only_the_region():
    f = _features(8, 10, 10, 1)
    mask = torch.zeros(10, 10)
    mask[:, :4] = 1
    mean, _ = mean_std(f, mask)
    assert torch.allclose(mean, f[:, :, :4].reshape(8, -1).mean(1), atol=1e-6)


def test_mean_std_reads_channels_last_maps_in_place_with_the_same_result():
    """Skip maps come channels-last from the encoder; their statistics (also masked, also half) match."""
    torch.manual_seed(0)
    dense = torch.randn(6, 9, 11) * 3 + 1
    strided = dense[None].contiguous(memory_format=torch.channels_last)[0]
    assert not strided.is_contiguous() and strided.stride(0) == 1
    mask = torch.rand(9, 11)
    for a, b in ((dense, strided), (dense.half(), strided.half())):
        for chunk in (7, 16384):
            for m in (None, mask):
                torch.testing.assert_close(mean_std(a, m, chunk=chunk), mean_std(b, m, chunk=chunk))


def test_adain_gives_the_style_mean_and_std():
    content, style = _features(32, 12, 16, 2, offset=1.0), _features(32, 20, 20, 3)
    out = adain(content, style)
    mo, so = mean_std(out)
    ms, ss = mean_std(style)
    assert torch.allclose(mo, ms, atol=1e-5)
    assert torch.allclose(so, ss, atol=1e-3)


def test_adain_alpha_is_the_blend_with_the_content():
    """``adain(alpha=a)`` is ``a * adain + (1 - a) * content``, computed in one pass (also with a stats hook)."""
    content, style = _features(16, 12, 16, 2, offset=1.0), _features(16, 20, 20, 3)
    torch.testing.assert_close(adain(content, style, alpha=0.3), 0.3 * adain(content, style) + 0.7 * content)

    def hook(name, stats):
        return stats[0] + 0.5, stats[1] * 2

    torch.testing.assert_close(adain(content, style, stats_hook=hook, alpha=0.6),
                               0.6 * adain(content, style, stats_hook=hook) + 0.4 * content)


def test_wct_gives_the_style_covariance():
    content, style = _features(24, 16, 16, 4), _features(24, 20, 20, 5)
    out = wct(content, style)
    mo, co = mean_cov(out)
    ms, cs = mean_cov(style)
    assert torch.allclose(mo, ms, atol=1e-5)
    assert (co - cs).abs().max() < 1e-3 * cs.abs().max()


@pytest.mark.parametrize("case", ["constant", "dead_channels", "fewer_positions_than_channels"])
def test_wct_is_finite_and_bounded_on_rank_deficient_features(case):
    style = _features(32, 16, 16, 6)
    if case == "constant":
        content = torch.full((32, 8, 8), 0.7)
    elif case == "dead_channels":
        content = _features(32, 16, 16, 7)
        content[::2] = 0
    else:
        content = _features(32, 3, 4, 8)  # 12 positions, 32 channels: covariance rank <= 11
    out = wct(content, style)
    assert torch.isfinite(out).all()
    assert out.abs().max() < 20 * style.abs().max()
    if case == "constant":  # nothing to whiten: every position gets the style mean
        assert torch.allclose(out, mean_std(style)[0][:, None, None].expand_as(out), atol=1e-5)


def test_wct_tolerates_rank_deficient_style():
    content, style = _features(16, 10, 10, 9), _features(16, 10, 10, 10)
    style[:8] = 0
    out = wct(content, style)
    assert torch.isfinite(out).all()
    assert out[:8].abs().max() < 1e-5  # channels without style variance/mean stay empty


def test_style_swap_of_the_style_with_itself_is_the_identity():
    style = _features(16, 14, 18, 11)
    for channels in (None, 8):
        swapped = style_swap(style, style, match_channels=channels)
        # border positions match reflect-padded patches (not style windows) and touch their neighbours
        assert torch.allclose(swapped[:, 2:-2, 2:-2], style[:, 2:-2, 2:-2], atol=1e-5)


def test_style_swap_result_is_made_of_style_patches():
    content, style = _features(8, 12, 12, 12), _features(8, 9, 9, 13)
    swapped = style_swap(content, style, patch_size=1, match_channels=None)
    style_vectors = style.reshape(8, -1).T
    for vector in swapped.reshape(8, -1).T:
        assert (style_vectors - vector).abs().sum(1).min() < 1e-5


def test_style_swap_chunking_does_not_change_the_result():
    content, style = _features(16, 20, 24, 14), StyleFeatures(_features(16, 15, 15, 15))
    for dtype in ("float32", "bfloat16"):
        roomy = style_swap(content, style, memory_mb=256, match_dtype=dtype)
        tight = style_swap(content, style, memory_mb=0.001, match_dtype=dtype)  # one row band x few patches
        assert torch.equal(roomy, tight), dtype


def test_bfloat16_matching_picks_a_patch_almost_as_similar_as_the_best():
    """The defining property of the reduced-precision matching: every chosen patch's exact (float64) score is
    within bfloat16's rounding of the best score at that position, and most choices are the exact argmax."""
    from artnet.transforms.s2 import _best_patches, _project, _style_bank, _style_basis

    content, style = _features(32, 18, 22, 25), StyleFeatures(_features(32, 16, 16, 26))
    filters, _, _ = _style_bank(style, 3, 16, 4096)
    mean, basis = _style_basis(style, 16)
    query = _project(content, mean, basis)
    exact = torch.nn.functional.conv2d(torch.nn.functional.pad(query[None], (1, 1, 1, 1), mode="reflect").double(),
                                       filters.double())[0]  # (L, H, W) float64 scores
    chosen = _best_patches(query, filters.bfloat16(), 3, 64.0)
    chosen_score = exact.gather(0, chosen[None])[0]
    best_score = exact.max(0).values
    window_norm = torch.nn.functional.unfold(torch.nn.functional.pad(query[None], (1, 1, 1, 1), mode="reflect"),
                                             3)[0].norm(dim=0).reshape(chosen.shape).double()
    assert ((best_score - chosen_score) <= 2**-6 * window_norm).all()  # a few bfloat16 ulps of the score scale
    assert (chosen == exact.argmax(0)).double().mean() > 0.8
    assert torch.equal(_best_patches(query, filters, 3, 64.0), exact.argmax(0))  # float32: the exact argmax


def test_match_dtype_choices():
    from artnet.transforms.s2 import _fast_bfloat16, match_dtype_for

    assert match_dtype_for("float32", torch.device("cpu")) is torch.float32
    assert match_dtype_for("bfloat16", torch.device("cpu")) is torch.bfloat16
    assert match_dtype_for("auto", torch.device("cuda")) is torch.bfloat16
    assert match_dtype_for("auto", torch.device("meta")) is torch.float32  # unknown hardware: exact float32
    amx = torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()
    assert _fast_bfloat16("cpu") is bool(amx)
    assert match_dtype_for("auto", torch.device("cpu")) is (torch.bfloat16 if amx else torch.float32)
    with pytest.raises(ValueError, match="match_dtype"):
        match_dtype_for("int8", torch.device("cpu"))


def test_s2_ends_with_the_style_statistics_and_keeps_the_shape():
    content, style = _features(32, 16, 20, 16, offset=0.5), _features(32, 18, 18, 17)
    out = s2(content, style)
    assert out.shape == content.shape
    mo, so = mean_std(out)
    ms, ss = mean_std(style)
    assert torch.allclose(mo, ms, atol=1e-4) and torch.allclose(so, ss, atol=1e-3)
    out_wct = s2(content, style, align="wct")
    assert (mean_cov(out_wct)[1] - mean_cov(style)[1]).abs().max() < 1e-3 * mean_cov(style)[1].abs().max()


def test_s2_brings_local_style_structure_that_adain_cannot():
    """Style made of two kinds of patches (texture): S2 output positions are near those patches."""
    g = torch.Generator().manual_seed(18)
    atoms = torch.randn(2, 16, generator=g).abs() * 3
    pick = torch.randint(0, 2, (20 * 20,), generator=g)
    style = atoms[pick].T.reshape(16, 20, 20)
    content = _features(16, 12, 12, 19, offset=0.3)

    def distance_to_atoms(f: torch.Tensor) -> float:
        v = f.reshape(16, -1).T
        return float(torch.cdist(v, atoms).min(1).values.mean())

    full = distance_to_atoms(s2(content, style, patch_size=1, match_channels=None, swap_weight=1.0))
    assert full < 0.5 * distance_to_atoms(adain(content, style))
    half = distance_to_atoms(s2(content, style, patch_size=1, match_channels=None, swap_weight=0.5))
    assert full < half < distance_to_atoms(adain(content, style))  # the swap strength trades texture away


def test_swap_weight_blends_the_swapped_with_the_aligned_features():
    content, style = _features(16, 12, 14, 23, offset=0.4), StyleFeatures(_features(16, 15, 15, 24))
    aligned = adain(content, style)
    swapped = style_swap(aligned, style)
    torch.testing.assert_close(s2(content, style, swap_weight=1.0), adain(swapped, style))
    torch.testing.assert_close(s2(content, style, swap_weight=0.3), adain(0.7 * aligned + 0.3 * swapped, style),
                               rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(s2(content, style, swap_weight=0.0), aligned, rtol=1e-4, atol=1e-4)  # = AdaIN
    with pytest.raises(ValueError, match="swap_weight"):
        s2(content, style, swap_weight=1.5)


def test_s2_rejects_bad_options():
    f = _features(8, 6, 6, 20)
    with pytest.raises(ValueError, match="alignment"):
        s2(f, f, align="nope")
    with pytest.raises(ValueError, match="odd"):
        style_swap(f, f, patch_size=2)


def test_cached_style_statistics_are_reused():
    style = StyleFeatures(_features(8, 10, 10, 21))
    first = style.mean_std()
    assert style.mean_std() is first
    s2(_features(8, 6, 6, 22), style)
    assert any(key.startswith("s2_bank") for key in style._cache)


def test_transforms_run_at_4k_feature_size_in_bounded_memory():
    """A 3840x2160 image has 480x270 features; chunked transforms handle them without C x N float64 copies."""
    content = torch.rand(32, 270, 480)
    style = StyleFeatures(torch.rand(32, 64, 64))
    for fn in (adain, wct):
        out = fn(content, style)
        assert out.shape == content.shape and torch.isfinite(out).all()


def test_one_registry_of_transform_names_feeds_the_model_and_the_command_line(monkeypatch):
    """Names are written once (:data:`artnet.transforms.TRANSFORMS`): the CLI choices and ArtNet read them."""
    import argparse

    from artnet.commands.common import add_style_arguments, add_transform_argument
    from artnet.model import ArtNet

    assert transform_names() == ("s2", "adain", "wct") and DEFAULT_TRANSFORM in TRANSFORMS
    assert TRANSFORMS == {"s2": s2, "adain": adain, "wct": wct}

    def identity(content, style, content_mask=None, stats_hook=None):
        return content if content.dim() == 3 else content[0]

    monkeypatch.setitem(TRANSFORMS, "identity", identity)  # a new transform, registered once
    parser = argparse.ArgumentParser()
    add_style_arguments(parser)
    action = next(a for a in parser._actions if a.dest == "transform")
    assert tuple(action.choices) == ("s2", "adain", "wct", "identity") and action.default == DEFAULT_TRANSFORM
    assert parser.parse_args(["--transform", "identity"]).transform == "identity"
    bench = argparse.ArgumentParser()
    add_transform_argument(bench, "adain")
    assert next(a for a in bench._actions if a.dest == "transform").choices == transform_names()

    from artnet.decoder import Decoder
    from artnet.encoder import GoogLeNetEncoder

    torch.manual_seed(0)
    encoder = GoogLeNetEncoder().eval()
    net = ArtNet(encoder, Decoder(encoder.out_channels).eval())
    content = torch.rand(1, 3, 32, 32)
    assert torch.equal(net.stylize(content, content, transform="identity").image, net.stylize(content, content,
                                                                                              alpha=0.0).image)
