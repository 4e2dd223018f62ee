"""TF behaviours of Finn et al.'s predictor (seed 001) the Chainer port reproduces: layer norm,
the spatial transformer, the masks' softmax; each with the naive Chainer call a
`TFCompat` option selects instead. NCHW, differentiable, on the array's own device.
"""

from __future__ import annotations

import chainer
import chainer.functions as F
import numpy as np
from chainer.types import NdArray

from chainer_port import fast_cpu
from chainer_port.tf_compat import VariableOrArray

TF_LAYER_NORM_EPSILON = 1e-12  # tf.contrib.layers.layer_norm's variance_epsilon
CHAINER_LAYER_NORM_EPSILON = 1e-5  # L.LayerNormalization's default eps


def tf_layer_norm(x: VariableOrArray, beta: VariableOrArray, gamma: VariableOrArray,
                  mode: str = "tf") -> chainer.Variable:
    """`tf.contrib.layers.layer_norm(x)` of a channels-first map of any rank, NCHW or NCDHW
    (`TFCompat.layer_norm`).

    TF normalises each sample over ALL its axes but the batch (space and channels together)
    with eps 1e-12, then scales and shifts per channel. Chainer's `L.LayerNormalization`
    normalises the last axis of a 2-d array with eps 1e-5: applied to the map's positions
    ("chainer"), it normalises each position's channels on their own. The statistics are
    accumulated in float64 (a 64x64x64 map is 262,144 values per sample). NumPy arrays take
    `fast_cpu.layer_norm`, the same arithmetic in one node.
    """
    if mode == "tf" and fast_cpu.applies(x, beta, gamma):
        return fast_cpu.layer_norm(x, gamma, beta, TF_LAYER_NORM_EPSILON)
    if mode == "chainer":
        last = (0, *range(2, x.ndim), 1)
        rows = F.reshape(F.transpose(x, last), (-1, x.shape[1]))
        y = F.layer_normalization(rows, gamma, beta, eps=CHAINER_LAYER_NORM_EPSILON)
        moved = (x.shape[0], *x.shape[2:], x.shape[1])
        return F.transpose(F.reshape(y, moved), tuple(int(a) for a in np.argsort(last)))
    dtype = x.dtype
    wide = F.cast(x, np.float64) if dtype == np.float32 else chainer.as_variable(x)
    axes = tuple(range(1, x.ndim))
    centred = wide - F.broadcast_to(F.mean(wide, axis=axes, keepdims=True), wide.shape)
    variance = F.mean(F.square(centred), axis=axes, keepdims=True)
    normed = centred * F.broadcast_to(
        (variance + TF_LAYER_NORM_EPSILON) ** -0.5, wide.shape)
    normed = F.cast(normed, dtype) if dtype == np.float32 else normed
    return F.bias(F.scale(normed, gamma, axis=1), beta, axis=1)


def channel_softmax(x: VariableOrArray, mode: str = "nhwc") -> chainer.Variable:
    """TF's `reshape(softmax(reshape(x, [-1, C])), shape)` of an NHWC map, on NCHW `x`: the
    softmax over each pixel's channels (`TFCompat.channel_softmax`). "nchw_reshape": the same
    reshape of the NCHW array, rows of C consecutive values along the width."""
    if mode == "nchw_reshape":
        return F.reshape(F.softmax(F.reshape(x, (-1, x.shape[1]))), x.shape)
    return F.softmax(x, axis=1)


def tf_spatial_transformer(image: VariableOrArray, theta: VariableOrArray, mode: str = "tf"
                           ) -> chainer.Variable:
    """tensorflow/models' `spatial_transformer.transformer(image, theta, (H, W))`, NCHW
    (`TFCompat.spatial_transformer`); theta [B, 6] = the 2x3 affine matrix row by row.

    TF samples output pixel (i, j) at theta @ (x_t, y_t, 1), with x_t, y_t on linspace(-1, 1),
    scaled to pixels by (x + 1) * W / 2 (W, not W - 1); the four neighbours' indices are
    clipped into the image before the bilinear weights are computed from them, so beyond the
    last row / column and before the first the weights cancel (a zero).
    Chainer's `F.spatial_transformer_grid` / `F.spatial_transformer_sampler` ("chainer")
    scale by (W - 1) / 2 and read zeros outside the image: the identity is exact there and a
    stretch by W / (W - 1) with a black last row and column in TF. NumPy arrays sample with
    `fast_cpu.bilinear_sample`, the same arithmetic in one node.
    """
    batch, channels, height, width = image.shape
    theta = F.reshape(theta, (batch, 2, 3))
    if mode == "chainer":
        grid = F.spatial_transformer_grid(theta, (height, width))
        return F.spatial_transformer_sampler(image, grid)
    xp = chainer.backend.get_array_module(image)
    x_t, y_t = np.meshgrid(np.linspace(-1.0, 1.0, width, dtype=np.float32),
                           np.linspace(-1.0, 1.0, height, dtype=np.float32))
    grid = np.stack([x_t.ravel(), y_t.ravel(), np.ones(height * width, np.float32)])
    grid = xp.asarray(np.broadcast_to(grid, (batch, *grid.shape)).astype(image.dtype))
    source = F.matmul(theta, grid)  # [B, 2, H * W]
    x = (F.reshape(source[:, 0], (-1,)) + 1.0) * (width / 2.0)
    y = (F.reshape(source[:, 1], (-1,)) + 1.0) * (height / 2.0)
    if fast_cpu.applies(image, x, y):
        return fast_cpu.bilinear_sample(image, x, y)
    x0 = xp.floor(x.array).astype(np.int32)
    y0 = xp.floor(y.array).astype(np.int32)
    x0, x1 = xp.clip(x0, 0, width - 1), xp.clip(x0 + 1, 0, width - 1)
    y0, y1 = xp.clip(y0, 0, height - 1), xp.clip(y0 + 1, 0, height - 1)
    base = xp.repeat(xp.arange(batch, dtype=np.int32) * (height * width), height * width)
    flat = F.reshape(F.transpose(image, (0, 2, 3, 1)), (-1, channels))

    def weighted(weight: chainer.Variable, row: NdArray, col: NdArray
                 ) -> chainer.Variable:
        pixels = F.get_item(flat, base + row * width + col)
        return F.broadcast_to(F.expand_dims(weight, 1), pixels.shape) * pixels

    x0f, x1f, y0f, y1f = (v.astype(image.dtype) for v in (x0, x1, y0, y1))
    out = (weighted((x1f - x) * (y1f - y), y0, x0) + weighted((x1f - x) * (y - y0f), y1, x0)
           + weighted((x - x0f) * (y1f - y), y0, x1) + weighted((x - x0f) * (y - y0f), y1, x1))
    return F.transpose(F.reshape(out, (batch, height, width, channels)), (0, 3, 1, 2))
