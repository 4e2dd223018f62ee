"""The TensorFlow 2.15 reference of the seed's cross-conv graph (docs/port-interface.md).

The graph is `spec.build_spec(preset)`, run by `spec.run_graph`; `apply` dispatches each layer
on its kind to the `_<kind>` method below, each a transcription of the seed's TF1 ops. NHWC
throughout. `forward`, `gradients` and `train_step` run through `tf.function`, traced once per
input shape (and training flag / overrides given): the seed's per-sample cross convolution
unstacks the batch, so the batch size must be static (`reduce_retracing` would relax it to
None after a second shape and break the unstack).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorflow as tf

from common.errors import UserError
from spec import ForwardResult, Layer, Preset, build_spec, get_preset, learning_rate, run_graph
from spec.layers import EPSILON, FRAMES, KL_LOSS, L2_LOSS, LOSS, Z_MEAN, Z_STDDEV_LOG
from spec.weights import InterchangeFile, check_weights, is_trainable
from tf_reference.device import tf_device
from tf_reference.layers import ConvBN, Deconv

ArrayLike = np.ndarray | tf.Tensor


class CrossConvModel(InterchangeFile, tf.Module):
    """Every variable of the preset's graph (TF names, TF layout) and the seed's forward pass.

    preset: a preset name or a `spec.Preset`. seed: seeds the initialisers and the epsilon
    drawn when none is given. device: "cpu" or a GPU id ("0", "gpu:0").
    """

    layout = "NHWC"

    def __init__(self, preset: str | Preset = "paper", seed: int = 0, device: str = "cpu"
                 ) -> None:
        super().__init__(name="cross_conv")
        self.preset = preset if isinstance(preset, Preset) else get_preset(preset)
        self.layers = build_spec(self.preset)
        self.device = tf_device(device)
        self._layer_by_name = {layer.name: layer for layer in self.layers}
        with tf.device(self.device):
            init_rng, self.noise_rng = tf.random.Generator.from_seed(seed).split(2)
            self.blocks: OrderedDict[str, ConvBN | Deconv] = OrderedDict(
                (layer.name, _BLOCKS[layer.kind](layer, init_rng))
                for layer in self.layers if layer.kind in _BLOCKS)
        self.named_variables: OrderedDict[str, tf.Variable] = OrderedDict(
            item for block in self.blocks.values() for item in block.named_variables.items())
        self._trainable_names = [name for name in self.named_variables if is_trainable(name)]
        self._trainable = [self.named_variables[name] for name in self._trainable_names]

    # The interface -----------------------------------------------------------------------

    def forward(self, frames: ArrayLike, epsilon: ArrayLike | None = None,
                z_mean: ArrayLike | None = None, z_stddev_log: ArrayLike | None = None,
                training: bool = False) -> ForwardResult:
        """The whole graph on frames [B, L, H, W, C]; with training, BatchNorm uses (and
        updates the moving averages from) the batch statistics."""
        with tf.device(self.device):
            frames = self._frames(frames)
            overrides = {name: self._z_input(frames, value, name) for name, value in
                         ((Z_MEAN, z_mean), (Z_STDDEV_LOG, z_stddev_log)) if value is not None}
            taps = self._taps(frames, self._epsilon(frames, epsilon), overrides, bool(training))
        return ForwardResult.from_taps(self.layers, taps)

    def run_layer(self, name: str, inputs: list[ArrayLike], training: bool = False) -> tf.Tensor:
        """One spec layer, eagerly, on the given inputs (NHWC)."""
        if name not in self._layer_by_name:
            raise UserError(f"no layer named {name!r} in the {self.preset.name} graph")
        with tf.device(self.device):
            return self.apply(self._layer_by_name[name], [_float32(x) for x in inputs],
                              training)

    def gradients(self, frames: ArrayLike, epsilon: ArrayLike | None, training: bool = True
                  ) -> tuple[ForwardResult, OrderedDict[str, np.ndarray], np.ndarray]:
        """d loss/loss by every variable (TF names and layout; zeros for the moving statistics
        and unconnected ones) and by the frames. In training mode the forward updates the
        moving statistics, like every training forward."""
        with tf.device(self.device):
            frames = self._frames(frames)
            taps, frames_grad, grads = self._gradients(
                frames, self._epsilon(frames, epsilon), bool(training))
        by_name = dict(zip(self._trainable_names, grads, strict=True))
        named = OrderedDict(
            (name, self.to_numpy(by_name[name]) if name in by_name
             else np.zeros(variable.shape, np.float32))
            for name, variable in self.named_variables.items())
        return ForwardResult.from_taps(self.layers, taps), named, self.to_numpy(frames_grad)

    def train_step(self, frames: ArrayLike, epsilon: ArrayLike | None, step: int | float,
                   lr: float | None = None) -> dict[str, Any]:
        """One plain SGD step at `lr` (default spec.learning_rate(step)), training mode."""
        lr = learning_rate(float(step)) if lr is None else float(lr)
        with tf.device(self.device):
            frames = self._frames(frames)
            loss, l2_loss, kl_loss, z_mean, z_stddev_log = self._train(
                frames, self._epsilon(frames, epsilon), tf.constant(lr, tf.float32))
        return {"loss": float(loss), "l2_loss": float(l2_loss), "kl_loss": float(kl_loss),
                "lr": lr, "z_mean": self.to_numpy(z_mean),
                "z_stddev_log": self.to_numpy(z_stddev_log)}

    def get_weights(self) -> OrderedDict[str, np.ndarray]:
        return OrderedDict((name, variable.numpy().astype(np.float32))
                           for name, variable in self.named_variables.items())

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        check_weights(weights, self.layers, "set_weights")
        for name, variable in self.named_variables.items():
            variable.assign(weights[name])

    @staticmethod
    def to_numpy(value: Any) -> np.ndarray:
        return np.asarray(value, dtype=np.float32)

    # Traced bodies -------------------------------------------------------------------------

    def _run(self, frames: tf.Tensor, epsilon: tf.Tensor, overrides: Mapping[str, tf.Tensor],
             training: bool) -> OrderedDict[str, tf.Tensor]:
        return run_graph(self.layers, lambda layer, inputs: self.apply(layer, inputs, training),
                         sources={FRAMES: frames, EPSILON: epsilon}, overrides=overrides)

    @tf.function
    def _taps(self, frames: tf.Tensor, epsilon: tf.Tensor, overrides: dict[str, tf.Tensor],
              training: bool) -> OrderedDict[str, tf.Tensor]:
        return self._run(frames, epsilon, overrides, training)

    @tf.function
    def _gradients(self, frames: tf.Tensor, epsilon: tf.Tensor, training: bool
                   ) -> tuple[OrderedDict[str, tf.Tensor], tf.Tensor, list[tf.Tensor]]:
        with tf.GradientTape() as tape:
            tape.watch(frames)
            taps = self._run(frames, epsilon, {}, training)
        grads = tape.gradient(taps[LOSS], [frames, *self._trainable],
                              unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return taps, grads[0], grads[1:]

    @tf.function
    def _train(self, frames: tf.Tensor, epsilon: tf.Tensor, lr: tf.Tensor
               ) -> tuple[tf.Tensor, ...]:
        """slim.learning.create_train_op + GradientDescentOptimizer: variables without a
        gradient (the discarded deconv BatchNorm's beta) are left alone."""
        with tf.GradientTape() as tape:
            taps = self._run(frames, epsilon, {}, True)
        grads = tape.gradient(taps[LOSS], self._trainable)
        for variable, grad in zip(self._trainable, grads, strict=True):
            if grad is not None:
                variable.assign_sub(lr * grad)
        return taps[LOSS], taps[L2_LOSS], taps[KL_LOSS], taps[Z_MEAN], taps[Z_STDDEV_LOG]

    def _frames(self, frames: ArrayLike) -> tf.Tensor:
        frames = _float32(frames)
        shape, channels = frames.shape, self.preset.channels
        if shape.rank != 5 or shape[1] < 2 or shape[4] != channels:
            raise UserError(f"frames must be [batch, seq_len >= 2, height, width, {channels}], "
                            f"got {shape.as_list()}")
        return frames

    def _epsilon(self, frames: tf.Tensor, epsilon: ArrayLike | None) -> tf.Tensor:
        """The given VAE noise, or a draw from the seeded generator."""
        if epsilon is None:
            return self.noise_rng.normal(self._z_shape(frames))
        return self._z_input(frames, epsilon, "epsilon")

    def _z_shape(self, frames: tf.Tensor) -> list[int]:
        return [frames.shape[0] * (frames.shape[1] - 1), self.preset.z_dim]

    def _z_input(self, frames: tf.Tensor, value: ArrayLike, what: str) -> tf.Tensor:
        """epsilon, z_mean or z_stddev_log as float32, checked to be [B*(L-1), z_dim]."""
        value, shape = _float32(value), self._z_shape(frames)
        if value.shape.as_list() != shape:
            raise UserError(f"{what} must be {shape}, got {value.shape.as_list()}")
        return value

    # One method per layer kind ------------------------------------------------------------

    def apply(self, layer: Layer, inputs: list[tf.Tensor], training: bool) -> tf.Tensor:
        """Dispatch `layer` on its kind to `_<kind>(layer, *inputs, training=...)`."""
        method = getattr(self, f"_{layer.kind}", None)
        if method is None:
            raise ValueError(f"{layer.name}: unknown layer kind {layer.kind!r}")
        return method(layer, *inputs, training=training)

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


def _float32(value: ArrayLike) -> tf.Tensor:
    return tf.cast(value, tf.float32)
