"""The TensorFlow reference of seed 002's ConvLSTM encoder-forecaster, rebuilt from its
variable dump (docs/models/convlstm.md).

The graph is `spec.convlstm.build_spec(preset)`, unrolled over time; `apply` dispatches each
layer on its kind to the `_<kind>` method below. NHWC throughout. A cell's variables are read
by its scope (`layer.attrs["cell"]`), so every time step shares them.
"""

from __future__ import annotations

import tensorflow as tf

from spec.convlstm import PAIR
from spec.layer import Layer
from tf_reference.twin import TFTwin


class ConvLSTMModel(TFTwin):
    """Every variable of the dump (TF names and layout) and the encoder-forecaster's forward.
    The interface is `TFTwin`'s (docs/port-interface.md)."""

    pair = PAIR

    def var(self, scope: str, leaf: str) -> tf.Variable:
        return self.named_variables[f"{scope}/{leaf}"]

    # One method per layer kind ------------------------------------------------------------

    def _patches(self, layer: Layer, frames: tf.Tensor, training: bool) -> tf.Tensor:
        """Frame t, mean-pooled by `pool`, times `scale`, as `tf.nn.space_to_depth` patches."""
        frame = frames[:, layer.attrs["t"]] * layer.attrs["scale"]
        pool = layer.attrs["pool"]
        if pool > 1:
            frame = tf.nn.avg_pool2d(frame, pool, pool, "VALID")
        return tf.nn.space_to_depth(frame, layer.attrs["patch"])

    def _convlstm(self, layer: Layer, *inputs: tf.Tensor, training: bool) -> tf.Tensor:
        """One peephole ConvLSTM step (Shi et al. 2015, eq. 3), state = concat(c, h):
        i = sigm(Wxi*x + Whi*h + wci.c + bi), f = sigm(Wxf*x + Whf*h + wcf.c + bf + forget_bias),
        c' = f.c + i.tanh(Wxc*x + Whc*h + bc), o = sigm(Wxo*x + Who*h + wco.c' + bo),
        h' = o.tanh(c'). A missing x adds nothing; a missing state is zeros."""
        attrs, scope = layer.attrs, layer.attrs["cell"]
        x = inputs[0] if attrs["has_x"] else None
        width = attrs["width"]
        if attrs["has_state"]:
            c, h = tf.split(inputs[-1], 2, axis=-1)
        else:
            batch = inputs[0].shape[0]
            grid = layer.shape[0]
            c = h = tf.zeros([batch, grid, grid, width])

        def gate(name: str) -> tf.Tensor:
            total = tf.nn.conv2d(h, self.var(scope, f"{name}h2state/kernel"), 1, "SAME")
            total += self.var(scope, f"{name}h2state/bias")
            if x is not None:
                total += tf.nn.conv2d(x, self.var(scope, f"{name}x2state/kernel"), 1, "SAME")
            return total

        i = tf.sigmoid(gate("input") + self.var(scope, "inputc") * c)
        f = tf.sigmoid(gate("forget") + self.var(scope, "forgetc") * c + attrs["forget_bias"])
        c_new = f * c + i * tf.tanh(gate("cell"))
        o = tf.sigmoid(gate("output") + self.var(scope, "outputc") * c_new)
        return tf.concat([c_new, o * tf.tanh(c_new)], axis=-1)

    def _hidden(self, layer: Layer, state: tf.Tensor, training: bool) -> tf.Tensor:
        return state[..., layer.attrs["width"]:]

    def _concat(self, layer: Layer, *xs: tf.Tensor, training: bool) -> tf.Tensor:
        return tf.concat(xs, axis=-1)

    def _conv1x1(self, layer: Layer, x: tf.Tensor, training: bool) -> tf.Tensor:
        scope = layer.attrs["scope"]
        return (tf.nn.conv2d(x, self.var(scope, "kernel"), 1, "VALID")
                + self.var(scope, "bias"))

    def _frame(self, layer: Layer, patches: tf.Tensor, training: bool) -> tf.Tensor:
        frame = tf.nn.depth_to_space(patches, layer.attrs["patch"])
        return tf.sigmoid(frame) if layer.attrs["output"] == "sigmoid" else frame

    def _sse_loss(self, layer: Layer, frames: tf.Tensor, *predictions: tf.Tensor,
                  training: bool) -> tf.Tensor:
        """Squared error summed over the predicted frames' pixels, averaged over the batch;
        targets pooled and scaled as the inputs are."""
        first, pool = layer.attrs["first"], layer.attrs["pool"]
        total = 0.0
        for k, prediction in enumerate(predictions):
            target = frames[:, first + k] * layer.attrs["scale"]
            if pool > 1:
                target = tf.nn.avg_pool2d(target, pool, pool, "VALID")
            total += tf.reduce_sum(tf.square(prediction - target))
        return total / frames.shape[0]
