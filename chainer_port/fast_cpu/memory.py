"""Keep freed memory in the process for the next allocation of the same size.

glibc's malloc gives every block over 32 MB (the paper preset's 4 x 64 x 256 x 256 float32
maps are 67 MB) its own fresh mmap and unmaps it when freed, so each new map costs a page
fault for every 4 KB page the first time it is written: measured here, a 67 MB copy took
160 ms into fresh memory against 12 ms into reused memory, and the paper preset's train step
spent ~0.6 s of ~3.6 s in page faults. TF does not pay this: its own allocator keeps what it
frees. `keep_freed_memory` tells malloc to serve every block from its heap (M_MMAP_MAX = 0)
and not to give freed heap memory back to the system (M_TRIM_THRESHOLD), process-wide, once;
the fast path calls it the first time it runs. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import functools

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_NEVER_TRIM = 1 << 30
"""Free heap memory above the top of the heap is returned to the system beyond this (1 GB)."""


@functools.cache
def keep_freed_memory() -> bool:
    """Set malloc to reuse freed memory (see the module); whether it could."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM))
