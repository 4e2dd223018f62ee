"""The links that own variables, named like slim's scopes so Chainer's paths are TF's names.

`ConvBN` (slim.conv2d + batch_norm + ReLU) owns `weights` and a `BatchNorm`; `Deconv` (the
seed's `_Deconv`) owns `weights` and the `BatchNorm` whose output the seed discards. A
link's path in the model (`/motion_encoder/Conv_3/BatchNorm/beta`) is the TF variable name
with a leading '/'.
"""

from __future__ import annotations

import chainer
import numpy as np
from chainer import initializers

from chainer_port.initializers import TruncatedNormal
from chainer_port.tf_compat import (
    TF_BN_DEFAULTS,
    assign_moving_average,
    conv2d_transpose_same,
    tf_batch_norm_inference,
    tf_batch_norm_training,
    tf_conv2d,
    tf_moments,
)
from spec.layer import Layer

DECONV_STDDEV = 0.01


class BatchNorm(chainer.Link):
    """slim.batch_norm(center=True, scale=False) of TF r0.12: `beta` and the moving statistics.

    Not Chainer's `L.BatchNormalization` (different decay, eps, a gamma and an unbiased running
    variance): see `chainer_port.tf_compat.TFBatchNorm`.
    """

    def __init__(self, size: int) -> None:
        super().__init__()
        with self.init_scope():
            self.beta = chainer.Parameter(initializers.Zero(np.float32), (size,))
        self.add_persistent("moving_mean", np.zeros(size, dtype=np.float32))
        self.add_persistent("moving_variance", np.ones(size, dtype=np.float32))

    def forward(self, x: chainer.Variable, training: bool, relu: bool = False
                ) -> chainer.Variable:
        """Training: the batch statistics (and update the moving ones); else the moving ones.
        `relu`: followed by a ReLU (fused on the CPU fast path)."""
        if training:
            self.update_moving_statistics(x)
            return tf_batch_norm_training(x, self.beta, TF_BN_DEFAULTS.epsilon, relu)
        return tf_batch_norm_inference(x, self.beta, self.moving_mean, self.moving_variance,
                                       TF_BN_DEFAULTS.epsilon, relu)

    def update_moving_statistics(self, x: chainer.Variable) -> None:
        """slim's update ops: moving averages (decay 0.999) of the batch mean and biased var."""
        mean, variance = tf_moments(x)
        assign_moving_average(self.moving_mean, mean, TF_BN_DEFAULTS.decay)
        assign_moving_average(self.moving_variance, variance, TF_BN_DEFAULTS.decay)


class ConvBN(chainer.Chain):
    """slim.conv2d(normalizer_fn=batch_norm, activation_fn=relu): conv (no bias), BN, ReLU."""

    def __init__(self, layer: Layer, rng: np.random.Generator) -> None:
        super().__init__()
        k, width = layer.attrs["kernel"], layer.shape[-1]
        self.padding = layer.attrs["padding"]
        with self.init_scope():
            self.weights = chainer.Parameter(
                initializers.GlorotUniform(dtype=np.float32, rng=rng),
                (width, layer.attrs["in_channels"], k, k))  # (out, in, kh, kw)
            self.BatchNorm = BatchNorm(width)

    def forward(self, x: chainer.Variable, training: bool) -> chainer.Variable:
        return self.BatchNorm(tf_conv2d(x, self.weights, self.padding), training, relu=True)


class Deconv(chainer.Chain):
    """The seed's `_Deconv`: conv2d_transpose SAME to stride * size, no bias, no activation.

    The seed then calls `slim.batch_norm(net)` and discards the result: the variables exist,
    training updates the moving statistics from the deconv output, and `beta` never receives
    a gradient.
    """

    def __init__(self, layer: Layer, rng: np.random.Generator) -> None:
        super().__init__()
        k, width = layer.attrs["kernel"], layer.shape[-1]
        self.stride = int(layer.attrs["stride"])
        with self.init_scope():
            self.weights = chainer.Parameter(
                TruncatedNormal(DECONV_STDDEV, rng),
                (layer.attrs["in_channels"], width, k, k))  # (in, out, kh, kw)
            self.BatchNorm = BatchNorm(width)

    def forward(self, x: chainer.Variable, training: bool) -> chainer.Variable:
        y = conv2d_transpose_same(x, self.weights, self.stride, self.stride * x.shape[-1])
        if training:
            self.BatchNorm.update_moving_statistics(y)
        return y


LINKS: dict[str, type[ConvBN] | type[Deconv]] = {"conv": ConvBN, "deconv": Deconv}
"""The link class owning the variables of each layer kind that has any."""
