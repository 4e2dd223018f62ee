"""google/e3d_lstm's E3D-LSTM (seed 003) in Chainer: the spec's graph, the same methods and
layer names as the TF twin (`tf_reference/e3d_lstm.py`). NCDHW for the cells' volumes
(Chainer's `convolution_nd`), NCHW for single frames; a cell's variables are read by its TF
scope, so every step shares them.
"""

from __future__ import annotations

import chainer
import chainer.functions as F

from chainer_port.tf_compat import (
    tf_attention,
    tf_concat,
    tf_conv,
    tf_space_to_depth,
    tf_split,
)
from chainer_port.tf_video_ops import tf_layer_norm
from chainer_port.twin import ChainerTwin
from spec.e3d_lstm import PAIR
from spec.layer import Layer


class E3DLSTMModel(ChainerTwin):
    """The E3D-LSTM on channels-first Chainer arrays (NumPy or CuPy); the interface is
    `ChainerTwin`'s (docs/port-interface.md)."""

    pair = PAIR

    def conv3d(self, x: chainer.Variable, scope: str, strides: tuple[int, ...] = (1, 1, 1)
               ) -> chainer.Variable:
        """TF's conv3d SAME and its bias: `tf_conv` (TF's asymmetric SAME pads; the kernel's
        [d, h, w, in, out] is (out, in, d, h, w) here by `Transpose.KERNEL`)."""
        return tf_conv(x, self.kernel(scope), "SAME", strides,
                       bias=self.variable(f"{scope}/bias"))

    def kernel(self, scope: str) -> chainer.Variable:
        return self.variable(f"{scope}/kernel")

    def norm(self, x: chainer.Variable, scope: str) -> chainer.Variable:
        """tf.contrib.layers.layer_norm over every axis but the batch (`TFCompat.layer_norm`)."""
        return tf_layer_norm(x, self.variable(f"{scope}/beta"), self.variable(f"{scope}/gamma"),
                             self.tf_compat.layer_norm)

    # -- the graph -----------------------------------------------------------------------------

    def _reshape_patch(self, layer: Layer, frames: chainer.Variable, training: bool
                       ) -> chainer.Variable:
        """The code's reshape_patch is TF's space_to_depth of each frame ([B, L, C, H, W]
        here; `TFCompat.space_to_depth`)."""
        b, n = frames.shape[:2]
        flat = F.reshape(frames, (b * n, *frames.shape[2:]))
        patches = tf_space_to_depth(flat, layer.attrs["patch"], self.tf_compat.space_to_depth)
        return F.reshape(patches, (b, n, *patches.shape[1:]))

    def _sampled_frame(self, layer: Layer, images: chainer.Variable,
                       *sampling: chainer.Variable, training: bool) -> chainer.Variable:
        true = images[:, layer.attrs["t"]]
        if not sampling:
            return true
        coins, eta, generated = sampling
        coin = chainer.as_array(coins)[:, layer.attrs["coin"]]
        flag = (coin < chainer.as_array(eta)[:, 0]).astype(true.dtype).reshape(-1, 1, 1, 1)
        return F.broadcast_to(flag, true.shape) * true + F.broadcast_to(
            1 - flag, true.shape) * generated

    def _window(self, layer: Layer, *frames: chainer.Variable, training: bool
                ) -> chainer.Variable:
        """The code's input_list[t:t + 2] (led by a zero frame), stacked on the depth axis."""
        xp = chainer.backend.get_array_module(frames[0])
        listed = [xp.zeros_like(chainer.as_array(frames[0])), *frames]
        t = layer.attrs["t"]
        return F.stack(listed[t:t + 2], axis=2)

    def _gate_conv(self, layer: Layer, source: chainer.Variable, training: bool
                   ) -> chainer.Variable:
        a = layer.attrs
        if a["zero_input"]:
            xp = chainer.backend.get_array_module(source)
            shape = (source.shape[0], a["state_width"], *layer.shape[:-1])
            source = xp.zeros(shape, source.dtype)
        y = self.conv3d(source, a["conv"])
        return self.norm(y, a["norm"]) if a["norm"] else y

    def _recall(self, layer: Layer, x: chainer.Variable, h: chainer.Variable,
                *history: chainer.Variable, training: bool) -> chainer.Variable:
        """The TF twin's attention on [B, C, D, W, H]: positions in TF's (d, w, h) order."""
        r_t = F.sigmoid(split(x, 7)[2] + split(h, 4)[2])
        return self.attend(r_t, self.history(r_t, history))

    def history(self, r_t: chainer.Variable, cells: tuple[chainer.Variable, ...]
                ) -> chainer.Variable:
        """c_history: the zero state and every earlier cell, on the depth axis."""
        xp = chainer.backend.get_array_module(r_t)
        return F.concat([xp.zeros_like(r_t.array), *cells], axis=2)

    def attend(self, query: chainer.Variable, keys: chainer.Variable) -> chainer.Variable:
        """softmax(q k^T) over the keys, times the keys (values = keys, as the code calls it:
        `tf_attention`)."""
        q, k = positions(query), positions(keys)
        out = tf_attention(q, k, k)
        b, c, *volume = query.shape
        return F.transpose(F.reshape(out, (b, *volume, c)), (0, 4, 1, 2, 3))

    def _eidetic_cell(self, layer: Layer, x: chainer.Variable, h: chainer.Variable,
                      recall: chainer.Variable, *cell: chainer.Variable, training: bool
                      ) -> chainer.Variable:
        i_x, g_x = split(x, 7)[:2]
        i_h, g_h = split(h, 4)[:2]
        old = cell[0] if cell else recall * 0
        normed = self.norm(old + recall, f"{layer.attrs['scope']}/self_attn")
        return normed + F.sigmoid(i_x + i_h) * F.tanh(g_x + g_h)

    def _global_memory(self, layer: Layer, x: chainer.Variable, m: chainer.Variable,
                       training: bool) -> chainer.Variable:
        temp_i_x, temp_g_x, temp_f_x = split(x, 7)[4:]
        i_m, f_m, g_m, m_m = split(m, 4)
        temp_i = F.sigmoid(temp_i_x + i_m)
        temp_f = F.sigmoid(temp_f_x + f_m + layer.attrs["forget_bias"])
        return temp_f * F.tanh(m_m) + temp_i * F.tanh(temp_g_x + g_m)

    def _eidetic_output(self, layer: Layer, x: chainer.Variable, h: chainer.Variable,
                        cell: chainer.Variable, memory: chainer.Variable, training: bool
                        ) -> chainer.Variable:
        scope = layer.attrs["scope"]
        gate = (split(x, 7)[3] + split(h, 4)[3] + self.conv3d(cell, f"{scope}/conv3d_3")
                + self.conv3d(memory, f"{scope}/conv3d_4"))
        if layer.attrs["output_gate"] == "tanh_sigmoid":
            gate = F.tanh(gate)
        mixed = self.conv3d(tf_concat([cell, memory], axis=1), f"{scope}/conv3d_5")
        return F.tanh(mixed) * F.sigmoid(gate)

    def _x_gen(self, layer: Layer, hidden: chainer.Variable, training: bool
               ) -> chainer.Variable:
        window = layer.attrs["window"]
        return F.squeeze(self.conv3d(hidden, layer.attrs["scope"], (window, 1, 1)), axis=2)

    def _e3d_loss(self, layer: Layer, images: chainer.Variable,
                  *generated: chainer.Variable, training: bool) -> chainer.Variable:
        diff = F.stack(generated, axis=1) - images[:, 1:]
        return F.sum(F.square(diff)) / 2 + F.sum(F.absolute(diff))

    def _per_sample(self, layer: Layer, loss: chainer.Variable, images: chainer.Variable,
                    training: bool) -> chainer.Variable:
        return loss / images.shape[0]


def split(value: chainer.Variable, parts: int) -> tuple[chainer.Variable, ...]:
    return tf_split(value, parts, axis=1)


def positions(volume: chainer.Variable) -> chainer.Variable:
    """[B, C, D, W, H] -> [B, D * W * H, C], TF's reshape of [B, D, W, H, C] to [B, -1, C]."""
    b, c = volume.shape[:2]
    return F.reshape(F.transpose(volume, (0, 2, 3, 4, 1)), (b, -1, c))
