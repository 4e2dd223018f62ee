"""An outside pair (docs/port-interface.md only): a ConvLSTM over a clip, its gates a dilated
3x3 conv of the frame and the last hidden state, a dense head on the last step; TF1's Nesterov
Momentum. `twinport parity --model tests.outside_recurrent_pair:PAIR`."""

import chainer.functions as F

from chainer_port.tf_compat import tf_conv
from chainer_port.twin import ChainerTwin
from common.tf_startup import import_tensorflow
from data import Dataset
from spec import InputSpec, Layer, Optimizer, TwinPair, Variable
from spec.layout import Transpose
from tf_reference.twin import TFTwin

tf = import_tensorflow()


def build(p):
    t, w = p["clip"], p["width"]
    layers = []
    for k in range(t):
        state = (f"lstm_{k - 1}",) if k else ()
        layers += [Layer(f"lstm_{k}/gates", "gates", ("clip", *state), (16, 16, 4 * w),
                         attrs={"t": k}, variables=() if k else (
                             Variable("lstm/kernel", (3, 3, 1 + w, 4 * w), Transpose.KERNEL,
                                      "glorot_uniform"), Variable("lstm/bias", (4 * w,)))),
                   Layer(f"lstm_{k}", "cell", (f"lstm_{k}/gates", *state), (16, 16, 2 * w))]
    return [*layers, Layer("dense", "dense", (f"lstm_{t - 1}",), (1,), variables=(
        Variable("dense/kernel", (16 * 16 * 2 * w, 1), Transpose.MATRIX, "glorot_uniform"),
        Variable("dense/bias", (1,)))), Layer("loss", "mse", ("dense", "target"), (), batch=None)]


def batches(data, split, batch_size, seed, start_step=0, preset=None):
    t = preset["clip"]
    for frames in Dataset(data, split).batches(batch_size, seed, start_step=start_step):
        yield {"clip": frames[:, :t, ::4, ::4], "target": frames[:, t].mean(axis=(1, 2))}


PAIR = TwinPair(
    name="conv_lstm", title="a ConvLSTM with dilated gates, dense; Nesterov Momentum",
    presets={"small": {"clip": 4, "width": 4}}, build=build,
    inputs=lambda p: (InputSpec("clip", ("time", "h", "w", "c"), (p["clip"], 16, 16, 1)),
                      InputSpec("target", ("c",), (1,), differentiable=False)),
    noise=lambda p: (), loss="loss", losses={"loss": "loss"},
    optimizer=Optimizer("momentum", lambda step: 0.01, "Nesterov momentum 0.9, lr 0.01",
                        use_nesterov=True),
    twins={"tf": "tests.outside_recurrent_pair:TFLSTM",
           "chainer": "tests.outside_recurrent_pair:ChainerLSTM"}, batches=batches)


class TFLSTM(TFTwin):
    pair = PAIR

    def _gates(self, layer, clip, state=None, training=False):
        x = clip[:, layer.attrs["t"]]
        x = x if state is None else tf.concat([x, tf.split(state, 2, axis=-1)[0]], -1)
        y = tf.nn.conv2d(x, self.variable("lstm/kernel")[:, :, :x.shape[-1]], 1, "SAME",
                         dilations=2)
        return y + self.variable("lstm/bias")

    def _cell(self, layer, gates, state=None, training=False):
        i, j, f, o = tf.split(gates, 4, axis=-1)
        c = tf.sigmoid(i) * tf.tanh(j)
        if state is not None:
            c += tf.sigmoid(f + 1.0) * tf.split(state, 2, axis=-1)[1]
        return tf.concat([tf.sigmoid(o) * tf.tanh(c), c], -1)


class ChainerLSTM(ChainerTwin):
    pair = PAIR

    def _gates(self, layer, clip, state=None, training=False):
        x = clip[:, layer.attrs["t"]]
        x = x if state is None else F.concat([x, F.split_axis(state, 2, axis=1)[0]], 1)
        kernel = self.variable("lstm/kernel")[:, :x.shape[1]]
        return F.bias(tf_conv(x, kernel, "SAME", dilation=2), self.variable("lstm/bias"))

    def _cell(self, layer, gates, state=None, training=False):
        i, j, f, o = F.split_axis(gates, 4, axis=1)
        c = F.sigmoid(i) * F.tanh(j)
        if state is not None:
            c += F.sigmoid(f + 1.0) * F.split_axis(state, 2, axis=1)[1]
        return F.concat([F.sigmoid(o) * F.tanh(c), c], 1)
