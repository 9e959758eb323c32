"""Calibration data for the CLI: a folder of images, optionally one sub-folder per class (labels).

``DIR/*.png`` gives unlabelled batches (enough for ``zero``); ``DIR/<class>/*.png`` gives labels numbered
by sorted class-folder name, which ``taylor`` needs for its loss. Images are resized to the model's input
size, scaled to [0, 1] and optionally normalised with the ImageNet mean/std.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from prunelab.errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
NORMALIZATIONS = ("none", "imagenet")


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def find_images(folder: Path) -> tuple[list[Path], list[int] | None]:
    """Image files of ``folder`` and, when they are all sorted into class sub-folders, their class indices."""
    if not folder.is_dir():
        raise InputError(f"calibration folder {folder} does not exist or is not a folder")
    top = _images_in(folder)
    classes = sorted(d for d in folder.iterdir() if d.is_dir() and _images_in(d))
    if classes and not top:
        files, labels = [], []
        for index, class_dir in enumerate(classes):
            images = _images_in(class_dir)
            files += images
            labels += [index] * len(images)
        return files, labels
    if not top:
        raise InputError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return top, None


def load_image(path: Path, size: tuple[int, int, int]) -> torch.Tensor:
    """One image as a (C, H, W) float tensor in [0, 1], resized to ``size`` = (C, H, W)."""
    from PIL import Image, UnidentifiedImageError

    channels, height, width = size
    if channels not in (1, 3):
        raise InputError(f"calibration images give 1 or 3 channels; the model takes {channels}")
    try:
        with Image.open(path) as image:
            image = image.convert("L" if channels == 1 else "RGB").resize((width, height), Image.BILINEAR)
            array = np.asarray(image, dtype=np.float32) / 255.0
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise InputError(f"cannot read image {path}: {exc}") from None
    tensor = torch.from_numpy(array)
    return tensor.unsqueeze(0) if channels == 1 else tensor.permute(2, 0, 1)


def load_image_folder(folder: str | Path, size: tuple[int, ...], limit: int = 64, batch_size: int = 16,
                      normalize: str = "none", seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """Batches ``(images, labels or None)`` from ``folder``: at most ``limit`` images, a seeded random choice."""
    if normalize not in NORMALIZATIONS:
        raise InputError(f"unknown normalisation {normalize!r}; choose from {', '.join(NORMALIZATIONS)}")
    if limit < 1 or batch_size < 1:
        raise InputError("calibration limit and batch size must be >= 1")
    if len(size) != 3:
        raise InputError(f"calibration images need a (C, H, W) input size, got {size}")
    files, labels = find_images(Path(folder))
    if len(files) > limit:
        chosen = sorted(np.random.default_rng(seed).choice(len(files), size=limit, replace=False).tolist())
        files = [files[i] for i in chosen]
        labels = [labels[i] for i in chosen] if labels is not None else None
    images = torch.stack([load_image(p, tuple(size)) for p in files])
    if normalize == "imagenet":
        if size[0] != 3:
            raise InputError("ImageNet normalisation needs 3-channel input")
        images = (images - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    targets = torch.tensor(labels, dtype=torch.long) if labels is not None else None
    return [(images[i:i + batch_size], targets[i:i + batch_size] if targets is not None else None)
            for i in range(0, len(images), batch_size)]
