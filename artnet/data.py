"""Image collections for training, calibration and evaluation, and the random-crop sampler.

Two sources: ``../shared/data/style`` (7 photos, 20 paintings, video frames; development data, never
copied into the repository) and images that ship inside installed wheels (scikit-image, scikit-learn,
matplotlib), which exist on every machine. A fixed split keeps a few wheel images and the video frames
out of training so that held-out numbers (PSNR, how often pruned channels fire) mean something.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from prunelab.paths import has_shared, shared_path

from .images import list_images, load_image

#: Wheel images used for training (and zero-channel calibration).
TRAIN_WHEEL = ("astronaut", "coffee", "rocket", "hubble_deep_field", "retina", "immunohistochemistry", "brick",
               "grass", "gravel", "camera", "china", "grace_hopper")
#: Wheel images never trained on.
HELDOUT_WHEEL = ("chelsea", "flower", "colorwheel")
#: Gallery styles that exist on a fresh machine (textures and pictures from wheels).
GALLERY_WHEEL = ("brick", "gravel", "grass", "hubble_deep_field", "immunohistochemistry", "retina", "coffee",
                 "colorwheel")
#: Long side images are stored at for training (bounded memory; crops are taken from these).
TRAIN_LONG_SIDE = 768


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return getattr(skimage.data, name)()

    return load


def _sklearn(index: int) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_images

        return load_sample_images().images[index]

    return load


def _matplotlib(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import matplotlib

        return load_image(Path(matplotlib.get_data_path()) / "sample_data" / name)

    return load


_WHEEL_LOADERS: dict[str, Callable[[], np.ndarray]] = {
    **{name: _skimage(name) for name in ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "retina",
                                         "immunohistochemistry", "brick", "grass", "gravel", "camera",
                                         "colorwheel")},
    "china": _sklearn(0),
    "flower": _sklearn(1),
    "grace_hopper": _matplotlib("grace_hopper.jpg"),
}


def wheel_image(name: str) -> np.ndarray:
    """An ``(H, W, 3)`` uint8 RGB image shipped inside an installed wheel (grey images become RGB)."""
    if name not in _WHEEL_LOADERS:
        raise KeyError(f"unknown wheel image {name!r}; known: {sorted(_WHEEL_LOADERS)}")
    array = np.asarray(_WHEEL_LOADERS[name]())
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    return np.ascontiguousarray(array[:, :, :3].astype(np.uint8))


def shared_style_images(kind: str) -> list[Path]:
    """``content``/``style`` images of ``../shared/data/style`` (raises a clear error when absent)."""
    return list_images(shared_path("data", "style", kind))


def video_frames_dir() -> Path:
    """The 24 consecutive ``mountain_2`` frames used for temporal-consistency measurements."""
    return shared_path("data", "style", "video", "mountain_2")


def _shrink(array: np.ndarray, long_side: int) -> np.ndarray:
    height, width = array.shape[:2]
    if max(height, width) <= long_side:
        return array
    tensor = torch.from_numpy(array.copy()).permute(2, 0, 1)[None].float()
    scale = long_side / max(height, width)
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    tensor = F.interpolate(tensor, size=size, mode="bilinear", antialias=True, align_corners=False)
    return tensor[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy()


def training_images(use_shared: bool = True, long_side: int = TRAIN_LONG_SIDE) -> dict[str, np.ndarray]:
    """Named uint8 images for distillation, decoder training and zero-channel calibration.

    ``../shared`` content photos and paintings (when present and ``use_shared``) plus :data:`TRAIN_WHEEL`.
    """
    images: dict[str, np.ndarray] = {}
    if use_shared and has_shared("data", "style"):
        for kind in ("content", "style"):
            for path in shared_style_images(kind):
                images[f"{kind}/{path.stem}"] = _shrink(load_image(path), long_side)
    for name in TRAIN_WHEEL:
        images[f"wheel/{name}"] = _shrink(wheel_image(name), long_side)
    return images


def heldout_images(use_shared: bool = True, long_side: int = TRAIN_LONG_SIDE) -> dict[str, np.ndarray]:
    """Images never trained on: :data:`HELDOUT_WHEEL` and every 4th ``mountain_2`` video frame."""
    images = {f"wheel/{name}": _shrink(wheel_image(name), long_side) for name in HELDOUT_WHEEL}
    if use_shared and has_shared("data", "style", "video", "mountain_2"):
        for path in list_images(video_frames_dir())[::4]:
            images[f"video/{path.stem}"] = _shrink(load_image(path), long_side)
    return images


class RandomCrops:
    """Random resized square crops with flips and colour jitter, as float ``(B, 3, S, S)`` batches.

    Augmentation widens 39 images into a useful training distribution: crop side uniform in
    [``min_frac``, 1] x the short side (scale changes), horizontal flips, brightness/contrast/saturation
    jitter and occasional greyscale. Deterministic given ``seed``.
    """

    def __init__(self, images: dict[str, np.ndarray], crop: int, seed: int, min_frac: float = 0.3,
                 jitter: float = 0.25, grey_prob: float = 0.1):
        if not images:
            raise ValueError("no training images")
        self.images = [torch.from_numpy(np.array(a, copy=True)).permute(2, 0, 1).contiguous() for a in images.values()]
        self.crop, self.min_frac, self.jitter, self.grey_prob = crop, min_frac, jitter, grey_prob
        self.generator = torch.Generator().manual_seed(seed)

    def _uniform(self, low: float, high: float) -> float:
        return low + (high - low) * torch.rand((), generator=self.generator).item()

    def _one(self) -> Tensor:
        image = self.images[int(torch.randint(len(self.images), (), generator=self.generator))]
        _, height, width = image.shape
        short = min(height, width)
        side = max(8, int(short * self._uniform(self.min_frac, 1.0)))
        top = int(torch.randint(height - side + 1, (), generator=self.generator))
        left = int(torch.randint(width - side + 1, (), generator=self.generator))
        patch = image[:, top: top + side, left: left + side][None].float().div_(255.0)
        patch = F.interpolate(patch, size=(self.crop, self.crop), mode="bilinear", antialias=True,
                              align_corners=False)[0]
        if torch.rand((), generator=self.generator) < 0.5:
            patch = patch.flip(-1)
        if self.jitter > 0:
            brightness = self._uniform(1 - self.jitter, 1 + self.jitter)
            contrast = self._uniform(1 - self.jitter, 1 + self.jitter)
            saturation = self._uniform(1 - self.jitter, 1 + self.jitter)
            grey = patch.mul(torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)).sum(0, keepdim=True)
            patch = grey + (patch - grey) * saturation
            patch = (patch - patch.mean()) * contrast + patch.mean()
            patch = patch * brightness
        if torch.rand((), generator=self.generator) < self.grey_prob:
            patch = patch.mul(torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)).sum(0, keepdim=True).expand(3, -1, -1)
        return patch.clamp(0, 1)

    def batch(self, size: int) -> Tensor:
        """``size`` new crops ``(size, 3, S, S)`` in [0, 1]."""
        return torch.stack([self._one() for _ in range(size)])

    def state(self) -> Tensor:
        """The random generator's state (saved in checkpoints, so a resumed run draws the same crops)."""
        return self.generator.get_state()

    def set_state(self, state: Tensor) -> None:
        """Restore a state from :meth:`state`."""
        self.generator.set_state(state)


# -- the stylisation split: train / validation / test contents and styles ------------------------------------
#: Which ``../shared`` photos and paintings (file stems) and wheel images each part of the stylisation split holds.
#: ``test`` pairs are for the final quality figures only: no training step and no choice of a setting sees them;
#: ``validation`` pairs are where settings are chosen (checkpoint evaluations, loss weights). Wheel images in
#: ``test`` are not in :data:`TRAIN_WHEEL` either.
STYLIZATION_SPLIT: dict[str, dict[str, tuple[str, ...]]] = {
    "train": {
        "content": ("chicago", "flowers", "newyork"),
        "style": ("antimonocromatismo", "en_campo_gris", "flower_of_life", "goeritz", "impronte_d_artista",
                  "mondrian_cropped", "picasso_seated_nude_hr", "the_resevoir_at_poitiers", "trial",
                  "woman_in_peasant_dress", "woman_in_peasant_dress_cropped"),
        "wheel": TRAIN_WHEEL,
    },
    "validation": {
        "content": ("cornell", "modern"),
        "style": ("asheville", "contrast_of_forms", "scene_de_rue", "sketch"),
        "wheel": ("colorwheel",),
    },
    "test": {
        "content": ("golden_gate", "sailboat"),
        "style": ("brushstrokes", "la_muse", "mondrian", "picasso_self_portrait", "woman_with_hat_matisse"),
        "wheel": ("chelsea", "flower"),
    },
}
SPLIT_PARTS = tuple(STYLIZATION_SPLIT)


def split_images(part: str, kind: str, use_shared: bool = True,
                 long_side: int = TRAIN_LONG_SIDE) -> dict[str, np.ndarray]:
    """Named uint8 images of one part (``train``/``validation``/``test``) and kind (``content``/``style``).

    Contents are the part's ``../shared`` photos plus its wheel images; styles are its ``../shared``
    paintings (wheel textures are contents here). Missing ``../shared`` leaves only the wheel contents.
    """
    if part not in STYLIZATION_SPLIT or kind not in ("content", "style"):
        raise KeyError(f"unknown split part/kind {part!r}/{kind!r}")
    names = STYLIZATION_SPLIT[part][kind]
    images: dict[str, np.ndarray] = {}
    if use_shared and has_shared("data", "style"):
        by_stem = {path.stem: path for path in shared_style_images(kind)}
        for name in names:
            if name in by_stem:
                images[f"{kind}/{name}"] = _shrink(load_image(by_stem[name]), long_side)
    if kind == "content":
        for name in STYLIZATION_SPLIT[part]["wheel"]:
            images[f"wheel/{name}"] = _shrink(wheel_image(name), long_side)
    return images


class PairCrops:
    """Content and style crops drawn together: ``batch(n)`` is ``(2n, 3, S, S)``, contents first, then styles.

    One tensor, so the shared training loop (:func:`artnet.training.train_steps`) moves and checkpoints it like
    :class:`RandomCrops`; the two samplers keep their own seeds and states.
    """

    def __init__(self, contents: dict[str, np.ndarray], styles: dict[str, np.ndarray], crop: int, seed: int):
        self.contents = RandomCrops(contents, crop, seed=seed)
        self.styles = RandomCrops(styles, crop, seed=seed + 1, jitter=0.0, grey_prob=0.0)

    def batch(self, size: int) -> Tensor:
        """``size`` content crops followed by ``size`` style crops, ``(2 size, 3, S, S)``."""
        return torch.cat([self.contents.batch(size), self.styles.batch(size)])

    def state(self) -> Tensor:
        """Both samplers' generator states, stacked (for checkpoints)."""
        return torch.stack([self.contents.state(), self.styles.state()])

    def set_state(self, state: Tensor) -> None:
        """Restore the states from :meth:`state`."""
        self.contents.set_state(state[0].clone())
        self.styles.set_state(state[1].clone())
