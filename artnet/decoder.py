"""The ArtNet decoder: a light mirror of the GoogLeNet encoder that inverts 1/8-resolution features.

Mirror of the encoder, stage by stage (reflection-padded convolutions against border artefacts, nearest
2x up-sampling where the encoder down-sampled):

=========  ======================================  =====================================
scale      decoder                                 mirrors encoder
=========  ======================================  =====================================
1/8        1x1 C->w0, 3x3 w0->w0                   inception3b, inception3a (1x1 then 3x3)
1/4        3x3 w0->w1, 3x3 w1->w1                  conv3 (3x3), conv2 (1x1)
1/2        3x3 w1->w2                              maxpool1 output of conv1
1/1        3x3 w2->w3, 3x3 w3->3 (no ReLU)          conv1 (7x7, stride 2)
=========  ======================================  =====================================

Widths default to (128, 64, 32, 16): about 5 GMAC at 512x512, an order of magnitude below VGG19's
mirror decoder (~60 GMAC), which is what makes real-time use possible. The output is RGB; callers clamp
to [0, 1].
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

#: Decoder receptive-field radius in 1/8-resolution feature cells (for tiling halos): 1 + 2/2 + 1/4 + 2/8 < 3.
FEATURE_RADIUS = 3


def _conv3(in_ch: int, out_ch: int) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 3, padding=1, padding_mode="reflect")


class Decoder(nn.Module):
    """Features ``(N, C, H/8, W/8)`` -> image ``(N, 3, H, W)``."""

    def __init__(self, in_channels: int, widths: tuple[int, int, int, int] = (128, 64, 32, 16)):
        super().__init__()
        self.in_channels = in_channels
        self.widths = tuple(widths)
        w0, w1, w2, w3 = self.widths
        self.reduce = nn.Conv2d(in_channels, w0, 1)
        self.conv8 = _conv3(w0, w0)
        self.conv4a = _conv3(w0, w1)
        self.conv4b = _conv3(w1, w1)
        self.conv2 = _conv3(w1, w2)
        self.conv1a = _conv3(w2, w3)
        self.conv1b = _conv3(w3, 3)
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        r = self.relu
        x = r(self.conv8(r(self.reduce(x))))
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = r(self.conv4b(r(self.conv4a(x))))
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = r(self.conv2(x))
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        return self.conv1b(r(self.conv1a(x)))
