"""An outside pair (docs/port-interface.md only): conv3d over a clip, attention across time,
LayerNorm, dense (a kind of the twin bases); TF1's RMSProp with slim's epsilon 1.0."""

import chainer.functions as F

from chainer_port.tf_compat import tf_conv, tf_layer_norm
from chainer_port.twin import ChainerTwin
from common.tf_startup import import_tensorflow
from data import Dataset
from spec import InputSpec, Layer, Optimizer, TwinPair, Variable
from spec.layout import Activation, Transpose
from tf_reference.twin import TFTwin

tf = import_tensorflow()


def build(p):
    t, w, m = p["clip"], p["width"], Transpose.MATRIX
    return [Layer("conv", "conv3d", ("clip",), (t, 16, 16, w), layout=Activation.CHANNELS_FIRST,
                  variables=(Variable("conv/kernel", (3, 3, 3, 1, w), Transpose.KERNEL,
                                      "he_normal"), Variable("conv/bias", (w,)))),
            Layer("tokens", "relu_pool", ("conv",), (t, w)),
            Layer("attention", "attention", ("tokens",), (t, t), variables=tuple(
                Variable(f"attention/{n}", (w, w), m, "glorot_uniform") for n in "qk")),
            Layer("attend", "attend", ("attention", "tokens"), (t, w),
                  variables=(Variable("attend/value", (w, w), m, "glorot_uniform"),)),
            Layer("norm", "layer_norm", ("attend",), (t, w), variables=(
                Variable("norm/gamma", (w,), init="ones"), Variable("norm/beta", (w,)))),
            Layer("dense", "dense", ("norm",), (1,), variables=(
                Variable("dense/kernel", (t * w, 1), m, "glorot_uniform"),
                Variable("dense/bias", (1,)))),
            Layer("loss", "mse", ("dense", "target"), (), batch=None)]


def batches(data, split, batch_size, seed, start_step=0, preset=None):
    t = preset["clip"]
    for frames in Dataset(data, split).batches(batch_size, seed, start_step=start_step):
        yield {"clip": frames[:, :t, ::4, ::4], "target": frames[:, t].mean(axis=(1, 2))}


PAIR = TwinPair(
    name="clip_attention", title="conv3d, attention over time, LayerNorm, dense; RMSProp",
    presets={"small": {"clip": 4, "width": 4}}, build=build,
    inputs=lambda p: (InputSpec("clip", ("time", "h", "w", "c"), (p["clip"], 16, 16, 1),
                                layout=Activation.CHANNELS_FIRST),
                      InputSpec("target", ("c",), (1,), differentiable=False)),
    noise=lambda p: (), loss="loss", losses={"loss": "loss"},
    optimizer=Optimizer("rmsprop", lambda step: 0.01, "RMSProp 0.01, slim's epsilon 1.0",
                        epsilon=1.0),
    twins={"tf": "tests.outside_clip_pair:TFClip",
           "chainer": "tests.outside_clip_pair:ChainerClip"}, batches=batches)


class TFClip(TFTwin):
    pair = PAIR

    def _conv3d(self, layer, x, training):
        y = tf.nn.conv3d(x, self.variable("conv/kernel"), [1] * 5, "SAME")
        return y + self.variable("conv/bias")

    def _relu_pool(self, layer, x, training):
        return tf.reduce_mean(tf.nn.relu(x), axis=[2, 3])

    def _attention(self, layer, x, training):
        q, k = (x @ self.variable(f"attention/{name}") for name in "qk")
        return tf.nn.softmax(q @ tf.transpose(k, [0, 2, 1]) / x.shape[-1] ** 0.5, axis=-1)

    def _attend(self, layer, weights, x, training):
        return weights @ (x @ self.variable("attend/value"))

    def _layer_norm(self, layer, x, training):
        mean, variance = tf.nn.moments(x, [-1], keepdims=True)
        y = (x - mean) * tf.math.rsqrt(variance + 1e-3)
        return y * self.variable("norm/gamma") + self.variable("norm/beta")


class ChainerClip(ChainerTwin):
    pair = PAIR

    def _conv3d(self, layer, x, training):  # TF's SAME for any rank
        y = tf_conv(x, self.variable("conv/kernel"), "SAME")
        return F.bias(y, self.variable("conv/bias"), axis=1)

    def _relu_pool(self, layer, x, training):  # (N, C, T, H, W) -> tokens (N, T, C)
        return F.swapaxes(F.mean(F.relu(x), axis=(3, 4)), 1, 2)

    def _attention(self, layer, x, training):
        q, k = (F.linear(x, self.variable(f"attention/{name}"), n_batch_axes=2) for name in "qk")
        return F.softmax(F.matmul(q, k, transb=True) / x.shape[-1] ** 0.5, axis=2)

    def _attend(self, layer, weights, x, training):
        return F.matmul(weights, F.linear(x, self.variable("attend/value"), n_batch_axes=2))

    def _layer_norm(self, layer, x, training):
        return tf_layer_norm(x, self.variable("norm/gamma"), self.variable("norm/beta"), (2,),
                             1e-3, param_axis=2)
