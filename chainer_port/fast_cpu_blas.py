"""Which BLAS kernels NumPy runs: the fast path's GEMMs are only as fast as these.

NumPy 1.23.5's wheel bundles OpenBLAS 0.3.20, which picks its kernels from the CPU model at
load time and does not know recent Xeons (e.g. model 207, Emerald Rapids): it falls back to
its SSE3 "Prescott" kernels, measured ~25 GFLOP/s against ~170 GFLOP/s for its "SkylakeX"
(AVX-512) kernels on 2 cores. The only switch is the environment variable OPENBLAS_CORETYPE,
read once when the library loads, so it must be set before NumPy is imported: in the shell,
or in the environment of a subprocess (`twinport bench` does that, see `cpu_coretype`).
"""

from __future__ import annotations

import ctypes
from pathlib import Path

ENV_CORETYPE = "OPENBLAS_CORETYPE"

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


def openblas_core() -> str | None:
    """The kernel set of the OpenBLAS loaded in this process ("SkylakeX", "Prescott"...).

    Found through /proc/self/maps (NumPy must be imported first); None when no OpenBLAS is
    loaded or it has no `openblas_get_corename`.
    """
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    paths = {line.split()[-1] for line in maps.splitlines()
             if "openblas" in line.rsplit("/", 1)[-1].lower()}
    for path in sorted(paths):
        library = ctypes.CDLL(path)
        for symbol in ("openblas_get_corename64_", "openblas_get_corename"):
            function = getattr(library, symbol, None)
            if function is not None:
                function.restype = ctypes.c_char_p
                return function().decode()
    return None
