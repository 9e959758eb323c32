"""Opt-in process memory setting for fast CPU inference, and an allocated-memory probe for the benchmarks.

Why: glibc's ``malloc`` hands large freed blocks back to the kernel (``mmap``/trim thresholds), so every layer,
tile or call that needs them again pays a page fault per fresh 4 kB page; at high resolution these faults were a
large share of the CPU time. :func:`retain_freed_memory` keeps freed memory in the heap instead (``mallopt``),
the same trade as PyTorch's CUDA caching allocator: the process keeps the memory of its largest call, which
tiling bounds. It is process-wide, so nothing in the library calls it: the ``python -m artnet`` commands and the
demo opt in, and so may any application that mainly runs ArtNet on the CPU. glibc only; elsewhere it does
nothing. Measurements: ``docs/notes/artnet.md`` (artnet.runtime).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
from functools import cache

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


@cache
def _libc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def retain_freed_memory() -> bool:
    """Keep freed memory in this process's heap (glibc); True when the setting took effect.

    Process-wide and idempotent; opt-in: call it once in a process that stylises on the CPU (the artnet commands
    and the demo do). It switches off returning freed blocks to the kernel (mmap threshold at the largest value
    glibc accepts, trimming off), so later allocations reuse pages that are already mapped.
    """
    libc = _libc()
    if libc is None or not hasattr(libc, "mallopt"):
        return False
    # mmap threshold at the largest value glibc accepts (larger blocks are still mmapped), trimming off
    mmap_ok = libc.mallopt(_M_MMAP_THRESHOLD, 1 << 30) == 1 or libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20) == 1
    trim_ok = libc.mallopt(_M_TRIM_THRESHOLD, (1 << 31) - 1) == 1
    return bool(mmap_ok and trim_ok)


def allocated_bytes() -> int | None:
    """Bytes currently allocated through ``malloc`` (heap in use + mmapped blocks), or None off glibc.

    With freed memory retained, the resident set no longer falls after a call, so the benchmarks sample
    this instead to report the peak memory a call needs.
    """
    libc = _libc()
    if libc is None or not hasattr(libc, "mallinfo2"):
        return None
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return int(info.uordblks + info.hblkhd)
