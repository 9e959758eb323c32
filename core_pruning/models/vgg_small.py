"""VGG-small: the 6-conv CIFAR VGG of the binary/quantised-network literature (128-128-M-256-256-M-512-512-M).

Plain conv-BN-ReLU stacks without residuals: every layer's channels are pruned independently, the
opposite case to ResNet's coupled groups. ``width`` scales all channel counts.
"""

from __future__ import annotations

from torch import Tensor, nn

CONFIG = (128, 128, "M", 256, 256, "M", 512, 512, "M")


class VGGSmall(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 3, width: float = 1.0) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for item in CONFIG:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
                continue
            out = max(1, round(int(item) * width))
            layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
            channels = out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.pool(self.features(x)).flatten(1))


def vgg_small(num_classes: int = 10, in_channels: int = 3, width: float = 1.0) -> VGGSmall:
    return VGGSmall(num_classes, in_channels, width)
