"""Both cores for the fast path: blocks of work on a small thread pool.

NumPy's copies, ufuncs and BLAS calls release the GIL but its copies and ufuncs run on one
core. Pooling, BatchNorm and the convolutions' column blocks are split into blocks that run on
a pool of one thread per core (`gemm_map` for blocks that multiply). Both maps return results
in the input order and callers combine partial sums in that order over a fixed partition, so
results do not depend on the thread count or on which thread ran what.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from chainer_port.fast_cpu.blas import can_set_threads, single_threaded
from chainer_port.fast_cpu.config import blas_thread_limit
from chainer_port.fast_cpu.gemm import uses_mkl

Item = TypeVar("Item")
Result = TypeVar("Result")


def _workers() -> int:
    """One thread per usable core, or fewer if OPENBLAS_NUM_THREADS / OMP_NUM_THREADS say so
    (`config.blas_thread_limit`, read here, at import)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    limit = blas_thread_limit()
    return min(cores, limit) if limit else cores


WORKERS = _workers()
_PREFIX = "twinport-fast-cpu"
_pool: tuple[int, ThreadPoolExecutor] | None = None  # (the pid that made it, the pool)


def parallel_map(function: Callable[[Item], Result], items: Iterable[Item]) -> list[Result]:
    """[function(item) for item in items], run on WORKERS threads when there is more than one.

    In order when called from a pool thread (a nested map would wait for threads that are
    all waiting). The pool is remade in a forked child, where the parent's threads do not
    exist.
    """
    items = list(items)
    if WORKERS < 2 or len(items) < 2 or threading.current_thread().name.startswith(_PREFIX):
        return [function(item) for item in items]
    global _pool
    if _pool is None or _pool[0] != os.getpid():
        _pool = os.getpid(), ThreadPoolExecutor(WORKERS, thread_name_prefix=_PREFIX)
    return list(_pool[1].map(function, items))


def row_blocks(rows: int, step: int) -> list[slice]:
    """Consecutive slices of `step` rows (at least one) covering `rows`: the blocks the maps
    here run."""
    step = max(1, step)
    return [slice(start, min(start + step, rows)) for start in range(0, rows, step)]


def worker_blocks(rows: int) -> list[slice]:
    """`rows` in two blocks per worker thread (elementwise work: a block each and one to even
    out the threads' speeds)."""
    return row_blocks(rows, -(-rows // (2 * WORKERS)))


def gemm_map(function: Callable[[Item], Result], items: Iterable[Item]) -> list[Result]:
    """`parallel_map` for work that multiplies (`gemm.gemm`): one single-threaded
    GEMM per thread, when MKL does the GEMMs (always sequential) or NumPy's OpenBLAS thread
    count can be set (see `blas`); else in order, each GEMM on all of BLAS's own
    threads."""
    items = list(items)
    if WORKERS < 2 or len(items) < 2 or not (uses_mkl() or can_set_threads()):
        return [function(item) for item in items]
    with single_threaded():
        return parallel_map(function, items)
