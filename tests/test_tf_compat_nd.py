"""TF's N-D convolutions as `chainer_port.tf_compat` shims, held against TF itself: SAME and
VALID for conv1d / conv2d / conv3d at odd and even kernels and sizes, strides 1 and 2, dilation
(TF's dilated SAME), and the transposed convolutions of every rank; values and both gradients."""

from __future__ import annotations

import chainer
import numpy as np
import pytest

from chainer_port.tf_compat import tf_conv, tf_conv_transpose
from common.tf_startup import import_tensorflow
from spec.layout import Transpose

tf = import_tensorflow()

CASES = [  # spatial sizes, kernel, stride, dilation
    ((11,), 4, 2, 1), ((10,), 3, 1, 3),
    ((8, 7), 4, 2, 1), ((9, 8), 3, 1, 2), ((6, 6), 2, 1, 1),
    ((5, 6, 7), 3, 2, 1), ((6, 5, 4), 2, 1, 2), ((4, 6, 5), 4, 1, 1),
]


def _run_both(x, kernel, tf_op, chainer_op):
    """(TF's y, dL/dx, dL/dW) and Chainer's, with L = sum(y * upstream), in TF layout."""
    tx, tk = tf.Variable(x), tf.Variable(kernel)
    upstream = np.random.default_rng(1).standard_normal(tf_op(x, kernel).shape).astype(
        np.float32)

    @tf.function  # eager Conv3D's gradient cannot read its data_format (TF 2.21)
    def forward_backward():
        with tf.GradientTape() as tape:
            y = tf_op(tx, tk)
            loss = tf.reduce_sum(y * upstream)
        return y, tape.gradient(loss, [tx, tk])

    ty, tf_grads = forward_backward()
    cx = chainer.Variable(np.ascontiguousarray(np.moveaxis(x, -1, 1)))
    ck = chainer.Variable(np.ascontiguousarray(Transpose.KERNEL.to_chainer(kernel)))
    cy = chainer_op(cx, ck)
    cy.grad = np.ascontiguousarray(np.moveaxis(upstream, -1, 1))
    cy.backward()
    got = (np.moveaxis(cy.array, 1, -1), np.moveaxis(cx.grad, 1, -1),
           Transpose.KERNEL.to_tf(ck.grad))
    want = (ty.numpy(), *(g.numpy() for g in tf_grads))
    for name, a, b in zip(("y", "dx", "dW"), got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4, err_msg=name)


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize(("spatial", "k", "stride", "dilation"), CASES)
def test_conv_of_any_rank_is_tfs(spatial, k, stride, dilation, padding):
    rng = np.random.default_rng(0)
    n = len(spatial)
    x = rng.standard_normal((2, *spatial, 3)).astype(np.float32)
    kernel = rng.standard_normal((*(k,) * n, 3, 4)).astype(np.float32)
    _run_both(x, kernel,
              lambda a, w: tf.nn.convolution(a, w, stride, padding, dilations=dilation),
              lambda a, w: tf_conv(a, w, padding, stride, dilation))


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize(("spatial", "k"), [((5,), 3), ((4, 3), 4), ((3, 4, 2), 3),
                                            ((3, 3, 3), 2)])
def test_conv_transpose_of_any_rank_is_tfs(spatial, k, padding):
    rng = np.random.default_rng(0)
    n, stride = len(spatial), 2
    x = rng.standard_normal((2, *spatial, 3)).astype(np.float32)
    kernel = rng.standard_normal((*(k,) * n, 4, 3)).astype(np.float32)  # [..., out, in]
    out = tuple(s * stride if padding == "SAME" else (s - 1) * stride + k for s in spatial)
    _run_both(x, kernel,
              lambda a, w: tf.nn.conv_transpose(a, w, [2, *out, 4], stride, padding),
              lambda a, w: tf_conv_transpose(a, w, stride, out, padding))
