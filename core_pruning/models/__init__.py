"""Small CIFAR-style reference networks for benchmarks and tests, and a name-based model factory.

``build_model("resnet20", num_classes=10, in_channels=1)`` builds ours; ``"torchvision:resnet18"``
builds a torchvision architecture (random weights; pretrained weights need internet).
"""

from __future__ import annotations

from collections.abc import Callable

import torchvision
from torch import nn

from core_pruning.models.cifar_resnet import CifarResNet, resnet20, resnet32, resnet56
from core_pruning.models.vgg_small import VGGSmall, vgg_small
from prunelab.errors import InputError

MODELS: dict[str, Callable[..., nn.Module]] = {
    "resnet20": resnet20,
    "resnet32": resnet32,
    "resnet56": resnet56,
    "vgg_small": vgg_small,
}

TORCHVISION_MODELS = ("vgg16_bn", "resnet18", "resnet50", "densenet121", "googlenet", "mobilenet_v2")


def build_model(name: str, num_classes: int = 10, in_channels: int = 3, width: float = 1.0) -> nn.Module:
    """Build a model by name: one of :data:`MODELS`, or ``torchvision:<architecture>``."""
    if name.startswith("torchvision:"):
        arch = name.split(":", 1)[1]
        if arch not in torchvision.models.list_models(module=torchvision.models):
            raise InputError(f"unknown torchvision model {arch!r}")
        kwargs = {"aux_logits": False, "init_weights": True} if arch in ("googlenet", "inception_v3") else {}
        return torchvision.models.get_model(arch, weights=None, num_classes=num_classes, **kwargs)
    if name not in MODELS:
        choices = ", ".join([*MODELS, *(f"torchvision:{m}" for m in TORCHVISION_MODELS)])
        raise InputError(f"unknown model {name!r}; choose from {choices}")
    return MODELS[name](num_classes=num_classes, in_channels=in_channels, width=width)


__all__ = ["MODELS", "CifarResNet", "VGGSmall", "build_model", "resnet20", "resnet32", "resnet56", "vgg_small"]
