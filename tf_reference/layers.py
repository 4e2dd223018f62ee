"""The seed's slim building blocks, written out by hand (tf_slim does not import on TF 2.15).

Each block holds `tf.Variable`s named exactly as slim named them in the seed's graph
(`<scope>/weights`, `<scope>/BatchNorm/{beta,moving_mean,moving_variance}`), TF layouts.

One fix to the seed: its `_BuildImageDecoder` computes the deconv stride as `64 / size`, a
float under Python 3 that conv2d_transpose rejects; `Deconv` uses the spec's integer stride
`target_size // size` (8, 4, 2, 1 in the paper preset).
"""

from __future__ import annotations

from collections import OrderedDict

import tensorflow as tf

from spec import initializers
from spec.layer import Layer, Variable

SLIM_BN_DEFAULTS = dict(decay=0.999, epsilon=1e-3, center=True, scale=False)
"""`slim.batch_norm`'s defaults in TF r0.12 (the seed passes only `is_training`).

decay 0.999 for the moving averages, epsilon 1e-3 added to the variance, center=True (a
learned `beta` offset), scale=False (no `gamma`). Unfused: the batch statistics come from
`tf.nn.moments` over (N, H, W) (biased variance), the moving statistics are updated with
`assign_moving_average(..., zero_debias=False)` from those same biased statistics, and the
output is `tf.nn.batch_normalization(x, mean, variance, beta, None, epsilon)`.
"""


class BatchNorm(tf.Module):
    """slim.batch_norm with SLIM_BN_DEFAULTS: beta, moving_mean, moving_variance."""

    def __init__(self, scope: str, width: int) -> None:
        super().__init__()
        prefix = f"{scope}/BatchNorm"
        self.beta = tf.Variable(tf.zeros([width]), name=f"{prefix}/beta")
        self.moving_mean = tf.Variable(tf.zeros([width]), trainable=False,
                                       name=f"{prefix}/moving_mean")
        self.moving_variance = tf.Variable(tf.ones([width]), trainable=False,
                                           name=f"{prefix}/moving_variance")

    @property
    def named_variables(self) -> OrderedDict[str, tf.Variable]:
        return _by_name(self.beta, self.moving_mean, self.moving_variance)

    def __call__(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        """Training: normalise with the batch statistics and update the moving ones (once per
        call); inference: normalise with the moving statistics."""
        if training:
            mean, variance = tf.nn.moments(x, axes=[0, 1, 2])
            self._update_moving_statistics(mean, variance)
        else:
            mean, variance = self.moving_mean, self.moving_variance
        return tf.nn.batch_normalization(x, mean, variance, offset=self.beta, scale=None,
                                         variance_epsilon=SLIM_BN_DEFAULTS["epsilon"])

    def _update_moving_statistics(self, mean: tf.Tensor, variance: tf.Tensor) -> None:
        """TF's assign_moving_average without debiasing: v -= (v - value) * (1 - decay)."""
        rate = tf.constant(1.0 - SLIM_BN_DEFAULTS["decay"], tf.float32)
        self.moving_mean.assign_sub((self.moving_mean - mean) * rate)
        self.moving_variance.assign_sub((self.moving_variance - variance) * rate)


class ConvBN(tf.Module):
    """slim.conv2d as the seed configures it: stride-1 conv without bias, BatchNorm, ReLU.

    `weights` is HWIO [k, k, in, out], initialised like slim's xavier_initializer():
    uniform in +-sqrt(6 / (fan_in + fan_out)), fan_in = k*k*in, fan_out = k*k*out.
    """

    def __init__(self, layer: Layer, rng: tf.random.Generator) -> None:
        super().__init__()
        self.weights = spec_variable(layer.variables[0], rng)
        self.batch_norm = BatchNorm(layer.name, layer.variables[0].shape[-1])
        self.padding = layer.attrs["padding"]

    @property
    def named_variables(self) -> OrderedDict[str, tf.Variable]:
        return OrderedDict([*_by_name(self.weights).items(),
                            *self.batch_norm.named_variables.items()])

    def __call__(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        net = tf.nn.conv2d(x, self.weights, strides=1, padding=self.padding)
        return tf.nn.relu(self.batch_norm(net, training))


class Deconv(tf.Module):
    """The seed's `_Deconv`: conv2d_transpose (SAME, no bias, no activation) to stride * size.

    `weights` is [k, k, out, in], truncated_normal_initializer(stddev=0.01) (values beyond
    2 stddev redrawn). The seed then calls `slim.batch_norm(net)` and discards its output: the
    BatchNorm's variables exist and, in training, its moving statistics are updated from the
    deconv output's batch statistics (the seed's update ops run with the train op); in
    inference nothing runs them.
    """

    def __init__(self, layer: Layer, rng: tf.random.Generator) -> None:
        super().__init__()
        self.weights = spec_variable(layer.variables[0], rng)
        self.batch_norm = BatchNorm(layer.name, layer.variables[0].shape[2])
        self.stride = int(layer.attrs["stride"])

    @property
    def named_variables(self) -> OrderedDict[str, tf.Variable]:
        return OrderedDict([*_by_name(self.weights).items(),
                            *self.batch_norm.named_variables.items()])

    def __call__(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        batch, height, width, _ = x.shape
        s = self.stride
        output_shape = [batch, height * s, width * s, self.weights.shape[2]]
        net = tf.nn.conv2d_transpose(x, self.weights, output_shape, strides=[1, s, s, 1],
                                     padding="SAME")
        if training:
            self.batch_norm(net, training=True)
        return net


def _by_name(*variables: tf.Variable) -> OrderedDict[str, tf.Variable]:
    """Variables keyed by their TF name without the ':0' output suffix."""
    return OrderedDict((variable.name.rsplit(":", 1)[0], variable) for variable in variables)


def tf_source(rng: tf.random.Generator) -> initializers.Source:
    """TF's generator's draws for `spec.initializers.draw`."""
    return initializers.Source(
        lambda shape, low, high: rng.uniform(shape, low, high).numpy(),
        lambda shape, mean, stddev: rng.normal(shape, mean, stddev).numpy(),
        lambda shape, mean, stddev: rng.truncated_normal(shape, mean, stddev).numpy())


def spec_variable(variable: Variable, rng: tf.random.Generator) -> tf.Variable:
    """`variable` as a tf.Variable drawn as TF draws its `init` (`spec.initializers`: fans
    from the TF shape, TF1's distributions); an unnamed initialiser is zeros."""
    value = initializers.draw(initializers.parse(variable.init, variable.shape, variable.name),
                              variable.shape, tf_source(rng))
    return tf.Variable(value, trainable=variable.trainable, name=variable.name)


CONTRIB_LAYER_NORM_EPSILON = 1e-12  # tf.contrib.layers.layer_norm's variance_epsilon


def contrib_layer_norm(x: tf.Tensor, beta: tf.Tensor, gamma: tf.Tensor) -> tf.Tensor:
    """`tf.contrib.layers.layer_norm(x)` at its defaults: `tf.nn.moments` over every axis but
    the batch, then `tf.nn.batch_normalization` with beta and gamma per channel (the last
    axis) and epsilon 1e-12, as contrib computes it."""
    mean, variance = tf.nn.moments(x, axes=list(range(1, x.shape.rank)), keepdims=True)
    return tf.nn.batch_normalization(x, mean, variance, beta, gamma,
                                     CONTRIB_LAYER_NORM_EPSILON)
