"""The VGG19-derived 5SE/5SD teacher of ``../shared/weights/teacher-cd16x``, as small as the benchmarks need.

core_pruning must not import artnet, so the benchmarks carry their own definition (format: shared/README.md):
encoder ``conv0`` (1x1) then reflection-padded 3x3 convs + ReLU, 2x2 max-pool before conv21/31/41/51,
output relu5_1 (128 channels); decoder = mirror with nearest 2x up-sampling, no final ReLU. The ``*_aux``
lifts are not part of this model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from prunelab.paths import shared_path

ENCODER_LAYERS = ["conv11", "conv12", "conv21", "conv22", "conv31", "conv32", "conv33", "conv34", "conv41", "conv42",
                  "conv43", "conv44", "conv51"]
WIDTHS = {"1": 16, "2": 32, "3": 64, "4": 128, "5": 128}
POOL_BEFORE = ("conv21", "conv31", "conv41", "conv51")


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1, padding_mode="reflect")


class Encoder5(nn.Module):
    """Image in [0, 1] (N, 3, H, W) -> relu5_1 features (N, 128, H/16, W/16)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv0 = nn.Conv2d(3, 3, 1)
        cin = 3
        for name in ENCODER_LAYERS:
            setattr(self, name, _conv(cin, WIDTHS[name[4]]))
            cin = WIDTHS[name[4]]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv0(x)
        for name in ENCODER_LAYERS:
            if name in POOL_BEFORE:
                x = F.max_pool2d(x, 2)
            x = F.relu(getattr(self, name)(x))
        return x


class Decoder5(nn.Module):
    """relu5_1 features -> image (the mirror of :class:`Encoder5`)."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = list(reversed(ENCODER_LAYERS))
        for i, name in enumerate(self.layers):
            cout = 3 if i == len(self.layers) - 1 else WIDTHS[self.layers[i + 1][4]]
            setattr(self, name, _conv(WIDTHS[name[4]], cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.layers) - 1
        for i, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if i < last:
                x = F.relu(x)
                if name in POOL_BEFORE:
                    x = F.interpolate(x, scale_factor=2, mode="nearest")
        return x


class AutoEncoder5(nn.Module):
    """5SE followed by 5SD: dead relu5_1 channels become removable (the decoder consumes them)."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder, self.decoder = Encoder5(), Decoder5()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def _state(name: str) -> dict[str, torch.Tensor]:
    blob = torch.load(shared_path("weights", "teacher-cd16x", name), map_location="cpu", weights_only=True)
    return blob["model"]


def load_encoder() -> Encoder5:
    encoder = Encoder5()
    state = {k: v for k, v in _state("5SE.pth").items() if "_aux" not in k}
    encoder.load_state_dict(state)
    return encoder.eval()


def load_autoencoder() -> AutoEncoder5:
    model = AutoEncoder5()
    model.encoder.load_state_dict(load_encoder().state_dict())
    model.decoder.load_state_dict(_state("5SD.pth"))
    return model.eval()


def load_rgb(path: Path | np.ndarray, side: int) -> torch.Tensor:
    """(1, 3, side, side) in [0, 1]: shorter side resized to ``side``, centre crop; grey images repeated to RGB."""
    from PIL import Image

    image = Image.fromarray(path) if isinstance(path, np.ndarray) else Image.open(path)
    image = image.convert("RGB")
    scale = side / min(image.size)
    image = image.resize((max(side, round(image.width * scale)), max(side, round(image.height * scale))),
                         Image.BILINEAR)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    array = np.asarray(image.crop((left, top, left + side, top + side)), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0)


def style_images(side: int) -> tuple[list[str], list[torch.Tensor]]:
    """The 27 content photos and style paintings of ``../shared/data/style`` (the calibration set)."""
    folders = [shared_path("data", "style", "content"), shared_path("data", "style", "style")]
    files = sorted(f for folder in folders for f in folder.iterdir())
    files = [f for f in files if f.suffix.lower() in (".jpg", ".jpeg", ".png")]
    return [f.name for f in files], [load_rgb(f, side) for f in files]


HELD_OUT = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "retina", "immunohistochemistry",
            "colorwheel", "brick", "grass", "gravel", "camera")


def held_out_images(side: int) -> tuple[list[str], list[torch.Tensor]]:
    """Images that ship inside scikit-image: never seen during calibration."""
    import skimage.data

    return list(HELD_OUT), [load_rgb(getattr(skimage.data, name)(), side) for name in HELD_OUT]
