"""Every environment switch of the CPU fast path, each read by one function here.

The fast path's own switches are read at EVERY call, so one process can compare the paths
(the parity harness, the benchmark and the tests set them with monkeypatch); the BLAS thread
limit is read once, when `threads` is imported; OPENBLAS_CORETYPE is read by OpenBLAS itself
when NumPy loads, and only named here; OMP_WAIT_POLICY is read by libgomp when oneDNN loads,
defaulted here to PASSIVE; OPENBLAS_NUM_THREADS, when set, keeps NumPy's BLAS threads as the user
asked (`numpy_blas_threads_given`).
"""

from __future__ import annotations

import os

ENV_FAST_CPU = "TWINPORT_FAST_CPU"
ENV_CONV = "TWINPORT_CONV"
ENV_BLAS = "TWINPORT_BLAS"
ENV_CORETYPE = "OPENBLAS_CORETYPE"
ENV_OPENBLAS_THREADS = "OPENBLAS_NUM_THREADS"
ENV_THREAD_LIMITS = (ENV_OPENBLAS_THREADS, "OMP_NUM_THREADS")
ENV_OMP_WAIT = "OMP_WAIT_POLICY"


def fast_path_enabled() -> bool:
    """TWINPORT_FAST_CPU: "0" runs Chainer's own functions; anything else, or unset (the
    default), the fast path."""
    return os.environ.get(ENV_FAST_CPU, "1").strip() != "0"


def im2col_forced() -> bool:
    """TWINPORT_CONV: "im2col" (any case) runs the convolutions on the im2col kernels, and the
    softmax and the layout copies on NumPy: no oneDNN at all; anything else, or unset (the
    default), on oneDNN where it is installed."""
    return os.environ.get(ENV_CONV, "").strip().lower() == "im2col"


def numpy_blas_forced() -> bool:
    """TWINPORT_BLAS: "numpy" (any case) runs the GEMMs on NumPy's `matmul`; anything else, or
    unset (the default), on MKL where it is installed."""
    return os.environ.get(ENV_BLAS, "").strip().lower() == "numpy"


def blas_thread_limit() -> int | None:
    """OPENBLAS_NUM_THREADS, else OMP_NUM_THREADS: the first that is a positive integer (the
    threads NumPy's BLAS would use); None (the default: one thread per core) when neither is."""
    limits = [int(value) for value in (os.environ.get(name, "").strip()
                                       for name in ENV_THREAD_LIMITS)
              if value.isdigit() and int(value) > 0]
    return limits[0] if limits else None


def openblas_coretype() -> str | None:
    """OPENBLAS_CORETYPE: the kernel set NumPy's OpenBLAS is told to use ("SkylakeX", "Haswell",
    ...), read by OpenBLAS itself when NumPy loads (the port never sets it; `twinport bench` sets
    it for its workers); None when unset (the default: OpenBLAS picks from the CPU model)."""
    return os.environ.get(ENV_CORETYPE)


def sleeping_openmp_threads() -> str:
    """OMP_WAIT_POLICY: PASSIVE unless the environment sets it (then as set): oneDNN's OpenMP
    threads (libgomp) sleep between convolutions instead of spinning for the next one. Read by
    libgomp once, when it loads, so `dnnl` calls this before loading oneDNN. Spinning threads
    take cores the rest of the step needs on a machine shared with other work: the VPN's
    train step at micro_t2 beside two busy processes went from 2.24x TF's time to 1.70x, and
    quiet it stays as it was (1.58x, 1.62x; docs/performance.md). Returns the policy."""
    return os.environ.setdefault(ENV_OMP_WAIT, "PASSIVE")


def numpy_blas_threads_given() -> bool:
    """Whether OPENBLAS_NUM_THREADS is set: then the fast path leaves NumPy's BLAS thread count
    as it is; else it puts NumPy's BLAS on one thread when it first runs
    (`blas.numpy_blas_on_one_thread`)."""
    return bool(os.environ.get(ENV_OPENBLAS_THREADS, "").strip())
