"""The fast path's convolutions on oneDNN (`fast_cpu.dnnl`, installed by the Makefile on x86-64
Linux) against the im2col kernels and against Chainer, and the fallbacks to im2col."""

from __future__ import annotations

import platform
import sys

import chainer
import chainer.functions as F
import numpy as np
import pytest
from chainer import gradient_check

from chainer_port import fast_cpu
from chainer_port.fast_cpu import config, dnnl
from chainer_port.fast_cpu import conv as convolutions
from chainer_port.fast_cpu.memory import keep_freed_memory

needs_onednn = pytest.mark.skipif(not dnnl.available(), reason="oneDNN not installed")


def _normal(shape: tuple[int, ...], seed: int, dtype=np.float32) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.skipif(platform.machine() != "x86_64" or sys.platform != "linux",
                    reason="the onednn-cpu-gomp wheel is x86-64 Linux only")
def test_the_fast_path_uses_onednn_where_the_makefile_installs_it():
    assert dnnl.available()


def test_twinport_conv_im2col_switches_onednn_off(monkeypatch):
    monkeypatch.setenv(config.ENV_CONV, "im2col")
    x, hwio = _normal((1, 6, 6, 2), 1), _normal((3, 3, 2, 4), 2)
    assert not dnnl.available()
    assert dnnl.conv(x, hwio, 1, ((1, 1), (1, 1))) is None


@needs_onednn
@pytest.mark.parametrize("why, dtype, pads", [
    ("float64", np.float64, ((1, 1), (1, 1))),
    ("a negative pad crops", np.float32, ((-1, 1), (1, 1))),
])
def test_onednn_declines_what_it_does_not_take(why, dtype, pads):
    x, hwio = _normal((1, 6, 6, 2), 1, dtype), _normal((3, 3, 2, 4), 2, dtype)
    gy = _normal((1, 6, 6, 4), 3, dtype)
    assert dnnl.conv(x, hwio, 1, pads) is None
    assert dnnl.conv_transpose(gy, hwio, 1, pads, (6, 6)) is None
    assert dnnl.conv_filter_grad(x, gy, (3, 3), 1, pads) is None


@needs_onednn
def test_flipped_weights_fall_back_to_im2col_with_the_same_result():
    """A flipped view (negative strides, as `F.flip` of the kernel gives) is declined by oneDNN
    and computed by the im2col kernels."""
    x, hwio = _normal((2, 7, 7, 3), 1), _normal((3, 3, 3, 4), 2)
    flipped = hwio[::-1, ::-1]
    pads = ((1, 1), (1, 1))
    assert dnnl.conv(x, flipped, 1, pads) is None
    np.testing.assert_allclose(convolutions.conv(x, flipped, 1, pads),
                               convolutions.conv(x, np.ascontiguousarray(flipped), 1, pads),
                               rtol=1e-5, atol=1e-5)


@needs_onednn
@pytest.mark.parametrize("n, size, c, o, k, stride, pads", [
    (2, 9, 3, 8, 5, 1, ((2, 2), (2, 2))),      # SAME odd kernel
    (2, 12, 5, 7, 4, 1, ((1, 2), (1, 2))),     # SAME even kernel: TF's extra pixel at the end
    (3, 17, 6, 4, 9, 1, ((4, 4), (4, 4))),     # the decoder's 9x9
    (2, 11, 3, 5, 3, 2, ((0, 1), (1, 1))),     # stride 2, asymmetric
    (2, 8, 16, 16, 1, 1, ((0, 0), (0, 0))),    # 1x1
    (2, 13, 4, 6, 5, 1, ((0, 0), (0, 0))),     # VALID
])
def test_onednn_matches_the_im2col_kernels(monkeypatch, n, size, c, o, k, stride, pads):
    """Forward (with a bias), input gradient, weight and bias gradients, HWIO weights as the
    nodes pass them (a transposed view of Chainer's (out, in, kh, kw))."""
    x = _normal((n, size, size, c), 4)
    hwio = _normal((o, c, k, k), 5).transpose(2, 3, 1, 0)
    bias = _normal((o,), 10)
    y = convolutions.conv(x, hwio, stride, pads)
    gy = _normal(y.shape, 6)

    def run():
        return (convolutions.conv(x, hwio, stride, pads, bias),
                convolutions.conv_transpose(gy, hwio, stride, pads, (size, size)),
                *convolutions.conv_filter_grad(x, gy, k, k, stride, pads, bias=True))

    on_onednn = run()
    assert dnnl.conv(x, hwio, stride, pads, bias) is not None
    assert dnnl.conv_transpose(gy, hwio, stride, pads, (size, size)) is not None
    assert dnnl.conv_filter_grad(x, gy, (k, k), stride, pads) is not None
    monkeypatch.setenv(config.ENV_CONV, "im2col")
    for got, want in zip(on_onednn, run(), strict=True):
        scale = max(np.abs(want).max(), 1.0)
        np.testing.assert_allclose(got / scale, want / scale, rtol=1e-5, atol=1e-5)


@needs_onednn
def test_onednn_repeats_its_bits():
    """Runs repeat (training resumed after a crash equals an uninterrupted one)."""
    x, hwio = _normal((2, 16, 16, 8), 7), _normal((5, 5, 8, 8), 8)
    gy = _normal((2, 16, 16, 8), 9)
    pads = ((2, 2), (2, 2))

    def run():
        return (dnnl.conv(x, hwio, 1, pads),
                dnnl.conv_transpose(gy, hwio, 1, pads, (16, 16)),
                *dnnl.conv_filter_grad(x, gy, (5, 5), 1, pads, bias=True))

    for got, want in zip(run(), run(), strict=True):
        np.testing.assert_array_equal(got, want)


@needs_onednn
@pytest.mark.parametrize("op, x_shape, w_shape", [
    (lambda x, w: fast_cpu.conv2d(x, w, ((1, 2), (0, 1)), 1), (2, 3, 6, 5), (4, 3, 4, 4)),
    (lambda x, w: fast_cpu.conv2d(x, w, ((1, 1), (1, 0)), 2), (1, 2, 7, 6), (3, 2, 3, 3)),
    (lambda x, w: fast_cpu.conv2d_transpose(x, w, 2, 0, 8), (2, 3, 4, 4), (3, 2, 3, 3)),
    (lambda x, w: fast_cpu.conv2d_transpose(x, w, 1, 1, 5), (1, 2, 5, 5), (2, 3, 3, 3)),
])
def test_check_backward_float32_on_onednn(op, x_shape, w_shape):
    """oneDNN runs float32 only: numerical gradients in float32, hence the looser tolerance."""
    x, w = _normal(x_shape, 10), _normal(w_shape, 11)
    gy = _normal(op(x, w).shape, 12)
    gradient_check.check_backward(op, (x, w), gy, atol=5e-3, rtol=5e-2, eps=1e-2)


@needs_onednn
def test_the_nodes_run_on_onednn_and_agree_with_chainer(monkeypatch):
    calls = []
    conv = dnnl.conv
    monkeypatch.setattr(dnnl, "conv", lambda *a: calls.append(a) or conv(*a))
    x = chainer.Variable(_normal((2, 4, 10, 10), 13))
    w = chainer.Variable(_normal((6, 4, 5, 5), 14))
    y = fast_cpu.conv2d(x, w, ((2, 2), (2, 2)))
    assert calls
    want = F.convolution_2d(x.array, w.array, pad=2).array
    np.testing.assert_allclose(y.array, want, rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(sys.platform != "linux", reason="mallopt is glibc's")
def test_malloc_keeps_freed_memory_on_glibc():
    assert keep_freed_memory()


@needs_onednn
@pytest.mark.parametrize("padding, strides", [("SAME", (1, 1, 1)), ("SAME", (2, 1, 1)),
                                              ("VALID", (1, 2, 1))])
def test_3d_convolutions_on_onednn_are_chainers(monkeypatch, padding, strides):
    """`tf_conv` of three spatial axes (the E3D-LSTM's, an even kernel depth: TF's SAME pads
    one more after) on oneDNN against Chainer's `convolution_nd`: values and both
    gradients."""
    from chainer_port.fast_cpu import nodes
    from chainer_port.tf_compat import tf_conv

    x, weights = _normal((2, 5, 4, 7, 6), 3), _normal((8, 5, 2, 5, 3), 4) * 0.2
    gy_seed = 5

    def run() -> tuple[chainer.Variable, np.ndarray, np.ndarray]:
        xv, wv = chainer.Variable(x.copy()), chainer.Variable(weights.copy())
        y = tf_conv(xv, wv, padding, strides)
        y.grad = _normal(y.shape, gy_seed)
        y.backward()
        return y, xv.grad, wv.grad

    fast = run()
    assert isinstance(fast[0].creator, nodes.Conv3D)
    monkeypatch.setenv(config.ENV_FAST_CPU, "0")
    stock = run()
    assert not isinstance(stock[0].creator, nodes.Conv3D)
    for got, want in zip((fast[0].array, *fast[1:]), (stock[0].array, *stock[1:]), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@needs_onednn
def test_3d_convolutions_in_float64_or_without_onednn_are_chainers_own(monkeypatch):
    from chainer_port.fast_cpu import nodes
    from chainer_port.tf_compat import tf_conv

    x, weights = _normal((1, 2, 3, 4, 4), 6), _normal((3, 2, 2, 3, 3), 7)
    assert isinstance(tf_conv(x, weights, "SAME").creator, nodes.Conv3D)
    assert not isinstance(tf_conv(x.astype(np.float64), weights.astype(np.float64),
                                  "SAME").creator, nodes.Conv3D)
    monkeypatch.setenv(config.ENV_CONV, "im2col")
    assert not isinstance(tf_conv(x, weights, "SAME").creator, nodes.Conv3D)
