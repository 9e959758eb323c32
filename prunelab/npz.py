"""Check an ``.npz`` archive from its headers before any array is loaded.

``numpy.load`` allocates what a member's ``.npy`` header declares, so a 1 KB file that declares a
``(100000, 3, 100000, 18)`` array ends in ``MemoryError`` (or the machine swapping). :func:`check_npz` reads
only the zip directory and each header, and refuses, as one-line :class:`InputError`\\ s: a file that is no zip,
members with Python objects (they would need pickle), declared sizes above a limit, and declared sizes that
disagree with the bytes the member holds (a tampered or truncated header).
"""

from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path

import numpy as np

from prunelab.errors import InputError, clean_message

MAX_MEMBERS = 256


def _size(nbytes: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1024 or unit == "PiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes} B"  # pragma: no cover


def _read_header(handle, version: tuple[int, int]) -> tuple[tuple[int, ...], bool, np.dtype]:
    fmt = np.lib.format
    if version == (1, 0):
        return fmt.read_array_header_1_0(handle)
    if version == (2, 0):
        return fmt.read_array_header_2_0(handle)
    return fmt._read_array_header(handle, version)  # 3.0 (utf-8 field names); no public reader


def check_npz(path: str | Path, max_bytes: int) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Shapes and dtypes of the arrays in ``path`` (by member name without ``.npy``), after the checks above."""
    p = Path(path)
    try:
        archive = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise InputError(f"{p}: not a readable .npz file ({clean_message(str(exc), 120) or type(exc).__name__})") \
            from None
    found: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    total = 0
    with archive:
        members = [info for info in archive.infolist() if info.filename.endswith(".npy")]
        if len(archive.infolist()) > MAX_MEMBERS:
            raise InputError(f"{p}: {len(archive.infolist())} members in the archive (at most {MAX_MEMBERS})")
        for info in members:
            name = info.filename[: -len(".npy")]
            try:
                with archive.open(info) as handle:
                    version = np.lib.format.read_magic(handle)
                    shape, _, dtype = _read_header(handle, version)
                    header_bytes = handle.tell()
            except (ValueError, EOFError, OSError, zipfile.BadZipFile, zlib.error, NotImplementedError) as exc:
                raise InputError(f"{p}: not a readable .npz file (array '{name}' has a corrupt header: "
                                 f"{clean_message(str(exc), 120) or type(exc).__name__})") from None
            if dtype.hasobject:
                raise InputError(f"{p}: not a readable .npz file (array '{name}' holds Python objects, which would "
                                 "need pickle; they are never loaded)")
            nbytes = math.prod(shape) * dtype.itemsize
            total += nbytes
            if nbytes > max_bytes or total > max_bytes:
                raise InputError(f"{p}: array '{name}' declares shape {tuple(shape)} of {dtype} "
                                 f"({_size(nbytes)}); this tool reads at most {_size(max_bytes)}")
            if info.file_size != header_bytes + nbytes:
                raise InputError(f"{p}: array '{name}' declares shape {tuple(shape)} of {dtype} ({_size(nbytes)}) "
                                 f"but holds {_size(max(0, info.file_size - header_bytes))} of data "
                                 "(tampered or truncated file)")
            found[name] = (tuple(shape), dtype)
    return found
