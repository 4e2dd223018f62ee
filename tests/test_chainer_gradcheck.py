"""The shims' backward passes against numerical gradients (chainer.gradient_check, float64)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from chainer_port.tf_compat import (
    batched_cross_conv,
    conv2d_transpose_same,
    tf1_bilinear_resize,
    tf_conv2d,
    tf_max_pool,
)

with warnings.catch_warnings():
    # gradient_check imports chainer.testing, which applies its own unregistered `gpu` mark.
    warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
    from chainer import gradient_check

TOL = dict(atol=1e-5, rtol=1e-4)


def _normal(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def _check(func, inputs: tuple[np.ndarray, ...], out_shape: tuple[int, ...], **tol) -> None:
    gradient_check.check_backward(func, inputs, _normal(out_shape, 99), dtype=np.float64,
                                  **(tol or TOL))


@pytest.mark.parametrize("in_size, out_size", [(6, 4), (5, 8), (7, 7)])
def test_bilinear_resize_backward(in_size, out_size):
    _check(lambda x: tf1_bilinear_resize(x, out_size), (_normal((2, 3, in_size, in_size), 0),),
           (2, 3, out_size, out_size))


@pytest.mark.parametrize("kernel", [3, 4])
def test_batched_cross_conv_backward(kernel):
    features, kernels = _normal((2, 3, 6, 6), 1), _normal((2, 3, kernel, kernel), 2)
    _check(batched_cross_conv, (features, kernels), (2, 3, 6, 6))


@pytest.mark.parametrize("size, stride", [(4, 1), (4, 2), (3, 4)])
def test_conv2d_transpose_same_backward(size, stride):
    x, w = _normal((2, 3, size, size), 3), _normal((3, 2, 3, 3), 4)
    out = size * stride
    _check(lambda x, w: conv2d_transpose_same(x, w, stride, out), (x, w), (2, 2, out, out))


@pytest.mark.parametrize("size, kernel, stride, padding", [
    (7, 3, 1, "SAME"), (7, 4, 1, "SAME"), (8, 3, 2, "SAME"), (8, 3, 1, "VALID"),
])
def test_conv2d_backward(size, kernel, stride, padding):
    x, w = _normal((2, 3, size, size), 5), _normal((4, 3, kernel, kernel), 6)
    out = -(-size // stride) if padding == "SAME" else (size - kernel) // stride + 1
    _check(lambda x, w: tf_conv2d(x, w, padding, stride), (x, w), (2, 4, out, out))


@pytest.mark.parametrize("size, kernel, padding, out", [
    (8, 5, "SAME", 4), (9, 5, "SAME", 5), (9, 2, "SAME", 5), (9, 2, "VALID", 4),
])
def test_max_pool_backward(size, kernel, padding, out):
    # Distinct, well separated values: the numerical gradient must not cross a tie.
    x = np.random.default_rng(7).permutation(2 * 3 * size * size).reshape(2, 3, size, size)
    _check(lambda x: tf_max_pool(x, kernel, 2, padding), (x.astype(np.float64),),
           (2, 3, out, out), eps=1e-3, atol=1e-4, rtol=1e-4)
