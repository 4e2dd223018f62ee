"""Each chainer_port.tf_compat shim against the real TensorFlow op it emulates (op-level parity).

Inputs are drawn in TF layout, converted with `spec.layout`, and the Chainer result converted
back; float32, tolerances ~1e-5.
"""

from __future__ import annotations

import chainer
import numpy as np
import pytest
import tensorflow as tf

from chainer_port.layers import BatchNorm
from chainer_port.tf_compat import (
    TF_BN_DEFAULTS,
    TFBatchNorm,
    TFCompat,
    batched_cross_conv,
    conv2d_transpose_same,
    nhwc_flatten,
    nhwc_to_nchw,
    nhwc_unflatten,
    tf1_bilinear_matrix,
    tf1_bilinear_resize,
    tf_conv2d,
    tf_max_pool,
    tf_same_pads,
)
from spec.layout import Transpose, activation_to_chainer, activation_to_tf

TOL = dict(rtol=1e-5, atol=1e-5)


def _normal(shape: tuple[int, ...], seed: int = 0, scale: float = 1.0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def _to_tf(variable: chainer.Variable) -> np.ndarray:
    return activation_to_tf(variable.array)


@pytest.mark.parametrize("size, kernel, stride, expected", [
    (8, 5, 1, (2, 2)), (8, 4, 1, (1, 2)), (8, 3, 2, (0, 1)), (9, 3, 2, (1, 1)),
    (8, 5, 2, (1, 2)), (8, 2, 2, (0, 0)), (9, 2, 2, (0, 1)), (3, 1, 1, (0, 0)),
])
def test_same_pads_follow_tf_rule(size, kernel, stride, expected):
    assert tf_same_pads(size, kernel, stride) == expected


@pytest.mark.parametrize("size, kernel, stride, padding", [
    (9, 3, 1, "SAME"), (9, 5, 1, "SAME"), (8, 4, 1, "SAME"), (7, 2, 1, "SAME"),
    (8, 3, 2, "SAME"), (9, 3, 2, "SAME"), (10, 4, 2, "SAME"), (8, 9, 1, "SAME"),
    (12, 5, 1, "VALID"), (7, 4, 1, "VALID"), (9, 3, 2, "VALID"),
])
def test_conv2d_matches_tf(size, kernel, stride, padding):
    x = _normal((2, size, size, 3), 1)
    w = _normal((kernel, kernel, 3, 5), 2)
    expected = tf.nn.conv2d(x, w, strides=stride, padding=padding).numpy()
    got = tf_conv2d(activation_to_chainer(x), Transpose.KERNEL.to_chainer(w), padding,
                    stride)
    assert got.shape == activation_to_chainer(expected).shape
    np.testing.assert_allclose(_to_tf(got), expected, **TOL)


@pytest.mark.parametrize("size, kernel, padding", [
    (8, 5, "SAME"), (9, 5, "SAME"), (16, 5, "SAME"), (8, 2, "SAME"), (9, 2, "SAME"),
    (21, 2, "VALID"), (60, 2, "VALID"), (7, 3, "VALID"),
])
def test_max_pool_matches_tf(size, kernel, padding):
    x = _normal((2, size, size, 4), 3)
    expected = tf.nn.max_pool2d(x, kernel, 2, padding).numpy()
    got = tf_max_pool(activation_to_chainer(x), kernel, 2, padding)
    np.testing.assert_array_equal(_to_tf(got), expected)


@pytest.mark.parametrize("extra", ["after", "before"])
def test_same_pad_extra_is_the_same_on_the_fast_path_and_off_it(monkeypatch, extra):
    """Both paths put SAME's odd pixel where `extra` says; "after" is TF's."""
    x = activation_to_chainer(_normal((2, 16, 16, 3), 5))
    weights = Transpose.KERNEL.to_chainer(_normal((4, 4, 3, 2), 6))
    fast = [tf_max_pool(x, 5, 2, "SAME", extra), tf_conv2d(x, weights, "SAME", 2, extra)]
    monkeypatch.setenv("TWINPORT_FAST_CPU", "0")
    plain = [tf_max_pool(x, 5, 2, "SAME", extra), tf_conv2d(x, weights, "SAME", 2, extra)]
    for a, b in zip(fast, plain, strict=True):
        np.testing.assert_allclose(a.array, b.array, rtol=1e-5, atol=1e-5)
    if extra == "after":
        expected = tf.nn.max_pool2d(activation_to_tf(x), 5, 2, "SAME").numpy()
        np.testing.assert_array_equal(_to_tf(fast[0]), expected)


def test_max_pool_valid_floors_21_to_10():
    x = np.zeros((1, 1, 21, 21), np.float32)
    assert tf_max_pool(x, 2, 2, "VALID").shape == (1, 1, 10, 10)


def test_max_pool_same_padding_never_wins():
    """All-negative input: a zero pad would show up as 0 in the border windows."""
    x = -1 - np.abs(_normal((1, 8, 8, 2), 4))
    expected = tf.nn.max_pool2d(x, 5, 2, "SAME").numpy()
    got = _to_tf(tf_max_pool(activation_to_chainer(x), 5, 2, "SAME"))
    assert (got < 0).all()
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("in_size, out_size", [
    (64, 32), (64, 128), (64, 256), (64, 16), (60, 128), (64, 64), (5, 7),
])
def test_bilinear_resize_matches_tf1(in_size, out_size):
    x = np.abs(_normal((3, in_size, in_size, 3), 5, scale=4.0))
    expected = tf.compat.v1.image.resize_bilinear(
        x, [out_size, out_size], align_corners=False, half_pixel_centers=False).numpy()
    got = tf1_bilinear_resize(activation_to_chainer(x), out_size)
    np.testing.assert_allclose(_to_tf(got), expected, **TOL)


def test_bilinear_resize_keeps_leading_axes_and_identity():
    frames = _normal((2, 3, 3, 8, 8), 6)  # [B, L, C, H, W]
    assert tf1_bilinear_resize(frames, 16).shape == (2, 3, 3, 16, 16)
    np.testing.assert_array_equal(tf1_bilinear_resize(frames, 8).array, frames)
    np.testing.assert_array_equal(tf1_bilinear_matrix(8, 8), np.eye(8, dtype=np.float32))


@pytest.mark.parametrize("size, kernel, stride", [
    (8, 3, 1), (8, 3, 2), (8, 3, 4), (4, 3, 8), (5, 3, 2), (6, 5, 2), (4, 4, 2),
])
def test_conv2d_transpose_same_matches_tf(size, kernel, stride):
    x = _normal((2, size, size, 4), 7)
    w = _normal((kernel, kernel, 5, 4), 8)  # TF: [k, k, out, in]
    out = size * stride
    expected = tf.nn.conv2d_transpose(x, w, [2, out, out, 5], stride, "SAME").numpy()
    got = conv2d_transpose_same(activation_to_chainer(x), Transpose.KERNEL.to_chainer(w),
                                stride, out)
    np.testing.assert_allclose(_to_tf(got), expected, **TOL)


def test_conv2d_transpose_weight_gradient_with_constant_input():
    """Chainer 7.8.1's deconv backward crashes when only W needs a gradient: worked around."""
    x = _normal((2, 4, 4, 3), 9)
    w = _normal((3, 3, 5, 3), 10)
    upstream = _normal((2, 16, 16, 5), 11)
    w_tf = tf.Variable(w)
    with tf.GradientTape() as tape:
        y = tf.nn.conv2d_transpose(x, w_tf, [2, 16, 16, 5], 4, "SAME")
        loss = tf.reduce_sum(y * upstream)
    expected = tape.gradient(loss, w_tf).numpy()
    w_chainer = chainer.Parameter(Transpose.KERNEL.to_chainer(w).copy())
    y = conv2d_transpose_same(activation_to_chainer(x), w_chainer, 4, 16)
    chainer.functions.sum(y * activation_to_chainer(upstream)).backward()
    np.testing.assert_allclose(w_chainer.grad, Transpose.KERNEL.to_chainer(expected),
                               rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("kernel", [3, 5, 4])
def test_batched_cross_conv_matches_per_sample_depthwise(kernel):
    features = _normal((3, 8, 8, 4), 12)
    kernels = _normal((3, kernel, kernel, 4), 13)
    expected = np.concatenate([
        tf.nn.depthwise_conv2d(features[b:b + 1], kernels[b][..., None], [1, 1, 1, 1], "SAME")
        for b in range(3)])
    got = batched_cross_conv(activation_to_chainer(features), activation_to_chainer(kernels))
    np.testing.assert_allclose(_to_tf(got), expected, **TOL)


def test_nhwc_flatten_matches_tf_reshape():
    x = _normal((2, 3, 3, 8), 14)
    flat = nhwc_flatten(activation_to_chainer(x))
    np.testing.assert_array_equal(flat.array, tf.reshape(x, [2, -1]).numpy())
    back = nhwc_unflatten(flat, 3, 8)
    np.testing.assert_array_equal(_to_tf(back), tf.reshape(tf.reshape(x, [2, -1]),
                                                            [2, 3, 3, 8]).numpy())


@pytest.mark.parametrize("shape", [(2, 3, 8, 8, 3), (2, 8, 6, 3)])
def test_nhwc_to_nchw_layout_and_gradient_layout(shape):
    frames = chainer.Variable(_normal(shape, 15))
    nchw = nhwc_to_nchw(frames)
    np.testing.assert_array_equal(nchw.array, activation_to_chainer(frames.array))
    chainer.functions.sum(nchw * nchw).backward()
    np.testing.assert_allclose(frames.grad, 2 * frames.array)


def test_tf_compat_options_belong_to_one_port():
    """A port with a naive option and one with TF's run side by side: nothing is patched."""
    from chainer_port.cross_conv import CrossConvModel

    frames = np.random.default_rng(3).random((2, 2, 64, 64, 3), dtype=np.float32)
    naive = CrossConvModel("tiny", tf_compat=TFCompat(batch_norm=TFBatchNorm(epsilon=2e-5)))
    plain, again = CrossConvModel("tiny"), CrossConvModel("tiny")
    taps = [model.forward(frames, training=True).taps["motion_encoder/Conv"].array
            for model in (plain, naive, again)]
    assert np.array_equal(taps[0], taps[2]) and not np.allclose(taps[0], taps[1])


def _tf_batch_norm(x, beta, moving_mean, moving_variance):
    """slim.batch_norm(is_training=True) of TF r0.12, written with TF ops."""
    mean, variance = tf.nn.moments(x, [0, 1, 2])
    y = tf.nn.batch_normalization(x, mean, variance, beta, None, TF_BN_DEFAULTS.epsilon)
    rate = tf.constant(1.0 - TF_BN_DEFAULTS.decay, tf.float32)
    return (y, moving_mean - (moving_mean - mean) * rate,
            moving_variance - (moving_variance - variance) * rate)


@pytest.fixture
def batch_norm_case():
    x = _normal((3, 5, 5, 6), 16, scale=3.0) + 2.0
    beta, mean = _normal((6,), 17), _normal((6,), 18)
    variance = np.abs(_normal((6,), 19)) + 0.5
    link = BatchNorm(6, TFCompat())
    link.beta.array[...] = beta
    link.moving_mean[...] = mean
    link.moving_variance[...] = variance
    return x, beta, mean, variance, link


def test_batch_norm_training_matches_tf(batch_norm_case):
    x, beta, mean, variance, link = batch_norm_case
    upstream = _normal(x.shape, 20)
    x_tf = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x_tf)
        y_tf, mean_tf, variance_tf = _tf_batch_norm(x_tf, beta, mean, variance)
        loss = tf.reduce_sum(y_tf * upstream)
    x_chainer = chainer.Variable(activation_to_chainer(x))
    y = link(x_chainer, training=True)
    chainer.functions.sum(y * activation_to_chainer(upstream)).backward()
    np.testing.assert_allclose(_to_tf(y), y_tf.numpy(), **TOL)
    np.testing.assert_allclose(link.moving_mean, mean_tf.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(link.moving_variance, variance_tf.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(activation_to_tf(x_chainer.grad),
                               tape.gradient(loss, x_tf).numpy(), rtol=1e-4, atol=1e-4)


def test_batch_norm_moving_variance_is_biased(batch_norm_case):
    x, _, _, variance, link = batch_norm_case
    link(activation_to_chainer(x), training=True)
    biased = x.var(axis=(0, 1, 2))
    expected = variance - (variance - biased) * np.float32(1 - 0.999)
    np.testing.assert_allclose(link.moving_variance, expected, rtol=1e-6)


def test_batch_norm_inference_matches_tf_and_keeps_statistics(batch_norm_case):
    x, beta, mean, variance, link = batch_norm_case
    expected = tf.nn.batch_normalization(x, mean, variance, beta, None, 1e-3).numpy()
    y = link(activation_to_chainer(x), training=False)
    np.testing.assert_allclose(_to_tf(y), expected, **TOL)
    np.testing.assert_array_equal(link.moving_mean, mean)
    np.testing.assert_array_equal(link.moving_variance, variance)
