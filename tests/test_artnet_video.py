"""artnet.video: flow warping, the warping-error metric, and stabilisation lowering it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from artnet.decoder import Decoder
from artnet.encoder import GoogLeNetEncoder
from artnet.model import ArtNet
from artnet.video import EmaStats, VideoStylizer, dis_flow, farneback_flow, read_frames, warp, warping_error
from prunelab.errors import InputError


def _scene(height: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.random((height // 8, width // 8, 3))
    import cv2

    return (cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC).clip(0, 1) * 255).astype(np.uint8)


def _panning(frames: int, shift: int = 2, height: int = 64, width: int = 96) -> list[np.ndarray]:
    scene = _scene(height, width + shift * frames, 0)
    return [np.ascontiguousarray(scene[:, shift * t: shift * t + width]) for t in range(frames)]


def test_warp_follows_the_flow():
    frames = _panning(2, shift=3)
    for flow_fn in (dis_flow, farneback_flow):
        backward = flow_fn(frames[1], frames[0])  # frame1(p) ~ frame0(p + f)
        assert abs(float(np.median(backward[..., 0])) - 3.0) < 0.5
        warped = warp(frames[0].astype(np.float32), backward)
        interior = (slice(8, -8), slice(8, -8))
        assert np.abs(warped[interior] - frames[1][interior]).mean() < 4.0


def test_warping_error_is_zero_for_a_static_video_and_grows_with_flicker():
    frames = _panning(4, shift=0)
    assert warping_error(frames, frames) < 1e-5  # flow on identical frames is ~0, not exactly 0
    rng = np.random.default_rng(1)
    flicker = [np.clip(f.astype(int) + rng.integers(-20, 20, f.shape), 0, 255).astype(np.uint8) for f in frames]
    assert warping_error(flicker, frames) > 1e-3
    with pytest.raises(ValueError):
        warping_error(frames[:1], frames[:1])


def test_ema_statistics():
    ema = EmaStats(0.5)
    first = ema("k", (torch.tensor([2.0]),))
    assert first[0].item() == 2.0
    assert ema("k", (torch.tensor([4.0]),))[0].item() == 3.0


@pytest.fixture(scope="module")
def net() -> ArtNet:
    torch.manual_seed(0)
    encoder = GoogLeNetEncoder().eval()
    return ArtNet(encoder, Decoder(encoder.out_channels))


class FlickeringNet:
    """Stands in for ArtNet: returns the frame with a random per-frame brightness change and noise, the
    typical flicker of per-frame stylisation, so that the stabiliser's effect can be measured exactly."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def stylize(self, content, style, stats_hook=None, **options):
        from artnet.model import StylizeResult

        gain = 1.0 + 0.15 * self.rng.standard_normal()
        noise = torch.from_numpy(self.rng.normal(0, 0.03, content.shape).astype(np.float32))
        return StylizeResult(image=(content * gain + noise).clamp(0, 1), seconds=0.0)


def test_flow_stabilisation_lowers_the_warping_error():
    frames = _panning(6)
    errors = {}
    for mode in ("none", "flow"):
        stylizer = VideoStylizer(FlickeringNet(3), style=None, stabilize=mode, blend=0.6)
        errors[mode] = warping_error([stylizer(f) for f in frames], frames)
    assert errors["flow"] < 0.6 * errors["none"], errors


def test_stats_stabilisation_smooths_the_content_statistics(net):
    frames = _panning(3)
    seen: list[tuple[str, torch.Tensor]] = []
    stylizer = VideoStylizer(net, net.encode_style(torch.rand(1, 3, 32, 32)), transform="adain", stabilize="stats",
                             momentum=0.5)
    original = stylizer.ema.__call__

    def spy(key, stats):
        out = original(key, stats)
        seen.append((stats[0].clone(), out[0].clone()))
        return out

    stylizer.ema = spy
    for frame in frames:
        stylizer(frame)
    (m0, s0), (m1, s1) = seen[0], seen[1]
    assert torch.equal(m0, s0)  # first frame: its own statistics
    assert torch.allclose(s1, 0.5 * s0 + 0.5 * m1, atol=1e-6)  # then a moving average


def test_bad_video_options_and_inputs(net, tmp_path):
    style = net.encode_style(torch.rand(1, 3, 32, 32))
    with pytest.raises(InputError, match="stabilisation"):
        VideoStylizer(net, style, stabilize="magic")
    with pytest.raises(InputError, match="momentum"):
        VideoStylizer(net, style, momentum=1.0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no images"):
        list(read_frames(tmp_path / "empty"))
    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    with pytest.raises(InputError):
        list(read_frames(tmp_path / "bad.mp4"))
