"""The TensorFlow reference of Finn et al.'s predictor (tensorflow/models
research/video_prediction, seed 001), its CDNA, DNA and STP variants (docs/models/finn.md).

The graph is `spec.finn.build_spec(preset)`, unrolled over time; `apply` dispatches each layer
on its kind to the `_<kind>` method below, each written as the TF code computes it. NHWC
throughout; a layer's variables are read by its scope (`layer.attrs["scope"]`), so every time
step shares them as TF's reused scopes do.
"""

from __future__ import annotations

import tensorflow as tf

from spec.finn import CDNA_PAIR, DNA_PAIR, STP_PAIR
from spec.finn.graph import SCOPE
from spec.layer import Layer
from tf_reference.layers import contrib_layer_norm
from tf_reference.twin import TFTwin


class FinnModel(TFTwin):
    """Every variable of the TF code (names and layout) and the predictor's forward; the
    variant is the preset's `transform`. The interface is `TFTwin`'s."""

    def var(self, scope: str, leaf: str) -> tf.Variable:
        return self.named_variables[f"{scope}/{leaf}"]

    # One method per layer kind ------------------------------------------------------------

    def _frames(self, layer: Layer, images: tf.Tensor, training: bool) -> tf.Tensor:
        """The first seq_len frames, mean-pooled to the model's size when smaller."""
        frames = images[:, :layer.attrs["seq_len"]]
        pool = layer.attrs["pool"]
        if pool == 1:
            return frames
        _, length, size, _, channels = frames.shape
        pooled = tf.nn.avg_pool2d(tf.reshape(frames, [-1, size, size, channels]), pool, pool,
                                  "VALID")
        return tf.reshape(pooled, [-1, length, size // pool, size // pool, channels])

    def _prev_image(self, layer: Layer, frames: tf.Tensor, *sampled: tf.Tensor,
                    training: bool) -> tf.Tensor:
        """Frame t during the warm start; then, training, `scheduled_sample`: the TF code's
        num_ground_truth = round(B * k / (k + exp(iter_num / k))) samples from the ground
        truth, the rest from the previous prediction, the samples chosen by a shuffle of the
        batch (`tf.random_shuffle`, here the order of the shared noise's column). Inference
        feeds the prediction back (k = -1), as predicting beyond the data must."""
        image = frames[:, layer.attrs["t"]]
        if not sampled:
            return image
        generated, iter_num, schedule = sampled
        k = layer.attrs["k"]
        if not training or k == -1:
            return generated
        batch = tf.shape(image)[0]
        num_ground_truth = tf.cast(tf.round(
            tf.cast(batch, tf.float32) * (k / (k + tf.exp(iter_num[0, 0] / k)))), tf.int32)
        idx = tf.argsort(schedule[:, layer.attrs["sampled"]], stable=True)
        ground_truth_idx = idx[:num_ground_truth]
        generated_idx = idx[num_ground_truth:]
        return tf.dynamic_stitch([ground_truth_idx, generated_idx],
                                 [tf.gather(image, ground_truth_idx),
                                  tf.gather(generated, generated_idx)])

    def _state_action(self, layer: Layer, actions: tf.Tensor, state: tf.Tensor,
                      training: bool) -> tf.Tensor:
        """concat(action t, current state): state 0 of the data, then the prediction."""
        t = layer.attrs["t"]
        current = state[:, 0] if t == 0 else state
        return tf.concat([actions[:, t], current], axis=1)

    def _conv2d(self, layer: Layer, *xs: tf.Tensor, training: bool) -> tf.Tensor:
        """slim.conv2d (SAME) of the channel concat of the inputs: bias unless a normaliser
        follows, relu unless activation_fn=None."""
        a = layer.attrs
        y = tf.nn.conv2d(tf.concat(xs, axis=-1), self.var(a["scope"], "weights"), a["stride"],
                         "SAME")
        return self._bias_relu(layer, y)

    def _conv2d_transpose(self, layer: Layer, *xs: tf.Tensor, training: bool) -> tf.Tensor:
        """slim.conv2d_transpose (SAME, out = in * stride), the same bias and relu rule."""
        a = layer.attrs
        x = tf.concat(xs, axis=-1)
        weights = self.var(a["scope"], "weights")
        _, height, width, _ = x.shape
        s = a["stride"]
        y = tf.nn.conv2d_transpose(x, weights, [tf.shape(x)[0], height * s, width * s,
                                                weights.shape[2]], s, "SAME")
        return self._bias_relu(layer, y)

    def _bias_relu(self, layer: Layer, y: tf.Tensor) -> tf.Tensor:
        if layer.attrs["bias"]:
            y = tf.nn.bias_add(y, self.var(layer.attrs["scope"], "biases"))
        return tf.nn.relu(y) if layer.attrs["relu"] else y

    def _layer_norm(self, layer: Layer, x: tf.Tensor, training: bool) -> tf.Tensor:
        """tf.contrib.layers.layer_norm: moments over every axis but the batch,
        batch_normalization with beta and gamma per channel and eps 1e-12; then slim's relu
        when it normalises a conv."""
        scope = layer.attrs["scope"]
        y = contrib_layer_norm(x, self.var(scope, "beta"), self.var(scope, "gamma"))
        return tf.nn.relu(y) if layer.attrs["relu"] else y


    def _hidden(self, layer: Layer, state: tf.Tensor, training: bool) -> tf.Tensor:
        return state[..., layer.attrs["width"]:]

    def _smear(self, layer: Layer, state_action: tf.Tensor, training: bool) -> tf.Tensor:
        """The state-action vector tiled over the 8x8 map."""
        size = layer.shape[0]
        return tf.tile(state_action[:, None, None, :], [1, size, size, 1])

    def _fc(self, layer: Layer, x: tf.Tensor, training: bool) -> tf.Tensor:
        """slim.fully_connected of x (a map reshaped to [B, -1] in NHWC order)."""
        scope = layer.attrs["scope"]
        y = tf.matmul(tf.reshape(x, [tf.shape(x)[0], -1]), self.var(scope, "weights"))
        y = tf.nn.bias_add(y, self.var(scope, "biases"))
        return tf.nn.relu(y) if layer.attrs["relu"] else y

    def _sigmoid(self, layer: Layer, x: tf.Tensor, training: bool) -> tf.Tensor:
        return tf.sigmoid(x)

    def _cdna_kernels(self, layer: Layer, params: tf.Tensor, training: bool) -> tf.Tensor:
        """cdna_params reshaped [B, k, k, 1, masks], relu(x - RELU_SHIFT) + RELU_SHIFT,
        divided by each kernel's sum; returned [B, k, k, masks]."""
        k, masks, shift = layer.attrs["kernel"], layer.attrs["masks"], layer.attrs["relu_shift"]
        kernels = tf.reshape(params, [-1, k, k, 1, masks])
        kernels = tf.nn.relu(kernels - shift) + shift
        kernels /= tf.reduce_sum(kernels, [1, 2, 3], keepdims=True)
        return kernels[:, :, :, 0]

    def _cdna(self, layer: Layer, prev_image: tf.Tensor, kernels: tf.Tensor, training: bool
              ) -> tf.Tensor:
        """cdna_transformation: the batch as depthwise_conv2d's channels and the colour
        channels as its batch, so each sample's kernels move only that sample; returns the
        masks' images stacked [B, masks, H, W, C]."""
        _, height, width, channels = prev_image.shape
        batch = tf.shape(prev_image)[0]
        k, masks = kernels.shape[1], kernels.shape[3]
        kernels = tf.reshape(tf.transpose(kernels[:, :, :, None], [1, 2, 0, 4, 3]),
                             [k, k, batch, masks])
        moved = tf.nn.depthwise_conv2d(tf.transpose(prev_image, [3, 1, 2, 0]), kernels,
                                       [1, 1, 1, 1], "SAME")
        moved = tf.reshape(moved, [channels, height, width, batch, masks])
        return tf.transpose(moved, [3, 4, 1, 2, 0])

    def _dna(self, layer: Layer, prev_image: tf.Tensor, dna_input: tf.Tensor, training: bool
             ) -> tf.Tensor:
        """dna_transformation: the k*k shifted copies sliced from the zero-padded image, one
        per kernel tap (row shift major), weighted per pixel by relu-shifted kernels
        normalised over the taps."""
        k, shift = layer.attrs["kernel"], layer.attrs["relu_shift"]
        _, height, width, _ = prev_image.shape
        half = k // 2
        padded = tf.pad(prev_image, [[0, 0], [half, half], [half, half], [0, 0]])
        shifted = tf.stack([padded[:, dy:dy + height, dx:dx + width]
                            for dy in range(k) for dx in range(k)], axis=3)
        kernel = tf.nn.relu(dna_input - shift) + shift
        kernel = kernel / tf.reduce_sum(kernel, [3], keepdims=True)
        return tf.reduce_sum(kernel[..., None] * shifted, [3])

    def _stp_params(self, layer: Layer, hidden: tf.Tensor, training: bool) -> tf.Tensor:
        """stp_params{i} (fully_connected, no activation) + the identity, stacked
        [B, masks - 1, 6]."""
        identity = tf.constant([1.0, 0.0, 0.0, 0.0, 1.0, 0.0])
        return tf.stack([tf.matmul(hidden, self.var(f"{SCOPE}/stp_params{i}", "weights"))
                         + self.var(f"{SCOPE}/stp_params{i}", "biases") + identity
                         for i in range(layer.attrs["count"])], axis=1)

    def _stp(self, layer: Layer, prev_image: tf.Tensor, params: tf.Tensor, training: bool
             ) -> tf.Tensor:
        """Each of the transformers (`spatial_transformer.transformer`) on prev_image,
        stacked [B, masks - 1, H, W, C]."""
        return tf.stack([transformer(prev_image, params[:, i])
                         for i in range(params.shape[1])], axis=1)

    def _masks(self, layer: Layer, logits: tf.Tensor, training: bool) -> tf.Tensor:
        """The softmax over the num_masks + 1 channels of every pixel (reshaped to
        [-1, num_masks + 1] and back, NHWC)."""
        return tf.reshape(tf.nn.softmax(tf.reshape(logits, [-1, logits.shape[-1]])),
                          logits.shape)

    def _composite(self, layer: Layer, prev_image: tf.Tensor, masks: tf.Tensor,
                   *transformed: tf.Tensor, training: bool) -> tf.Tensor:
        """mask 0 times prev_image plus each transformed image times the next mask; zip stops
        at the shorter list, so CDNA's last kernel's image is never used (as in the TF
        code)."""
        images = [image for x in transformed for image in
                  (tf.unstack(x, axis=1) if x.shape.rank == 5 else [x])]
        mask_list = tf.split(masks, masks.shape[-1], axis=3)
        out = mask_list[0] * prev_image
        for image, mask in zip(images, mask_list[1:], strict=False):
            out += image * mask
        return out

    def _loss(self, layer: Layer, frames: tf.Tensor, states: tf.Tensor, *predicted: tf.Tensor,
              training: bool) -> tf.Tensor:
        """prediction_train.py's loss: per predicted frame mean_squared_error(frame,
        prediction), plus state_cost times that of the states, summed, divided by the number
        of predicted frames."""
        first, half = layer.attrs["first"], len(predicted) // 2
        loss = 0.0
        for i, (image, state) in enumerate(zip(predicted[:half], predicted[half:],
                                               strict=True)):
            loss += mean_squared_error(frames[:, first + i], image)
            loss += mean_squared_error(states[:, first + i], state) * layer.attrs["state_cost"]
        return loss / half

    def _psnr(self, layer: Layer, frames: tf.Tensor, *predicted: tf.Tensor, training: bool
              ) -> tf.Tensor:
        """psnr_all: the sum over predicted frames of 10 log10(1 / mse)."""
        first = layer.attrs["first"]
        return tf.add_n([10.0 * tf.math.log(1.0 / mean_squared_error(frames[:, first + i], x))
                         / tf.math.log(10.0) for i, x in enumerate(predicted)])


def mean_squared_error(true: tf.Tensor, pred: tf.Tensor) -> tf.Tensor:
    """prediction_train.py's: the sum of squares over the number of elements."""
    return tf.reduce_sum(tf.square(true - pred)) / tf.cast(tf.size(pred), tf.float32)


def transformer(image: tf.Tensor, theta: tf.Tensor) -> tf.Tensor:
    """tensorflow/models' `spatial_transformer.transformer(U, theta, out_size)` at the image's
    own size (the TF code's call omits out_size).

    Output pixel (i, j) samples the image at theta @ (x_t, y_t, 1), x_t and y_t from
    linspace(-1, 1) over the width and height, scaled by (x + 1) * W / 2 (W, not W - 1: the
    identity stretches by W / (W - 1)); the four neighbours' indices are clipped into the
    image BEFORE the bilinear weights are computed from them, so a sample before the first
    or beyond the last row or column gets two weights that cancel: a zero.
    """
    _, height, width, channels = image.shape
    batch = tf.shape(image)[0]
    theta = tf.reshape(theta, [-1, 2, 3])
    x_t, y_t = tf.meshgrid(tf.linspace(-1.0, 1.0, width), tf.linspace(-1.0, 1.0, height))
    grid = tf.stack([tf.reshape(x_t, [-1]), tf.reshape(y_t, [-1]),
                     tf.ones([height * width])])
    source = tf.matmul(theta, tf.tile(grid[None], [batch, 1, 1]))
    x = (tf.reshape(source[:, 0], [-1]) + 1.0) * width / 2.0
    y = (tf.reshape(source[:, 1], [-1]) + 1.0) * height / 2.0
    x0 = tf.cast(tf.floor(x), tf.int32)
    y0 = tf.cast(tf.floor(y), tf.int32)
    x0, x1 = tf.clip_by_value(x0, 0, width - 1), tf.clip_by_value(x0 + 1, 0, width - 1)
    y0, y1 = tf.clip_by_value(y0, 0, height - 1), tf.clip_by_value(y0 + 1, 0, height - 1)
    base = tf.repeat(tf.range(batch) * height * width, height * width)
    flat = tf.reshape(image, [-1, channels])

    def pixel(row: tf.Tensor, col: tf.Tensor) -> tf.Tensor:
        return tf.gather(flat, base + row * width + col)

    x0f, x1f, y0f, y1f = (tf.cast(v, tf.float32) for v in (x0, x1, y0, y1))
    out = ((x1f - x) * (y1f - y))[:, None] * pixel(y0, x0) \
        + ((x1f - x) * (y - y0f))[:, None] * pixel(y1, x0) \
        + ((x - x0f) * (y1f - y))[:, None] * pixel(y0, x1) \
        + ((x - x0f) * (y - y0f))[:, None] * pixel(y1, x1)
    return tf.reshape(out, [-1, height, width, channels])


class CDNAModel(FinnModel):
    pair = CDNA_PAIR


class DNAModel(FinnModel):
    pair = DNA_PAIR


class STPModel(FinnModel):
    pair = STP_PAIR
