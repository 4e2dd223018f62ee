"""`fast_cpu.gemm.gemm`: MKL's GEMM (installed by the Makefile on x86-64) against np.matmul,
for the operand layouts the fast path passes, and its fallback to NumPy."""

from __future__ import annotations

import platform

import numpy as np
import pytest

from chainer_port.fast_cpu import config, kernels
from chainer_port.fast_cpu.gemm import gemm, uses_mkl


def _normal(shape: tuple[int, ...], seed: int, dtype) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the mkl wheel is x86-64 only")
def test_the_fast_path_uses_mkl_where_the_makefile_installs_it():
    assert uses_mkl()


def test_twinport_blas_numpy_switches_mkl_off(monkeypatch):
    monkeypatch.setenv(config.ENV_BLAS, "numpy")
    assert not uses_mkl()


@pytest.mark.parametrize("blas", ["mkl", "numpy"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["plain", "a transposed", "b transposed", "strided rows",
                                    "unblasable a", "one row"])
@pytest.mark.parametrize("accumulate", [False, True])
def test_gemm_equals_matmul(monkeypatch, blas, dtype, layout, accumulate):
    monkeypatch.setenv(config.ENV_BLAS, blas)
    m, k, n = (1 if layout == "one row" else 37), 19, 23
    a, b = _normal((m, k), 1, dtype), _normal((k, n), 2, dtype)
    if layout == "a transposed":
        a = np.ascontiguousarray(a.T).T
    elif layout == "b transposed":
        b = np.ascontiguousarray(b.T).T
    elif layout == "strided rows":
        a = _normal((m, k + 5), 3, dtype)[:, :k]
    elif layout == "unblasable a":
        a = _normal((m, 2 * k), 4, dtype)[:, ::2]
    start = _normal((m + 3, n), 5, dtype)
    out = start.copy()[:m]
    gemm(a, b, out, accumulate=accumulate)
    want = a.astype(np.float64) @ b.astype(np.float64) + (start[:m] if accumulate else 0)
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, want, rtol=tolerance, atol=tolerance)


def test_convolutions_agree_between_mkl_and_numpy(monkeypatch):
    """The whole conv family (forward, transpose, filter gradient) on both BLASes."""
    xp = _normal((2, 12, 13, 6), 6, np.float32)
    hwio = _normal((5, 5, 6, 4), 7, np.float32)
    gy = _normal((2, 8, 9, 4), 8, np.float32)

    def run():
        return (kernels.conv(xp, hwio, 1),
                kernels.conv_transpose(gy, hwio, 1, ((0, 0), (0, 0)), (12, 13)),
                kernels.conv_transpose(gy, hwio, 2, ((2, 2), (2, 2)), (15, 17)),
                kernels.conv_filter_grad(xp, gy, 5, 5, 1))

    fast = run()
    monkeypatch.setenv(config.ENV_BLAS, "numpy")
    for got, want in zip(fast, run(), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
