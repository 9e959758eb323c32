"""Baseline networks for the speed benchmark (architectures only; random weights are fine for timing).

``VGGEncoder``/``VGGDecoder``: the AdaIN network of Huang & Belongie (2017) -- VGG19 up to ``relu4_1``
(torchvision's layer definition, 512 channels at 1/8) and its mirror decoder with reflection padding and
nearest up-sampling. Both expose the attributes :class:`artnet.ArtNet` needs (channel counts and tiling
halos), so they run through exactly the same pipeline (tiling, transforms) as ArtNet.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class VGGEncoder(nn.Module):
    """VGG19 ``features[:21]`` (conv1_1 ... relu4_1); input RGB in [0, 1] (ImageNet normalisation inside)."""

    out_channels = 512
    tile_halo = 40  # receptive field of relu4_1 is 68 px (radius 34)

    #: torchvision's VGG19 configuration "E" up to conv4_1 (``M`` = 2x2 max-pool)
    LAYERS = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512)

    def __init__(self):
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = 3
        for item in self.LAYERS:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(in_ch, int(item), 3, padding=1), nn.ReLU()]
                in_ch = int(item)
        # same layer indices as torchvision.models.vgg19().features[:21] (its weights would load as-is)
        self.features = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        mean = x.new_tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = x.new_tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        return self.features((x - mean) / std)


def _conv(in_ch: int, out_ch: int) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 3, padding=1, padding_mode="reflect")


class VGGDecoder(nn.Module):
    """The AdaIN decoder: mirror of VGG19 up to relu4_1 (9 convolutions, 3 nearest up-samplings)."""

    in_channels = 512
    tile_halo_cells = 5

    def __init__(self):
        super().__init__()
        self.stage4 = nn.ModuleList([_conv(512, 256)])
        self.stage3 = nn.ModuleList([_conv(256, 256), _conv(256, 256), _conv(256, 256), _conv(256, 128)])
        self.stage2 = nn.ModuleList([_conv(128, 128), _conv(128, 64)])
        self.stage1 = nn.ModuleList([_conv(64, 64), _conv(64, 3)])

    def forward(self, x: Tensor) -> Tensor:
        for stage in (self.stage4, self.stage3, self.stage2):
            for conv in stage:
                x = F.relu(conv(x))
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = F.relu(self.stage1[0](x))
        return self.stage1[1](x)
