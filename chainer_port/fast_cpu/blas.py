"""NumPy's OpenBLAS: which kernels it runs, and its thread count for the fast path's GEMMs.

Kernels: NumPy 1.23.5's wheel bundles OpenBLAS 0.3.20, which picks its kernels from the CPU
model at load time and does not know recent Xeons (e.g. model 207, Emerald Rapids): it falls
back to its SSE3 "Prescott" kernels, measured ~25 GFLOP/s against ~170 GFLOP/s for its
"SkylakeX" (AVX-512) kernels on 2 cores. The only switch is the environment variable
OPENBLAS_CORETYPE (`config.ENV_CORETYPE`), read once when the library loads, so it must be set
before NumPy is imported. The port does not set it: the fast path's GEMMs run on MKL when it is
installed (`gemm`), which picks its own kernels. `twinport bench` sets it for its workers
(`cpu_coretype`) so that stock Chainer is timed on a fair BLAS, and runs one worker without it.

Threads: without MKL, the fast path runs its blocks of im2col + GEMM on a thread pool, one
single-threaded GEMM per thread (`single_threaded`), which measured ~35% faster than one
OpenBLAS GEMM split over both cores per block (the copies overlap the multiplies and a busy
core does not hold the other back).

Idle threads: after each multi-threaded call OpenBLAS's worker threads spin, waiting for the
next one, for 2^28 cycles (its THREAD_TIMEOUT, about 0.1 s), and Chainer's own functions call
NumPy's BLAS (`F.linear`, `F.matmul`) between the fast path's convolutions: on the CDNA's paper
preset that worker burnt a third of a core for nothing and oneDNN's threads ran beside it.
The fast path puts NumPy's BLAS on one thread when it first runs (`numpy_blas_on_one_thread`;
measured side by side in one process, 2 cores: the CDNA's train step 4.36 -> 3.78 s, forward
1.44 -> 1.18 s; the ConvLSTM and cross conv within noise), unless OPENBLAS_NUM_THREADS says
otherwise.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from chainer_port.fast_cpu.config import numpy_blas_threads_given

# OpenBLAS kernel set for each x86 feature level, best first; all flags must be present.
_CORETYPES = (
    ("SkylakeX", {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}),
    ("Haswell", {"avx2", "fma"}),
)


def cpu_coretype(cpuinfo: str | Path = "/proc/cpuinfo") -> str | None:
    """The OPENBLAS_CORETYPE this CPU's flags support best, or None (not x86 Linux / unknown)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return None
    flags: set[str] = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            break
    return next((name for name, needed in _CORETYPES if needed <= flags), None)


@functools.cache
def _openblas() -> ctypes.CDLL | None:
    """The OpenBLAS library NumPy loaded (found in /proc/self/maps), or None."""
    import numpy  # noqa: F401  (loads the library)

    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    paths = sorted({line.split()[-1] for line in maps.splitlines()
                    if "openblas" in line.rsplit("/", 1)[-1].lower()})
    return ctypes.CDLL(paths[0]) if paths else None


def _function(*names: str) -> Callable[..., Any] | None:
    library = _openblas()
    return next((getattr(library, name) for name in names
                 if library is not None and hasattr(library, name)), None)


def _names(function: str) -> tuple[str, ...]:
    """The symbol of OpenBLAS's `openblas_<function>` in each build NumPy ships: NumPy 2's
    scipy-openblas prefixes `scipy_` (its 64-bit-integer build suffixes `64_`), NumPy 1's
    plain OpenBLAS has no prefix."""
    return tuple(f"{prefix}openblas_{function}{suffix}"
                 for prefix in ("scipy_", "") for suffix in ("64_", ""))


def openblas_core() -> str | None:
    """The kernel set of NumPy's OpenBLAS ("SkylakeX", "Prescott"...), or None."""
    corename = _function(*_names("get_corename"))
    if corename is None:
        return None
    corename.restype = ctypes.c_char_p
    return corename().decode()


def can_set_threads() -> bool:
    """Whether `single_threaded` can set NumPy's BLAS thread count."""
    return None not in (_function(*_names("get_num_threads")),
                        _function(*_names("set_num_threads")))


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """NumPy's OpenBLAS on one thread per call inside the block (restored after); nothing
    when its thread count cannot be set (`can_set_threads`)."""
    get = _function(*_names("get_num_threads"))
    set_threads = _function(*_names("set_num_threads"))
    if get is None or set_threads is None:
        yield
        return
    before = get()
    set_threads(1)
    try:
        yield
    finally:
        set_threads(before)


@functools.cache
def numpy_blas_on_one_thread() -> bool:
    """NumPy's OpenBLAS on one thread from now on, process-wide (see the module), unless
    OPENBLAS_NUM_THREADS is set (`config.numpy_blas_threads_given`); whether it was set."""
    set_threads = _function(*_names("set_num_threads"))
    if set_threads is None or numpy_blas_threads_given():
        return False
    set_threads(1)
    return True
