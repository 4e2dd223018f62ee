"""The fast path's matrix products: Intel MKL's GEMM when the `mkl` wheel is installed.

Why not NumPy's `matmul`: NumPy 1.23.5 bundles OpenBLAS 0.3.20, whose single-precision GEMM
is slow for the convolutions' tall, narrow shapes (pixels x kh*kw*C times kh*kw*C x 32..256)
and which does not recognise recent Xeons at all (see `blas`). Measured on 2 cores,
two blocks at once (`threads.gemm_map`), shapes of the paper preset's convolutions:
OpenBLAS with its AVX-512 kernels forced 147-215 GFLOP/s, MKL 196-251 GFLOP/s; OpenBLAS with
the kernels it picks itself on this CPU ~25 GFLOP/s. MKL picks its kernels for any x86 CPU.

MKL runs in its sequential threading layer: the fast path's own pool puts one GEMM on each
core. Without the library (another platform, or TWINPORT_BLAS=numpy: `config`, read at every
call) `gemm` is NumPy's `matmul`. Either gives the same products within float rounding; MKL's are
also the same bits whatever the arrays' alignment (checked: 16 offsets), so runs repeat.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
from pathlib import Path

import numpy as np

from chainer_port.fast_cpu.config import numpy_blas_forced

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_MKL_THREADING_SEQUENTIAL = 1


def _candidates() -> list[str]:
    """libmkl_rt in this environment's lib/ (where the wheel puts it), then the system's."""
    local = sorted(str(path) for path in Path(sys.prefix, "lib").glob("libmkl_rt.so*"))
    system = ctypes.util.find_library("mkl_rt")
    return local + ([system] if system else [])


@functools.cache
def _mkl() -> ctypes.CDLL | None:
    """MKL's runtime library, set to its sequential layer, or None when not installed."""
    for path in _candidates():
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        library.MKL_Set_Threading_Layer(_MKL_THREADING_SEQUENTIAL)
        for name, scalar in (("cblas_sgemm", ctypes.c_float), ("cblas_dgemm", ctypes.c_double)):
            getattr(library, name).argtypes = (
                [ctypes.c_int] * 6 + [scalar, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                                      ctypes.c_int, scalar, ctypes.c_void_p, ctypes.c_int])
        return library
    return None


def uses_mkl() -> bool:
    """Whether `gemm` calls MKL now: installed and TWINPORT_BLAS is not "numpy"."""
    return not numpy_blas_forced() and _mkl() is not None


def _operand(x: np.ndarray) -> tuple[int, int] | None:
    """(CBLAS transpose flag, leading dimension) of a 2-D view BLAS can read in place."""
    item = x.itemsize
    rows, cols = x.shape
    row_stride, col_stride = x.strides
    if col_stride == item or cols == 1:
        lead = row_stride // item if rows > 1 else cols
        if row_stride % item == 0 and lead >= max(cols, 1):
            return _NO_TRANS, lead
    if row_stride == item or rows == 1:
        lead = col_stride // item if cols > 1 else rows
        if col_stride % item == 0 and lead >= max(rows, 1):
            return _TRANS, lead
    return None


def gemm(a: np.ndarray, b: np.ndarray, out: np.ndarray, accumulate: bool = False) -> None:
    """out = a @ b, or out += a @ b with `accumulate`; 2-D arrays of one float dtype.

    `a` and `b` may be transposed views; `out` must have contiguous rows.
    """
    library = _mkl() if uses_mkl() else None
    dtype = out.dtype
    operands = (_operand(a), _operand(b), _operand(out))
    if (library is None or a.size == 0 or b.size == 0 or dtype not in (np.float32, np.float64)
            or a.dtype != dtype or b.dtype != dtype or None in operands
            or operands[2][0] != _NO_TRANS):
        if accumulate:
            out += np.matmul(a, b)
        else:
            np.matmul(a, b, out=out)
        return
    (trans_a, lda), (trans_b, ldb), (_, ldc) = operands
    m, k = a.shape
    function = library.cblas_sgemm if dtype == np.float32 else library.cblas_dgemm
    function(_ROW_MAJOR, trans_a, trans_b, m, b.shape[1], k, 1.0, a.ctypes.data, lda,
             b.ctypes.data, ldb, 1.0 if accumulate else 0.0, out.ctypes.data, ldc)
