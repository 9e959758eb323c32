"""artnet.images: every odd file becomes a clear InputError, good files become the right tensors."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from artnet.images import (
    fit_long_side,
    load_image,
    load_tensor,
    save_image,
    to_tensor,
    to_uint8,
    validate_size,
)
from prunelab.errors import InputError


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width x height`` (no real pixel data): decodes lazily, so size checks
    must happen before decoding."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def _encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def test_missing_folder_and_corrupt_files_are_clear(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(InputError, match="is a folder"):
        load_image(tmp_path)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"definitely not a jpeg")
    with pytest.raises(InputError, match="not a readable image"):
        load_image(bad)
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(_encode(Image.new("RGB", (64, 64), "red"))[:80])
    with pytest.raises(InputError, match="not a readable image"):
        load_image(truncated)


def test_huge_image_is_refused_before_decoding():
    with pytest.raises(InputError, match="too large"):
        load_image(_png_header(30000, 30000))


def test_zero_pixel_image_is_refused():
    with pytest.raises(InputError):
        load_image(_png_header(0, 10))


def test_modes_become_rgb():
    grey = load_image(_encode(Image.new("L", (5, 4), 128)))
    assert grey.shape == (4, 5, 3) and (grey == 128).all()
    rgba = load_image(_encode(Image.new("RGBA", (3, 3), (255, 0, 0, 0))))
    assert (rgba == 255).all()  # fully transparent red on white background -> white
    deep = load_image(_encode(Image.fromarray(np.full((2, 2), 65535, dtype=np.uint16))))
    assert (deep == 255).all()


def test_sizes_are_validated():
    assert validate_size(0) == 0 and validate_size(4096) == 4096
    for bad in (-1, 8, 5000, 10**9):
        with pytest.raises(InputError, match="out of range"):
            validate_size(bad)
    assert fit_long_side(300, 600, 100) == (50, 100)
    assert fit_long_side(300, 600, 0) == (300, 600)


def test_load_tensor_resizes_long_side(tmp_path):
    path = tmp_path / "x.png"
    Image.new("RGB", (200, 100), (10, 20, 30)).save(path)
    tensor = load_tensor(path, 50)
    assert tensor.shape == (1, 3, 25, 50)
    assert torch.allclose(tensor[0, :, 10, 10], torch.tensor([10, 20, 30]) / 255, atol=1e-3)


def test_round_trip_and_atomic_save(tmp_path):
    array = (np.arange(4 * 6 * 3) % 256).astype(np.uint8).reshape(4, 6, 3)
    assert np.array_equal(to_uint8(to_tensor(array)), array)
    path = save_image(to_tensor(array), tmp_path / "out.png")
    assert np.array_equal(load_image(path), array)
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]  # no temporary left behind
    with pytest.raises(InputError, match="unsupported output format"):
        save_image(array, tmp_path / "out.xyz")
