"""The TensorFlow reference of the seed's cross-conv graph (docs/port-interface.md).

The graph is `spec.cross_conv.build_spec(preset)`, run by `spec.layer.run_graph`; `apply`
dispatches each layer on its kind to the `_<kind>` method below, each a transcription of the
seed's TF1 ops. NHWC throughout. `forward`, `gradients` and `train_step` run through
`tf.function`, traced once per input shape (and training flag / overrides given): the seed's
per-sample cross convolution unstacks the batch, so the batch size must be static
(`reduce_retracing` would relax it to None after a second shape and break the unstack).
"""

from __future__ import annotations

from collections import OrderedDict

import tensorflow as tf

from spec.cross_conv import PAIR
from spec.layer import Layer
from tf_reference.layers import ConvBN, Deconv
from tf_reference.twin import TFTwin


class CrossConvModel(TFTwin):
    """Every variable of the preset's graph (TF names, TF layout) and the seed's forward pass.
    The interface is `TFTwin`'s (docs/port-interface.md)."""

    pair = PAIR

    def build_variables(self, seed: int) -> list[tuple[str, tf.Variable]]:
        """slim's conv / deconv blocks, drawn from one seeded TF generator in graph order."""
        init_rng, _ = tf.random.Generator.from_seed(seed).split(2)
        self.blocks: OrderedDict[str, ConvBN | Deconv] = OrderedDict(
            (layer.name, _BLOCKS[layer.kind](layer, init_rng))
            for layer in self.layers if layer.kind in _BLOCKS)
        return [item for block in self.blocks.values()
                for item in block.named_variables.items()]

    # One method per layer kind ------------------------------------------------------------

    def _resize(self, layer: Layer, frames: tf.Tensor, training: bool) -> tf.Tensor:
        """frames * scale, then every frame resized like TF1's tf.image.resize_images
        (bilinear, align_corners=False, no half-pixel centres: src = dst * in / out).

        That is the ResizeBilinear op `tf.compat.v1.image.resize_bilinear` wraps, called
        directly to skip its deprecation warning; at equal sizes it is the identity."""
        size = layer.attrs["size"]
        frames = frames * layer.attrs["scale"]
        batch, length, height, width, channels = frames.shape
        flat = tf.reshape(frames, [batch * length, height, width, channels])
        resized = tf.raw_ops.ResizeBilinear(images=flat, size=[size, size], align_corners=False,
                                            half_pixel_centers=False)
        return tf.reshape(resized, [batch, length, size, size, channels])

    def _pair_image(self, layer: Layer, frames: tf.Tensor, training: bool) -> tf.Tensor:
        """Frames 0..L-2 stacked pair-major on the batch axis (`tf.concat(0, images[:-1])`)."""
        return tf.concat(tf.unstack(frames, axis=1)[:-1], axis=0)

    def _pair_diff(self, layer: Layer, frames: tf.Tensor, training: bool) -> tf.Tensor:
        """Next frame minus this frame, stacked like `_pair_image`, shifted: (d + scale) / 2."""
        images = tf.unstack(frames, axis=1)
        diffs = tf.concat([images[i + 1] - images[i] for i in range(len(images) - 1)], axis=0)
        return (diffs + layer.attrs["scale"]) / 2

    def _concat(self, layer: Layer, *inputs: tf.Tensor, training: bool) -> tf.Tensor:
        return tf.concat(inputs, axis=3)

    def _conv(self, layer: Layer, x: tf.Tensor, training: bool) -> tf.Tensor:
        return self.blocks[layer.name](x, training)

    def _deconv(self, layer: Layer, x: tf.Tensor, training: bool) -> tf.Tensor:
        return self.blocks[layer.name](x, training)

    def _max_pool(self, layer: Layer, x: tf.Tensor, training: bool) -> tf.Tensor:
        """slim.max_pool2d: stride 2; SAME pads bottom/right first and padding never wins."""
        return tf.nn.max_pool2d(x, ksize=layer.attrs["kernel"], strides=layer.attrs["stride"],
                                padding=layer.attrs["padding"])

    def _z_split(self, layer: Layer, x: tf.Tensor, training: bool) -> tf.Tensor:
        """Flatten NHWC to [B', 2 * z_dim]; part 0 is z_mean, part 1 z_stddev_log."""
        z = tf.reshape(x, [x.shape[0], -1])
        return tf.split(z, 2, axis=1)[layer.attrs["part"]]

    def _sample_kernel(self, layer: Layer, z_mean: tf.Tensor, z_stddev_log: tf.Tensor,
                       epsilon: tf.Tensor, training: bool) -> tf.Tensor:
        """z_mean + exp(z_stddev_log) * epsilon, reshaped NHWC to [B', k, k, kc]."""
        kernel = z_mean + tf.multiply(tf.exp(z_stddev_log), epsilon)
        return tf.reshape(kernel, [kernel.shape[0], *layer.shape])

    def _cross_conv(self, layer: Layer, features: tf.Tensor, kernel: tf.Tensor,
                    training: bool) -> tf.Tensor:
        """The seed's per-sample depthwise conv (SAME) of the features with this level's
        channels of that sample's kernel."""
        kernel = tf.split(kernel, layer.attrs["parts"], axis=3)[layer.attrs["part"]]
        samples = zip(tf.unstack(features, axis=0), tf.unstack(kernel, axis=0), strict=True)
        return tf.concat([tf.nn.depthwise_conv2d(tf.expand_dims(image, 0),
                                                 tf.expand_dims(k, 3), [1, 1, 1, 1], "SAME")
                          for image, k in samples], axis=0)

    def _l2_loss(self, layer: Layer, output: tf.Tensor, target: tf.Tensor, training: bool
                 ) -> tf.Tensor:
        return tf.reduce_mean(tf.square(output - target))

    def _kl_loss(self, layer: Layer, z_mean: tf.Tensor, z_stddev_log: tf.Tensor,
                 training: bool) -> tf.Tensor:
        """0.5 * mean(z_mean^2 + exp(z_stddev_log)^2 - 2 * z_stddev_log - 1)."""
        return 0.5 * tf.reduce_mean(tf.square(z_mean) + tf.square(tf.exp(z_stddev_log))
                                    - 2 * z_stddev_log - 1)

    def _add(self, layer: Layer, a: tf.Tensor, b: tf.Tensor, training: bool) -> tf.Tensor:
        return a + b


_BLOCKS = {"conv": ConvBN, "deconv": Deconv}

