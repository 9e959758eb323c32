"""``ArtNet(precision=...)``: the networks under autocast, transforms and the returned image in float32.

Tolerances are against the same network in float32, on a photo and a painting-like image at 128 px: bfloat16 (7
mantissa bits) moves AdaIN pixels by at most 0.03 and 0.002 on average; S2 can pick a different style patch where
two match almost equally, so only its mean difference is bounded. CUDA float16: ``gpu`` marker.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from artnet.bench import run_bench
from artnet.images import to_tensor
from artnet.model import ArtNet
from prunelab.errors import InputError


@pytest.fixture(scope="module")
def pair():
    import skimage.data

    content = F.interpolate(to_tensor(skimage.data.astronaut()), size=(128, 128), mode="area")
    style = F.interpolate(to_tensor(skimage.data.coffee()), size=(128, 128), mode="area")
    return content, style


def _diff(precision: str, transform: str, content, style, device: str = "cpu") -> tuple[float, float]:
    reference = ArtNet.load(device=device).stylize(content, style, transform=transform).image
    result = ArtNet.load(device=device, precision=precision).stylize(content, style, transform=transform).image
    assert result.dtype == torch.float32 and result.shape == reference.shape
    difference = (result - reference).abs()
    return float(difference.max()), float(difference.mean())


def test_bfloat16_adain_stays_close_to_float32(pair):
    largest, mean = _diff("bfloat16", "adain", *pair)
    assert 0 < largest <= 0.03 and mean <= 0.002  # > 0: the networks really ran in bfloat16


def test_bfloat16_s2_stays_close_to_float32_on_average(pair):
    _, mean = _diff("bfloat16", "s2", *pair)
    assert mean <= 0.005


def test_style_features_stay_float32(pair):
    net = ArtNet.load(device="cpu", precision="bfloat16")
    assert net.encode_style(pair[1]).features.dtype == torch.float32
    assert net.encode(pair[0]).dtype == torch.float32


def test_unknown_precision_is_a_one_line_error():
    with pytest.raises(InputError, match="unknown precision 'fp8'; choose from float32, bfloat16, float16"):
        ArtNet.load(device="cpu", precision="fp8")


def test_bench_records_its_precision():
    result = run_bench(["64x64"], ["artnet"], torch.device("cpu"), repeats=1, tile=1024, precision="bfloat16")
    assert result["precision"] == "bfloat16" and result["rows"]


@pytest.mark.gpu
def test_cuda_float16_stays_close_to_float32(pair):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    largest, mean = _diff("float16", "adain", *pair, device="cuda")
    assert largest <= 0.02 and mean <= 0.002
