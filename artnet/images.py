"""Reading, validating, resizing and writing images -- the boundary where user files become tensors.

Every user-facing path goes through :func:`load_image`, so a corrupt file, a 0-pixel image or a
decompression bomb gives one clear :class:`InputError` (CLI exit code 2, readable demo message) instead of a
traceback. Tensors are float32 RGB in [0, 1], shape ``(1, 3, H, W)``.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from prunelab.errors import InputError

#: Largest input accepted before decoding (pixels). Bigger files are refused, not silently shrunk.
MAX_INPUT_PIXELS = 80_000_000
#: Largest working resolution (long side). 4K UHD is 3840x2160.
MAX_SIDE = 4096
#: Smallest working resolution (long side); below it the 1/8-resolution features are meaningless.
MIN_SIDE = 16
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def _open(source: str | Path | bytes) -> Image.Image:
    name = "image data" if isinstance(source, bytes) else str(source)
    if not isinstance(source, bytes):
        path = Path(source)
        if not path.exists():
            raise InputError(f"{path}: no such file")
        if path.is_dir():
            raise InputError(f"{path} is a folder, expected an image file")
    try:
        image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        width, height = image.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise InputError(f"{name} is not a readable image ({type(exc).__name__})") from None
    except Image.DecompressionBombError:
        raise InputError(f"{name} is too large to decode safely") from None
    if width <= 0 or height <= 0:
        raise InputError(f"{name} has no pixels ({width}x{height})")
    if width * height > MAX_INPUT_PIXELS:
        raise InputError(f"{name} is too large ({width}x{height} = {width * height / 1e6:.0f} MP; "
                         f"limit {MAX_INPUT_PIXELS / 1e6:.0f} MP)")
    return image


def load_image(source: str | Path | bytes) -> np.ndarray:
    """Decode to an ``(H, W, 3)`` uint8 RGB array (EXIF rotation applied, alpha composited on white)."""
    image = _open(source)
    name = "image data" if isinstance(source, bytes) else str(source)
    try:
        image = ImageOps.exif_transpose(image)
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            rgba = image.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            image = Image.alpha_composite(background, rgba)
        elif image.mode in ("I;16", "I;16B", "I;16L", "I"):
            array = np.asarray(image, dtype=np.float64)
            peak = 65535.0 if array.max() > 255 else 255.0
            image = Image.fromarray(np.clip(array / peak * 255.0, 0, 255).astype(np.uint8))
        array = np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputError(f"{name} is not a readable image (truncated or corrupt: {type(exc).__name__})") from None
    if array.ndim != 3 or array.shape[0] == 0 or array.shape[1] == 0:
        raise InputError(f"{name} has no pixels")
    return np.ascontiguousarray(array)


def validate_size(size: int) -> int:
    """Check a requested long side in pixels; 0 means "keep the image's own size"."""
    if size == 0:
        return 0
    if not MIN_SIDE <= size <= MAX_SIDE:
        raise InputError(f"{{option}} {size} is out of range: use {MIN_SIDE}..{MAX_SIDE} (long side in pixels) or 0",
                         option="size")
    return size


def to_tensor(array: np.ndarray) -> Tensor:
    """``(H, W, 3)`` uint8 -> ``(1, 3, H, W)`` float32 in [0, 1]."""
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    if array.dtype != np.uint8:
        array = np.clip(array * (255.0 if array.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    return torch.from_numpy(np.array(array[:, :, :3], copy=True)).permute(2, 0, 1)[None].float().div_(255.0)


def to_uint8(image: Tensor) -> np.ndarray:
    """``(1, 3, H, W)`` or ``(3, H, W)`` float in [0, 1] -> ``(H, W, 3)`` uint8 (clamped, rounded)."""
    if image.dim() == 4:
        image = image[0]
    return image.detach().clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).cpu().numpy()


def fit_long_side(height: int, width: int, size: int) -> tuple[int, int]:
    """Output ``(h, w)`` with the long side equal to ``size`` (0: unchanged), aspect kept, sides >= 1."""
    if size == 0:
        return height, width
    scale = size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize(image: Tensor, height: int, width: int) -> Tensor:
    """Anti-aliased bilinear resize of an ``(N, C, H, W)`` tensor (no-op when the size already matches)."""
    if image.shape[-2:] == (height, width):
        return image
    return F.interpolate(image, size=(height, width), mode="bilinear", align_corners=False, antialias=True)


def check_working_size(height: int, width: int, name: str = "image") -> None:
    """Refuse a working size the network cannot take: both sides at least :data:`MIN_SIDE`, the long side at most
    :data:`MAX_SIDE` (the encoder's reflection padding fails below 16 px)."""
    if min(height, width) < MIN_SIDE:
        raise InputError(f"{name} would be {width}x{height} pixels; style transfer needs at least {MIN_SIDE} px on "
                         "each side (use a larger image, or a larger {option} for a long, thin one)", option="size")
    if max(height, width) > MAX_SIDE:
        raise InputError(f"{name} is {width}x{height}; the largest supported long side is {MAX_SIDE} "
                         "(pass {option} to scale it down)", option="size")


def load_tensor(source: str | Path | bytes, size: int = 0) -> Tensor:
    """Load an image as a ``(1, 3, H, W)`` tensor whose long side is ``size`` (0: keep, capped checks).

    Images smaller than :data:`MIN_SIDE` pixels on a side (a 1x1 file) are refused rather than blown up.
    """
    name = "image data" if isinstance(source, bytes) else str(source)
    image = to_tensor(load_image(source))
    if min(image.shape[2], image.shape[3]) < MIN_SIDE:
        raise InputError(f"{name} is only {image.shape[3]}x{image.shape[2]} pixels; style transfer needs at least "
                         f"{MIN_SIDE} px on each side")
    height, width = fit_long_side(image.shape[2], image.shape[3], validate_size(size))
    check_working_size(height, width, name)
    return resize(image, height, width)


def save_image(image: Tensor | np.ndarray, path: str | Path) -> Path:
    """Write an image atomically (temporary file + rename); format from the suffix (default PNG).

    The file follows the umask; a failed write raises :class:`~prunelab.errors.OutputError` naming ``path``.
    """
    from prunelab.io import atomic_write_with

    array = image if isinstance(image, np.ndarray) else to_uint8(image)
    path = Path(path)
    suffix = path.suffix.lower() or ".png"
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".webp": "WEBP",
           ".tif": "TIFF", ".tiff": "TIFF"}.get(suffix)
    if fmt is None:
        raise InputError(f"unsupported output format {suffix!r}: use .png, .jpg, .bmp, .webp or .tif")
    return atomic_write_with(path, lambda tmp: Image.fromarray(array).save(
        tmp, format=fmt, **({"quality": 95} if fmt == "JPEG" else {})))


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly inside ``folder`` (sorted), by suffix."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
