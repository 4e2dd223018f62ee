"""Both cores for the fast path's NumPy work that BLAS does not parallelise.

NumPy's copies and ufuncs release the GIL on large arrays but run on one core; BLAS GEMMs
already use all of them. Pooling, BatchNorm and the im2col copies are split into blocks that
run on a small thread pool. `parallel_map` keeps the input order, so every reduction is
combined in the same order as a sequential run: results do not depend on the thread count.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

WORKERS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
_pool: tuple[int, ThreadPoolExecutor] | None = None  # (the pid that made it, the pool)


def parallel_map(function: Callable[[Item], Result], items: Iterable[Item]) -> list[Result]:
    """[function(item) for item in items], run on WORKERS threads when there is more than one.

    The pool is remade in a forked child, where the parent's threads do not exist.
    """
    items = list(items)
    if WORKERS < 2 or len(items) < 2:
        return [function(item) for item in items]
    global _pool
    if _pool is None or _pool[0] != os.getpid():
        _pool = os.getpid(), ThreadPoolExecutor(WORKERS, thread_name_prefix="twinport-fast-cpu")
    return list(_pool[1].map(function, items))


def split(length: int) -> list[slice]:
    """range(length) in at most WORKERS contiguous, non-empty, near-equal slices."""
    parts = max(min(WORKERS, length), 1)
    bounds = [length * k // parts for k in range(parts + 1)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
