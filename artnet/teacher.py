"""The VGG19-derived teacher auto-encoders of ``../shared/weights/teacher-cd16x`` (MIT, Huan Wang et al.).

Source: MingSun-Tse/Collaborative-Distillation (CVPR 2020, "Collaborative Distillation for Ultra-Resolution
Universal Style Transfer"), the 16x-compressed VGG19 encoders ``kSE.pth`` and decoders ``kSD.pth``.
The teacher plays three roles in artnet: distillation target for the GoogLeNet encoder, loss network for
decoder training, and metric network for the quality benchmark. It is never shipped.

Format (verified with ``torch.load(weights_only=True)``): ``{"model": state_dict, "epoch": int}``.
Encoder: 1x1 ``conv0`` then reflection-padded 3x3 convs + ReLU (``conv11 conv12 | conv21 conv22 |
conv31..34 | conv41..44 | conv51``, widths 16/32/64/128/128) with 2x2 max-pools after conv12, conv22,
conv34, conv44. ``convX1_aux`` are 1x1 convs lifting the ``reluX_1`` features to VGG19 widths
(64/128/256/512/512): a learned linear embedding of VGG19's own features, used as the "VGG-like" space.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from prunelab.paths import shared_path

TEACHER_DIR = ("weights", "teacher-cd16x")
#: Encoder layers per stage (stage k ends with relu_k_1 being the first conv of stage k).
_STAGES = [["conv11", "conv12"], ["conv21", "conv22"], ["conv31", "conv32", "conv33", "conv34"],
           ["conv41", "conv42", "conv43", "conv44"], ["conv51"]]
#: VGG names of the features the teacher exposes, and the teacher layer producing each.
RELU_LAYERS = {"relu1_1": "conv11", "relu2_1": "conv21", "relu3_1": "conv31", "relu4_1": "conv41",
               "relu5_1": "conv51"}
_WIDTHS = {"1": 16, "2": 32, "3": 64, "4": 128, "5": 128}
_AUX_WIDTHS = {"1": 64, "2": 128, "3": 256, "4": 512, "5": 512}


def teacher_dir() -> Path:
    """Folder holding ``kSE.pth``/``kSD.pth``; raises a clear error when ``../shared`` is absent."""
    return shared_path(*TEACHER_DIR)


def _encoder_layers(level: int) -> list[str]:
    names: list[str] = []
    for stage in _STAGES[:level]:
        names.extend(stage)
    names = names[: names.index(RELU_LAYERS[f"relu{level}_1"]) + 1]
    return names


def _reflect_conv(in_ch: int, out_ch: int) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 3, padding=1, padding_mode="reflect")


class TeacherEncoder(nn.Module):
    """Teacher encoder up to ``relu{level}_1``; ``features`` returns ReLU features and their aux lifts."""

    #: receptive-field radius of relu4_1 is 34 px (68 px field): tiling halo in pixels, multiple of 8
    tile_halo = 40

    def __init__(self, level: int = 4):
        super().__init__()
        if not 1 <= level <= 5:
            raise ValueError(f"teacher level must be 1..5, got {level}")
        self.level = level
        self.layers = _encoder_layers(level)
        self.conv0 = nn.Conv2d(3, 3, 1)
        in_ch = 3
        for name in self.layers:
            out_ch = _WIDTHS[name[4]]
            setattr(self, name, _reflect_conv(in_ch, out_ch))
            in_ch = out_ch
        for k in range(1, level + 1):
            setattr(self, f"conv{k}1_aux", nn.Conv2d(_WIDTHS[str(k)], _AUX_WIDTHS[str(k)], 1))

    @property
    def out_channels(self) -> int:
        """Width of the compact ``relu{level}_1`` features (before the aux lift)."""
        return _WIDTHS[str(self.level)]

    def forward(self, x: Tensor) -> Tensor:
        """``relu{level}_1`` features (the compact, 16x-compressed ones)."""
        return self.features(x, aux=False)[f"relu{self.level}_1"]

    def features(self, x: Tensor, aux: bool = True, upto: int | None = None) -> dict[str, Tensor]:
        """``{"reluK_1": tensor}`` for K = 1..upto (default: level); VGG-width via the aux 1x1 when ``aux``."""
        upto = self.level if upto is None else upto
        out: dict[str, Tensor] = {}
        x = self.conv0(x)
        for name in self.layers:
            if name in ("conv21", "conv31", "conv41", "conv51"):
                x = F.max_pool2d(x, 2)
            x = F.relu(getattr(self, name)(x))
            if name.endswith("1") and name in RELU_LAYERS.values():
                k = int(name[4])
                out[f"relu{k}_1"] = getattr(self, f"conv{k}1_aux")(x) if aux else x
                if k == upto:
                    break
        return out


class TeacherDecoder(nn.Module):
    """Mirror of :class:`TeacherEncoder` (``kSD.pth``): reflection-padded convs, nearest 2x up-sampling."""

    #: receptive-field radius ~4 cells of 1/8 resolution (1 + 4/2 + 2/4 + 2/8): tiling halo in cells
    tile_halo_cells = 5

    def __init__(self, level: int = 4, final_relu: bool = False):
        super().__init__()
        self.level = level
        self.final_relu = final_relu
        self.layers = list(reversed(_encoder_layers(level)))
        for name in self.layers:
            k = name[4]
            idx = self.layers.index(name)
            out_ch = 3 if idx == len(self.layers) - 1 else _WIDTHS[self.layers[idx + 1][4]]
            in_ch = _WIDTHS[k]
            setattr(self, name, _reflect_conv(in_ch, out_ch))

    @property
    def in_channels(self) -> int:
        """Feature width the decoder takes (the encoder's ``out_channels`` at the same level)."""
        return getattr(self, self.layers[0]).in_channels

    def forward(self, x: Tensor) -> Tensor:
        last = len(self.layers) - 1
        for i, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if i < last or self.final_relu:
                x = F.relu(x)
            if name in ("conv41", "conv31", "conv21", "conv51") and i < last:
                x = F.interpolate(x, scale_factor=2, mode="nearest")
        return x


def _load_state(path: Path) -> dict[str, Tensor]:
    blob = torch.load(path, map_location="cpu", weights_only=True)
    return blob["model"] if isinstance(blob, dict) and "model" in blob else blob


def load_teacher_encoder(level: int = 4, folder: Path | None = None) -> TeacherEncoder:
    """Teacher encoder ``{level}SE.pth`` in eval mode with gradients off."""
    state = _load_state((folder or teacher_dir()) / f"{level}SE.pth")
    encoder = TeacherEncoder(level)
    encoder.load_state_dict(state)
    return encoder.eval().requires_grad_(False)


def load_teacher_decoder(level: int = 4, folder: Path | None = None) -> TeacherDecoder:
    """Teacher decoder ``{level}SD.pth``. No final ReLU: outputs are clamped to [0, 1], which makes a final
    ReLU irrelevant (measured: identical PSNR with and without)."""
    state = _load_state((folder or teacher_dir()) / f"{level}SD.pth")
    decoder = TeacherDecoder(level)
    decoder.load_state_dict(state)
    return decoder.eval().requires_grad_(False)
