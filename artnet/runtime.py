"""Process-level memory settings for fast CPU inference, and an allocated-memory probe for the benchmarks.

Finding (profiling the shipped pipeline on the project's 2-core VM, 2026-12-01): glibc's ``malloc`` serves
blocks above its mmap threshold (128 kB, rising with use to at most 32 MB) from fresh ``mmap`` regions and
returns them to the kernel on ``free``, and it trims the top of its heap once more than twice that
threshold is free. Every later first touch of such memory is a page fault in which the kernel zeroes a
4 kB page -- measured here at ~2 us of thread CPU time per fault (allocating and filling a 64 MB tensor:
46 ms; filling it again: 11 ms). One single-thread stylisation with tiles of 1024 px took about 1 000
page faults at 512x512, 53 000 at 1024x1024 and 320 000 at 2048x2048 -- the main reason why 1024x1024 cost
6.4x the 512x512 time instead of 4x. :func:`retain_freed_memory` switches the mmap and trim thresholds off
(``mallopt``) so that freed blocks stay in the heap and the next layer, tile or call reuses pages that are
already mapped: 0, 0 and 4 500 faults at the three sizes, and thread CPU time 1.06-1.30 s -> 0.78-0.81 s
at 1024x1024 and 4.9-5.3 s -> 4.1-4.4 s at 2048x2048 (one thread, two calls each, on a machine busy with
other jobs; a script under ``runs/``, not kept). The process then keeps the memory of its largest call,
which tiling bounds, rather than handing it back between calls -- the same trade as PyTorch's CUDA
caching allocator. glibc only; elsewhere it does nothing.
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


@cache
def retain_freed_memory() -> bool:
    """Keep freed memory in this process's heap (glibc); True when the setting took effect.

    Idempotent and process-wide. :class:`artnet.ArtNet` calls it when it runs on the CPU.
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
