"""artnet networks: GoogLeNet encoder (BN folding, ImageNet state-dict path, pruned reload), decoder, teacher."""

from __future__ import annotations

import urllib.error

import pytest
import torch
import torchvision

from artnet.decoder import Decoder
from artnet.encoder import (
    GoogLeNetEncoder,
    encoder_from_folded_state_dict,
    encoder_from_torchvision_state_dict,
    fold_batchnorm,
    imagenet_encoder,
)
from prunelab.errors import InputError


def _torchvision_state_dict(seed: int = 0) -> tuple[torch.nn.Module, dict]:
    """A torchvision GoogLeNet with random weights and non-trivial BatchNorm statistics."""
    torch.manual_seed(seed)
    model = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=True).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.copy_(torch.randn(module.num_features, generator=g) * 0.1)
                module.running_var.copy_(torch.rand(module.num_features, generator=g) + 0.5)
                module.weight.copy_(torch.rand(module.num_features, generator=g) + 0.5)
                module.bias.copy_(torch.randn(module.num_features, generator=g) * 0.1)
    return model, model.state_dict()


def _torchvision_trunk(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    x = model.maxpool1(model.conv1(x * 2 - 1))
    x = model.maxpool2(model.conv3(model.conv2(x)))
    return model.inception3b(model.inception3a(x))


def test_torchvision_state_dict_loads_and_matches_torchvision():
    model, state = _torchvision_state_dict()
    encoder = encoder_from_torchvision_state_dict(state)
    assert not encoder.batchnorm
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in encoder.modules())
    x = torch.rand(2, 3, 96, 136)
    with torch.no_grad():
        expected = _torchvision_trunk(model, x)
        got = encoder(x)
    assert got.shape == (2, 480, 12, 17)
    assert torch.allclose(got, expected, atol=1e-5 * expected.abs().max())


def test_bad_state_dicts_are_named():
    _, state = _torchvision_state_dict()
    del state["inception3a.branch1.conv.weight"]
    with pytest.raises(InputError, match="inception3a.branch1.conv.weight"):
        encoder_from_torchvision_state_dict(state)
    _, state = _torchvision_state_dict()
    state["conv1.conv.weight"] = torch.zeros(64, 3, 5, 5)
    with pytest.raises(InputError, match="shape"):
        encoder_from_torchvision_state_dict(state)


def test_imagenet_download_failure_is_one_clear_line(monkeypatch):
    from torchvision.models import GoogLeNet_Weights

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(GoogLeNet_Weights.IMAGENET1K_V1.__class__, "get_state_dict", offline)
    with pytest.raises(InputError) as info:
        imagenet_encoder()
    message = str(info.value)
    assert "internet" in message and "distilled" in message and "\n" not in message


def test_imagenet_path_uses_the_loader_tested_above(monkeypatch):
    from torchvision.models import GoogLeNet_Weights

    model, state = _torchvision_state_dict(1)
    monkeypatch.setattr(GoogLeNet_Weights.IMAGENET1K_V1.__class__, "get_state_dict", lambda *a, **k: state)
    encoder = imagenet_encoder()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(encoder(x), _torchvision_trunk(model, x), atol=1e-5)


def test_folding_matches_batchnorm_in_eval_mode():
    torch.manual_seed(2)
    trunk = GoogLeNetEncoder(batchnorm=True)
    trunk.train()
    with torch.no_grad():
        for _ in range(3):  # give BatchNorm non-trivial running statistics
            trunk(torch.rand(4, 3, 64, 64))
    trunk.eval()
    folded = fold_batchnorm(trunk)
    x = torch.rand(1, 3, 80, 72)
    with torch.no_grad():
        for level, ref in trunk.forward_levels(x).items():
            got = folded.forward_levels(x)[level]
            assert torch.allclose(got, ref, atol=1e-5 * max(1.0, float(ref.abs().max()))), level


def test_levels_have_the_documented_scales_and_widths():
    encoder = GoogLeNetEncoder().eval()
    with torch.no_grad():
        levels = encoder.forward_levels(torch.rand(1, 3, 64, 96))
    assert {k: tuple(v.shape[1:]) for k, v in levels.items()} == {
        "conv1": (64, 32, 48), "conv3": (192, 16, 24), "inception3b": (480, 8, 12)}
    with pytest.raises(ValueError, match="unknown encoder level"):
        encoder.forward_levels(torch.rand(1, 3, 8, 8), ("fc",))


def test_pruned_state_dict_rebuilds_narrower_layers():
    encoder = GoogLeNetEncoder().eval()
    state = encoder.state_dict()
    keep = torch.arange(0, 128, 2)  # drop every other channel of inception3b.branch1
    state["inception3b.branch1.conv.weight"] = state["inception3b.branch1.conv.weight"][keep]
    state["inception3b.branch1.conv.bias"] = state["inception3b.branch1.conv.bias"][keep]
    rebuilt = encoder_from_folded_state_dict(state)
    assert rebuilt.out_channels == 480 - 64
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        full, narrow = encoder(x), rebuilt(x)
    assert torch.allclose(narrow[:, :64], full[:, keep], atol=1e-6)
    assert torch.allclose(narrow[:, 64:], full[:, 128:], atol=1e-6)


def test_decoder_inverts_shapes_and_is_light():
    decoder = Decoder(300)
    out = decoder(torch.rand(1, 300, 5, 7))
    assert out.shape == (1, 3, 40, 56)
    import core_pruning

    macs, params = core_pruning.count_flops_params(Decoder(480), torch.zeros(1, 480, 64, 64))
    assert macs < 8e9 and params < 1e6  # an order of magnitude below VGG19's mirror decoder (~60 GMAC)


@pytest.mark.shared
def test_teacher_loads_and_reconstructs(shared_dir):
    from artnet.data import wheel_image
    from artnet.images import to_tensor
    from artnet.metrics import psnr
    from artnet.teacher import load_teacher_decoder, load_teacher_encoder

    encoder, decoder = load_teacher_encoder(4), load_teacher_decoder(4)
    x = to_tensor(wheel_image("astronaut"))[:, :, ::2, ::2].contiguous()
    with torch.no_grad():
        features = encoder.features(x)
        assert [tuple(f.shape[1:2]) for f in features.values()] == [(64,), (128,), (256,), (512,)]
        assert psnr(decoder(encoder(x)), x) > 20.0


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (5, 8)])
def test_fused_upsample_conv_is_the_same_function(size):
    """One transposed convolution on the small map == nearest 2x up-sampling then reflection-padded 3x3 conv."""
    from artnet.decoder import upsample2_conv3

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(4, 3, 3, padding=1, padding_mode="reflect").double()
    x = torch.randn(2, 4, *size, dtype=torch.float64, requires_grad=True)
    reference = conv(torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest"))
    fused = upsample2_conv3(x, conv)
    torch.testing.assert_close(fused, reference, rtol=0, atol=1e-12)
    grad_ref = torch.autograd.grad(reference.sum(), [x, conv.weight])
    grad_fused = torch.autograd.grad(upsample2_conv3(x, conv).sum(), [x, conv.weight])
    for a, b in zip(grad_fused, grad_ref):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
    with pytest.raises(ValueError):
        upsample2_conv3(x, torch.nn.Conv2d(4, 3, 5, padding=2).double())


def test_decoder_is_the_same_function_with_and_without_autograd():
    """In-place ReLUs and skip sums run only without autograd (about 3 % faster decoding on a 2-core CPU);
    recorded graphs get the plain ops."""
    decoder = Decoder(16, skip_channels={"conv3": 8, "conv1": 4})
    for module in (decoder.skip_conv3, decoder.skip_conv1):
        torch.nn.init.normal_(module.weight)
    x = torch.randn(1, 16, 5, 6)
    skips = {"conv3": torch.randn(1, 8, 10, 12), "conv1": torch.randn(1, 4, 20, 24)}
    with torch.no_grad():
        fast = decoder(x, skips)
    graphed = decoder(x, skips)
    assert graphed.grad_fn is not None
    torch.testing.assert_close(fast, graphed.detach(), rtol=1e-5, atol=1e-5)


def test_decoder_forward_equals_the_literal_mirror():
    decoder = Decoder(16).eval()
    x = torch.randn(1, 16, 6, 9)
    with torch.no_grad():
        torch.testing.assert_close(decoder(x), decoder.forward_reference(x), rtol=1e-5, atol=1e-5)
