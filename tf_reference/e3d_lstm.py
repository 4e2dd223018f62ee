"""The TensorFlow reference of google/e3d_lstm's E3D-LSTM (seed 003), written as its code
computes it (`src/layers/rnn_cell.py`, `src/models/eidetic_3d_lstm_net.py`;
docs/models/e3d_lstm.md).

The graph is `spec.e3d_lstm.build_spec(preset)`, unrolled over time; `apply` dispatches each
layer on its kind to the `_<kind>` method below. NDHWC for the cells' [B, 2, W, H, C] volumes,
NHWC for single frames. A cell's variables are read by its scope, so every step shares them.
"""

from __future__ import annotations

import tensorflow as tf

from spec.e3d_lstm import PAIR
from spec.layer import Layer
from tf_reference.layers import contrib_layer_norm
from tf_reference.twin import TFTwin


class E3DLSTMModel(TFTwin):
    """Every variable of the code (TF names and layout) and its forward. The interface is
    `TFTwin`'s (docs/port-interface.md)."""

    pair = PAIR

    def conv3d(self, x: tf.Tensor, scope: str, strides: tuple[int, ...] = (1, 1, 1)
               ) -> tf.Tensor:
        """tf.layers.conv3d(x, ..., padding="same"): the conv and its bias."""
        y = tf.nn.conv3d(x, self.variable(f"{scope}/kernel"), [1, *strides, 1], "SAME")
        return tf.nn.bias_add(y, self.variable(f"{scope}/bias"))

    # One method per layer kind ------------------------------------------------------------

    def _reshape_patch(self, layer: Layer, frames: tf.Tensor, training: bool) -> tf.Tensor:
        """preprocess.reshape_patch (numpy in the code, before the feed): [B, L, H, W, C] ->
        [B, L, H / p, W / p, p * p * C], channel (dy * p + dx) * C + c."""
        p = layer.attrs["patch"]
        b, n, h, w, c = frames.shape
        a = tf.reshape(frames, [b, n, h // p, p, w // p, p, c])
        return tf.reshape(tf.transpose(a, [0, 1, 2, 4, 3, 5, 6]),
                          [b, n, h // p, w // p, p * p * c])

    def _sampled_frame(self, layer: Layer, images: tf.Tensor, *sampling: tf.Tensor,
                       training: bool) -> tf.Tensor:
        """Frame t: the true one while t < input_length; then real_input_flag * true +
        (1 - real_input_flag) * x_gen, the flag 1 where the sample's coin < eta."""
        true = images[:, layer.attrs["t"]]
        if not sampling:
            return true
        coins, eta, generated = sampling
        flag = tf.cast(coins[:, layer.attrs["coin"]] < eta[:, 0], tf.float32)
        flag = tf.reshape(flag, [-1, 1, 1, 1])
        return flag * true + (1 - flag) * generated

    def _window(self, layer: Layer, *frames: tf.Tensor, training: bool) -> tf.Tensor:
        """`input_list[t:]` stacked on axis 1, input_list = [zeros] + frames 0..t."""
        listed = [tf.zeros_like(frames[0]), *frames]
        t = layer.attrs["t"]
        return tf.stack(listed[t:t + 2], axis=1)

    def _gate_conv(self, layer: Layer, source: tf.Tensor, training: bool) -> tf.Tensor:
        """`self._conv(state, n * C, [2, 5, 5])` then `self._norm(.., scope)` under
        layer_norm; a state not yet there (or the code's global memory) is zeros."""
        a = layer.attrs
        if a["zero_input"]:
            source = tf.zeros([source.shape[0], *layer.shape[:-1], a["state_width"]])
        y = self.conv3d(source, a["conv"])
        if a["norm"]:
            y = contrib_layer_norm(y, self.variable(f"{a['norm']}/beta"),
                                   self.variable(f"{a['norm']}/gamma"))
        return y

    def _recall(self, layer: Layer, x: tf.Tensor, h: tf.Tensor, *history: tf.Tensor,
                training: bool) -> tf.Tensor:
        """`_attn(r_t, c_history, c_history)`, r_t = sigmoid(r_x + r_h), c_history the zero
        state and every earlier cell, concatenated on axis 1: the softmax over the keys."""
        r_t = tf.sigmoid(split(x, 7)[2] + split(h, 4)[2])
        keys = tf.concat([tf.zeros_like(r_t), *history], axis=1)
        batch, channels = r_t.shape[0], r_t.shape[-1]
        query = tf.reshape(r_t, [batch, -1, channels])
        keys = tf.reshape(keys, [batch, -1, channels])
        attn = tf.nn.softmax(tf.matmul(query, keys, False, True), axis=2)
        return tf.reshape(tf.matmul(attn, keys), r_t.shape)

    def _eidetic_cell(self, layer: Layer, x: tf.Tensor, h: tf.Tensor, recall: tf.Tensor,
                      *cell: tf.Tensor, training: bool) -> tf.Tensor:
        """new_cell = norm_self_attn(cell + recall) + i_t * g_t."""
        i_x, g_x = split(x, 7)[:2]
        i_h, g_h = split(h, 4)[:2]
        old = cell[0] if cell else tf.zeros_like(recall)
        scope = f"{layer.attrs['scope']}/self_attn"
        normed = contrib_layer_norm(old + recall, self.variable(f"{scope}/beta"),
                                    self.variable(f"{scope}/gamma"))
        return normed + tf.sigmoid(i_x + i_h) * tf.tanh(g_x + g_h)

    def _global_memory(self, layer: Layer, x: tf.Tensor, m: tf.Tensor, training: bool
                       ) -> tf.Tensor:
        """temp_f * tanh(m_m) + temp_i * temp_g, the temporal gates from the input's last
        three and the memory conv's four."""
        temp_i_x, temp_g_x, temp_f_x = split(x, 7)[4:]
        i_m, f_m, g_m, m_m = split(m, 4)
        temp_i = tf.sigmoid(temp_i_x + i_m)
        temp_f = tf.sigmoid(temp_f_x + f_m + layer.attrs["forget_bias"])
        return temp_f * tf.tanh(m_m) + temp_i * tf.tanh(temp_g_x + g_m)

    def _eidetic_output(self, layer: Layer, x: tf.Tensor, h: tf.Tensor, cell: tf.Tensor,
                        memory: tf.Tensor, training: bool) -> tf.Tensor:
        """tanh(conv_1x1x1(concat(cell, memory))) * sigmoid(output_gate), output_gate =
        tanh(o_x + o_h + o_c + o_m) in the code (without the tanh in the paper)."""
        scope = layer.attrs["scope"]
        gate = (split(x, 7)[3] + split(h, 4)[3] + self.conv3d(cell, f"{scope}/conv3d_3")
                + self.conv3d(memory, f"{scope}/conv3d_4"))
        if layer.attrs["output_gate"] == "tanh_sigmoid":
            gate = tf.tanh(gate)
        mixed = self.conv3d(tf.concat([cell, memory], -1), f"{scope}/conv3d_5")
        return tf.tanh(mixed) * tf.sigmoid(gate)

    def _x_gen(self, layer: Layer, hidden: tf.Tensor, training: bool) -> tf.Tensor:
        """conv3d [window, 1, 1] stride [window, 1, 1] SAME: one frame; its depth axis
        squeezed (the code's `tf.squeeze` drops every size-1 axis: the batch too at 1)."""
        window = layer.attrs["window"]
        return tf.squeeze(self.conv3d(hidden, layer.attrs["scope"], (window, 1, 1)), axis=1)

    def _e3d_loss(self, layer: Layer, images: tf.Tensor, *generated: tf.Tensor,
                  training: bool) -> tf.Tensor:
        """l2_loss(gen_images - images[:, 1:]) + reduce_sum(|gen_images - images[:, 1:]|),
        summed over the batch."""
        diff = tf.stack(generated, axis=1) - images[:, 1:]
        return tf.nn.l2_loss(diff) + tf.reduce_sum(tf.abs(diff))

    def _per_sample(self, layer: Layer, loss: tf.Tensor, images: tf.Tensor, training: bool
                    ) -> tf.Tensor:
        """model_factory's loss_train: the loss divided by the batch size."""
        return loss / images.shape[0]


def split(value: tf.Tensor, parts: int) -> list[tf.Tensor]:
    return tf.split(value, parts, axis=-1)
