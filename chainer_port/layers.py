"""The links that own variables, named like slim's scopes so Chainer's paths are TF's names.

`ConvBN` (slim.conv2d + batch_norm + ReLU) owns `weights` and a `BatchNorm`; `Deconv` (the
seed's `_Deconv`) owns `weights` and the `BatchNorm` whose output the seed discards. A
link's path in the model (`/motion_encoder/Conv_3/BatchNorm/beta`) is the TF variable name
with a leading '/'. Each link takes the twin's `TFCompat`: TF's behaviour by default, a
naive Chainer one where a mutant sets it.
"""

from __future__ import annotations

import chainer
import chainer.functions as F
import numpy as np
from chainer import initializers

from chainer_port.initializers import TruncatedNormal
from chainer_port.tf_compat import (
    TFCompat,
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
    variance): see `chainer_port.tf_compat.TFBatchNorm`. `compat.bn_gamma` adds that link's
    gamma, which the weight map does not carry (`serialize` skips it): it sits at 1, invisible,
    until SGD trains it.
    """

    def __init__(self, size: int, compat: TFCompat) -> None:
        super().__init__()
        self.compat = compat
        with self.init_scope():
            self.beta = chainer.Parameter(initializers.Zero(np.float32), (size,))
            if compat.bn_gamma:
                self.gamma = chainer.Parameter(initializers.One(np.float32), (size,))
        self.add_persistent("moving_mean", np.zeros(size, dtype=np.float32))
        self.add_persistent("moving_variance", np.ones(size, dtype=np.float32))

    def forward(self, x: chainer.Variable, training: bool, relu: bool = False
                ) -> chainer.Variable:
        """Training: the batch statistics (and update the moving ones); else the moving ones.
        `relu`: followed by a ReLU (fused on the CPU fast path)."""
        epsilon = self.compat.batch_norm.epsilon
        fused = relu and not self.compat.bn_gamma
        if training:
            self.update_moving_statistics(x)
            y = tf_batch_norm_training(x, self.beta, epsilon, fused)
        else:
            y = tf_batch_norm_inference(x, self.beta, self.moving_mean, self.moving_variance,
                                        epsilon, fused)
        if self.compat.bn_gamma:
            y = F.bias(F.scale(F.bias(y, -self.beta, axis=1), self.gamma, axis=1), self.beta,
                       axis=1)
            return F.relu(y) if relu else y
        return y

    def update_moving_statistics(self, x: chainer.Variable) -> None:
        """slim's update ops: moving averages (decay 0.999) of the batch mean and biased var."""
        mean, variance = tf_moments(x)
        if self.compat.bn_moving_variance == "unbiased":
            m = x.size // x.shape[1]
            variance = variance * (m / (m - 1))
        assign_moving_average(self.moving_mean, mean, self.compat.batch_norm.decay)
        assign_moving_average(self.moving_variance, variance, self.compat.batch_norm.decay)

    def serialize(self, serializer: chainer.AbstractSerializer) -> None:
        if not self.compat.bn_gamma:
            super().serialize(serializer)
            return
        self._params.remove("gamma")
        try:
            super().serialize(serializer)
        finally:
            self._params.add("gamma")


class ConvBN(chainer.Chain):
    """slim.conv2d(normalizer_fn=batch_norm, activation_fn=relu): conv (no bias), BN, ReLU."""

    def __init__(self, layer: Layer, rng: np.random.Generator, compat: TFCompat) -> None:
        super().__init__()
        k, width = layer.attrs["kernel"], layer.shape[-1]
        self.padding, self.pad_extra = layer.attrs["padding"], compat.same_pad_extra
        init = (initializers.GlorotUniform if compat.conv_init == "xavier_uniform"
                else initializers.LeCunNormal)
        with self.init_scope():
            self.weights = chainer.Parameter(
                init(dtype=np.float32, rng=rng),
                (width, layer.attrs["in_channels"], k, k))  # (out, in, kh, kw)
            self.BatchNorm = BatchNorm(width, compat)

    def forward(self, x: chainer.Variable, training: bool) -> chainer.Variable:
        y = tf_conv2d(x, self.weights, self.padding, pad_extra=self.pad_extra)
        return self.BatchNorm(y, training, relu=True)


class Deconv(chainer.Chain):
    """The seed's `_Deconv`: conv2d_transpose SAME to stride * size, no bias, no activation.

    The seed then calls `slim.batch_norm(net)` and discards the result: the variables exist,
    training updates the moving statistics from the deconv output, and `beta` never receives
    a gradient.
    """

    def __init__(self, layer: Layer, rng: np.random.Generator, compat: TFCompat) -> None:
        super().__init__()
        k, width = layer.attrs["kernel"], layer.shape[-1]
        self.stride = int(layer.attrs["stride"])
        self.mode = compat.deconv
        init = (TruncatedNormal(DECONV_STDDEV, rng) if compat.deconv_init == "truncated_normal"
                else initializers.Normal(DECONV_STDDEV, rng=rng))
        with self.init_scope():
            self.weights = chainer.Parameter(
                init, (layer.attrs["in_channels"], width, k, k))  # (in, out, kh, kw)
            self.BatchNorm = BatchNorm(width, compat)

    def forward(self, x: chainer.Variable, training: bool) -> chainer.Variable:
        out_size = self.stride * x.shape[-1]
        if self.mode == "pad_one":
            y = F.deconvolution_2d(x, self.weights, stride=self.stride, pad=1,
                                   outsize=(out_size, out_size))
        else:
            weights = (F.flip(F.flip(self.weights, 2), 3) if self.mode == "flipped_kernel"
                       else self.weights)
            y = conv2d_transpose_same(x, weights, self.stride, out_size)
        if training:
            self.BatchNorm.update_moving_statistics(y)
        return y


LINKS: dict[str, type[ConvBN] | type[Deconv]] = {"conv": ConvBN, "deconv": Deconv}
"""The link class owning the variables of each layer kind that has any."""
