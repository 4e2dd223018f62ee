"""The TensorFlow reference of o-tawab/Video-Pixel-Networks' VPN (seed 004), written as its
code computes it (`model.py`, `layers.py`; docs/models/vpn.md).

The graph is `spec.vpn.build_spec(preset)`, unrolled over the warm-up and the truncated
steps; `apply` dispatches each layer on its kind to the `_<kind>` method below (the ConvLSTM
is the bases' `basic_conv_lstm`). NHWC throughout; a block's variables are read by its
scope, as `tf.make_template` shares them.
"""

from __future__ import annotations

import tensorflow as tf

from spec.layer import Layer
from spec.tf_geometry import pixelcnn_mask
from spec.vpn import PAIR
from spec.vpn.graph import CLASSES, UNIT_GATES
from tf_reference.twin import TFTwin

ACTIVATIONS = {"g1": tf.sigmoid, "g2": tf.sigmoid, "g3": tf.sigmoid, "u": tf.tanh}


class VPNModel(TFTwin):
    """Every variable of the code (TF names and layout) and its forward. The interface is
    `TFTwin`'s (docs/port-interface.md)."""

    pair = PAIR

    def conv(self, x: tf.Tensor, scope: str, dilation: int = 1, mask: str | None = None,
             masked_channels: int = 0) -> tf.Tensor:
        """tf.layers.conv2d(padding="same", dilation_rate) or masked_conv2d (the kernel times
        its PixelCNN mask): conv and bias."""
        if mask is None:
            kernel, bias = self.variable(f"{scope}/kernel"), self.variable(f"{scope}/bias")
        else:
            kernel, bias = self.variable(f"{scope}/weights"), self.variable(f"{scope}/biases")
            k, _, cin, cout = kernel.shape
            kernel = kernel * pixelcnn_mask(k, cin, cout, mask, masked_channels)
        y = tf.nn.conv2d(x, kernel, 1, "SAME", dilations=dilation)
        return tf.nn.bias_add(y, bias)

    def unit(self, h: tf.Tensor, scope: str, dilation: int = 1, mask: str | None = None,
             masked_channels: int = 0, g2_times_h: bool = True) -> tf.Tensor:
        """A multiplicative unit: g1 * tanh(g2 * h + g3 * u), the gates sigmoid, u tanh."""
        g1, g2, g3, u = (ACTIVATIONS[gate](self.conv(h, f"{scope}/{gate}", dilation, mask,
                                                      masked_channels)) for gate in UNIT_GATES)
        return g1 * tf.tanh((g2 * h if g2_times_h else g2) + g3 * u)

    # One method per layer kind ------------------------------------------------------------

    def _input_conv(self, layer: Layer, frames: tf.Tensor, training: bool) -> tf.Tensor:
        """`input_conv`: a 1x1 conv of the frame (raw 0 .. 255) to 2c channels."""
        return self.conv(frames[:, layer.attrs["frame"]], layer.attrs["scope"])

    def _rmb(self, layer: Layer, h: tf.Tensor, training: bool) -> tf.Tensor:
        """residual_multiplicative_block_without_mask: h + h4(MU(MU(h1(h))))."""
        scope, dilation = layer.attrs["scope"], layer.attrs["dilation"]
        x = self.conv(h, f"{scope}/h1")
        for number in (1, 2):
            x = self.unit(x, f"{scope}/multiplicative_unit_without_mask_{number}", dilation)
        return h + self.conv(x, f"{scope}/h4")

    def _masked_rmb(self, layer: Layer, h: tf.Tensor, *frames: tf.Tensor, training: bool
                    ) -> tf.Tensor:
        """residual_multiplicative_block_with_mask: the first concatenates the current frame
        with h1 (c - 1 channels) and masks it (`first_mask`, the frame's one channel hidden
        under A); every other unit mask B; the last gives the logits, without the residual."""
        a = layer.attrs
        scope = a["scope"]
        x = self.conv(h, f"{scope}/h1")
        unit = f"{scope}/multiplicative_unit_with_mask"
        if a["first"]:
            x = tf.concat([frames[0][:, a["frame"]], x], axis=3)
            mask = a["first_mask"]
            x = self.unit(x, f"{unit}_1", mask=mask, masked_channels=1,
                          g2_times_h=mask == "B" or a["mask_a_gate"] == "g2_h")
        else:
            x = self.unit(x, f"{unit}_1", mask="B", masked_channels=x.shape[-1])
        x = self.unit(x, f"{unit}_2", mask="B", masked_channels=x.shape[-1])
        out = self.conv(x, f"{scope}/h4")
        return out if a["last"] else h + out

    def _stop_gradient(self, layer: Layer, state: tf.Tensor, training: bool) -> tf.Tensor:
        """The warm-up's last LSTM state, a constant of the training pass (a run of its own
        in trainer.py)."""
        return tf.stop_gradient(state)

    def _hidden(self, layer: Layer, state: tf.Tensor, training: bool) -> tf.Tensor:
        return state[..., layer.attrs["width"]:]

    def _pixel_cross_entropy(self, layer: Layer, frames: tf.Tensor, *logits: tf.Tensor,
                             training: bool) -> tf.Tensor:
        """mean(softmax_cross_entropy_with_logits(logits, one_hot(int32(frames), 256))) over
        the training pass's frames 1 .. T."""
        first = layer.attrs["first"]
        targets = tf.cast(frames[:, first:first + len(logits), ..., 0], tf.int32)
        labels = tf.one_hot(targets, CLASSES, axis=-1, dtype=tf.float32)
        stacked = tf.stack(logits, axis=1)
        return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=labels,
                                                                      logits=stacked))
