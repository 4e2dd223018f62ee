"""A researcher's own twin pair, written outside twinport: two SAME convs (the second stride 2)
with a LayerNorm between them and a dense head, regressing the next frame's mean colour from a
16x16 view of the current one. Run it with `twinport parity --model tests.outside_pair:PAIR`;
`ADAM_PAIR` is the same network trained with TF1's Adam.
"""

import dataclasses

import chainer.functions as F

from chainer_port.tf_compat import nhwc_flatten, tf_conv2d
from chainer_port.twin import ChainerTwin
from common.tf_startup import import_tensorflow
from data import Dataset
from spec import InputSpec, Layer, Optimizer, TwinPair, Variable
from spec.layout import Transpose
from tf_reference.twin import TFTwin

tf = import_tensorflow()  # quiet start-up, GPU memory growth, TF32 off

EPS = 1e-3  # Keras' LayerNormalization epsilon


def conv(name: str, source: str, cin: int, width: int, size: int, stride: int) -> Layer:
    return Layer(name, "conv_relu", (source,), (size, size, width), attrs={"stride": stride},
                 variables=(Variable(f"{name}/kernel", (3, 3, cin, width), Transpose.KERNEL,
                                     "xavier_uniform"),
                            Variable(f"{name}/bias", (width,), init="zeros")))


def build(preset: dict) -> list[Layer]:
    w = preset["width"]
    return [conv("conv1", "image", 3, w, 16, 1),
            Layer("norm1", "layer_norm", ("conv1",), (16, 16, w), variables=(
                Variable("norm1/gamma", (w,), init="ones"),
                Variable("norm1/beta", (w,), init="zeros"))),
            conv("conv2", "norm1", w, w, 8, 2),
            Layer("dense", "dense", ("conv2",), (3,), variables=(
                Variable("dense/kernel", (8 * 8 * w, 3), Transpose.MATRIX, "xavier_uniform"),
                Variable("dense/bias", (3,), init="zeros"))),
            Layer("loss", "mse", ("dense", "target"), (), batch=None)]


def batches(data, split, batch_size, seed, start_step=0, preset=None):
    for frames in Dataset(data, split).batches(batch_size, seed, start_step=start_step):
        yield {"image": frames[:, 0, ::4, ::4], "target": frames[:, 1].mean(axis=(1, 2))}


PAIR = TwinPair(
    name="tiny_regressor", title="conv, LayerNorm, conv, dense (an outside pair)",
    presets={"small": {"width": 4}}, build=build,
    inputs=lambda p: (InputSpec("image", ("h", "w", "c"), (16, 16, 3)),
                      InputSpec("target", ("c",), (3,), differentiable=False)),
    noise=lambda p: (), loss="loss", losses={"loss": "loss"},
    optimizer=Optimizer("sgd", lambda step: 0.1),
    twins={"tf": "tests.outside_pair:TFRegressor",
           "chainer": "tests.outside_pair:ChainerRegressor"},
    batches=batches, named_taps={"output": "dense"})


class TFRegressor(TFTwin):
    pair = PAIR

    def var(self, layer: Layer, leaf: str) -> tf.Variable:
        return self.named_variables[f"{layer.name}/{leaf}"]

    def _conv_relu(self, layer, x, training):
        y = tf.nn.conv2d(x, self.var(layer, "kernel"), layer.attrs["stride"], "SAME")
        return tf.nn.relu(y + self.var(layer, "bias"))

    def _layer_norm(self, layer, x, training):
        mean, variance = tf.nn.moments(x, [1, 2, 3], keepdims=True)
        y = (x - mean) * tf.math.rsqrt(variance + EPS)
        return y * self.var(layer, "gamma") + self.var(layer, "beta")

    def _dense(self, layer, x, training):
        flat = tf.reshape(x, [x.shape[0], -1])
        return flat @ self.var(layer, "kernel") + self.var(layer, "bias")

    def _mse(self, layer, y, target, training):
        return tf.reduce_mean(tf.square(y - target))


class ChainerRegressor(ChainerTwin):
    pair = PAIR

    def var(self, layer: Layer, leaf: str):
        return self.variable(f"{layer.name}/{leaf}")

    def _conv_relu(self, layer, x, training):
        y = tf_conv2d(x, self.var(layer, "kernel"), "SAME", layer.attrs["stride"])
        return F.relu(F.bias(y, self.var(layer, "bias"), axis=1))

    def _layer_norm(self, layer, x, training):
        mean = F.mean(x, axis=(1, 2, 3), keepdims=True)
        variance = F.mean(F.square(x - F.broadcast_to(mean, x.shape)), axis=(1, 2, 3),
                          keepdims=True)
        y = (x - F.broadcast_to(mean, x.shape)) / F.broadcast_to(F.sqrt(variance + EPS),
                                                                 x.shape)
        return F.bias(F.scale(y, self.var(layer, "gamma"), axis=1), self.var(layer, "beta"),
                      axis=1)

    def _dense(self, layer, x, training):
        return F.linear(nhwc_flatten(x), self.var(layer, "kernel"), self.var(layer, "bias"))

    def _mse(self, layer, y, target, training):
        return F.mean(F.square(y - target))


# epsilon at the scale of this pair's sqrt(v) (~3e-2 |g| at first), so that where it goes
# shows: at TF1's 1e-8 the paper's Algorithm 1 (epsilon added to the bias-corrected sqrt(v))
# moves this pair's weights by rounding only.
ADAM_PAIR = dataclasses.replace(
    PAIR, name="tiny_regressor_adam",
    optimizer=Optimizer("adam", lambda step: 1e-3, "Adam, lr 1e-3, epsilon 1e-3",
                        epsilon=1e-3),
    twins={"tf": "tests.outside_pair:TFAdamRegressor",
           "chainer": "tests.outside_pair:ChainerAdamRegressor"})


class TFAdamRegressor(TFRegressor):
    pair = ADAM_PAIR


class ChainerAdamRegressor(ChainerRegressor):
    pair = ADAM_PAIR
