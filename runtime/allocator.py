"""glibc malloc kept from returning the lean path's large temporaries to the kernel.

A force evaluation allocates and frees tensors of several MiB (im2col columns, stencil
outputs, their gradients). With glibc's defaults each such block is mmap'ed or trimmed off
the heap when freed, and the next call faults every page back in: at 100×100 in float32 one
call spent ~25 % of its time there (docs/performance.md). `keep_freed_memory()` sets
M_MMAP_THRESHOLD to glibc's maximum (32 MiB) and M_TRIM_THRESHOLD high, so freed blocks are
reused; the process keeps its peak footprint. No-op where there is no glibc.
"""

from __future__ import annotations

import ctypes

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 * 2**20  # glibc's largest (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit)
TRIM_THRESHOLD = 2**30


def keep_freed_memory() -> bool:
    """Tune glibc malloc as above; True if it took (glibc present), else False."""
    try:  # the symbols already loaded into the process: glibc's on Linux
        mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    except OSError:
        return False
    if mallopt is None:
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
        bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
