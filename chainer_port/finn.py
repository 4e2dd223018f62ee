"""Finn et al.'s predictor (seed 001) in Chainer: the spec's graph with the same methods and
layer names as the TF twin (`tf_reference/finn.py`), CDNA, DNA and STP. NCHW; a layer's
variables are read by its TF scope (`layer.attrs["scope"]`), so every time step shares them.
The TF behaviours a plain Chainer call would miss are `TFCompat` options
(`chainer_port.tf_video_ops`); docs/models/finn.md lists them.
"""

from __future__ import annotations

import chainer
import chainer.functions as F
import numpy as np

from chainer_port.tf_compat import (
    batched_cross_conv,
    conv2d_transpose_same,
    nhwc_flatten,
    per_pixel_kernels,
    tf_concat,
    tf_conv2d,
    tf_split,
)
from chainer_port.tf_video_ops import channel_softmax, tf_layer_norm, tf_spatial_transformer
from chainer_port.twin import ChainerTwin
from spec.finn import CDNA_PAIR, DNA_PAIR, STP_PAIR
from spec.finn.graph import SCOPE
from spec.layer import Layer

STP_IDENTITY = np.array([1.0, 0.0, 0.0, 0.0, 1.0, 0.0], np.float32)


class FinnModel(ChainerTwin):
    """The predictor on NCHW Chainer arrays (NumPy or CuPy); the variant is the preset's
    `transform`. The interface is `ChainerTwin`'s (docs/port-interface.md)."""

    def var(self, scope: str, leaf: str) -> chainer.Variable:
        return self.variable(f"{scope}/{leaf}")

    @staticmethod
    def relu_shift(x: chainer.Variable, shift: float) -> chainer.Variable:
        """The TF code's lower bound: relu(x - RELU_SHIFT) + RELU_SHIFT."""
        return F.relu(x - shift) + shift

    # -- the graph -----------------------------------------------------------------------------

    def _frames(self, layer: Layer, images: chainer.Variable, training: bool
                ) -> chainer.Variable:
        """The first seq_len frames ([B, L, C, H, W] here), mean-pooled when smaller."""
        frames = images[:, :layer.attrs["seq_len"]]
        pool = layer.attrs["pool"]
        if pool == 1:
            return frames
        batch, length, channels, size, _ = frames.shape
        pooled = F.average_pooling_2d(F.reshape(frames, (-1, channels, size, size)), pool, pool)
        return F.reshape(pooled, (batch, length, channels, size // pool, size // pool))

    def _prev_image(self, layer: Layer, frames: chainer.Variable, *sampled: chainer.Variable,
                    training: bool) -> chainer.Variable:
        """The TF twin's scheduled sampling: sample b takes the ground truth when its rank in
        the shared noise's column is below num_ground_truth (the same samples
        `tf.random_shuffle` + `dynamic_stitch` pick from that order)."""
        image = frames[:, layer.attrs["t"]]
        if not sampled:
            return image
        generated, iter_num, schedule = sampled
        k = layer.attrs["k"]
        if not training or k == -1:
            return generated
        ground_truth = self.ground_truth_samples(layer, iter_num, schedule)
        xp = chainer.backend.get_array_module(ground_truth)
        return F.where(xp.broadcast_to(ground_truth[:, None, None, None], image.shape), image,
                       generated)

    def ground_truth_samples(self, layer: Layer, iter_num: chainer.Variable,
                             schedule: chainer.Variable) -> np.ndarray:
        """Which samples of the batch get the ground truth at this step (a bool array on the
        model's device): num_ground_truth = round(B * k / (k + exp(iter_num / k))) in float32,
        as the TF code computes it, of the batch ordered by the noise's column."""
        xp = chainer.backend.get_array_module(schedule)
        k = np.float32(layer.attrs["k"])
        step = np.float32(chainer.backends.cuda.to_cpu(iter_num.array)[0, 0])
        batch = schedule.shape[0]
        count = int(np.round(np.float32(batch) * (k / (k + np.exp(step / k)))))
        column = schedule.array[:, layer.attrs["sampled"]]
        rank = xp.argsort(xp.argsort(column, kind="stable"), kind="stable")
        return rank < count

    def _state_action(self, layer: Layer, actions: chainer.Variable, state: chainer.Variable,
                      training: bool) -> chainer.Variable:
        t = layer.attrs["t"]
        current = state[:, 0] if t == 0 else state
        return tf_concat([actions[:, t], current], axis=1)

    def _conv2d(self, layer: Layer, *xs: chainer.Variable, training: bool) -> chainer.Variable:
        """slim.conv2d (TF's SAME) of the inputs' channel concat; bias, relu as in the spec."""
        a = layer.attrs
        y = tf_conv2d(tf_concat(xs, axis=1), self.var(a["scope"], "weights"), "SAME", a["stride"],
                      pad_extra=self.tf_compat.same_pad_extra)
        return self._bias_relu(layer, y)

    def _conv2d_transpose(self, layer: Layer, *xs: chainer.Variable, training: bool
                          ) -> chainer.Variable:
        """slim.conv2d_transpose (TF's SAME, out = in * stride); `TFCompat.deconv` "pad_one"
        is `F.deconvolution_2d(pad=k // 2)`."""
        a = layer.attrs
        x = tf_concat(xs, axis=1)
        weights, stride = self.var(a["scope"], "weights"), a["stride"]
        out_size = x.shape[-1] * stride
        if self.tf_compat.deconv == "pad_one":
            y = F.deconvolution_2d(x, weights, stride=stride, pad=a["kernel"] // 2,
                                   outsize=(out_size, out_size))
        else:
            y = conv2d_transpose_same(x, weights, stride, out_size)
        return self._bias_relu(layer, y)

    def _bias_relu(self, layer: Layer, y: chainer.Variable) -> chainer.Variable:
        if layer.attrs["bias"]:
            y = F.bias(y, self.var(layer.attrs["scope"], "biases"), axis=1)
        return F.relu(y) if layer.attrs["relu"] else y

    def _layer_norm(self, layer: Layer, x: chainer.Variable, training: bool
                    ) -> chainer.Variable:
        scope = layer.attrs["scope"]
        y = tf_layer_norm(x, self.var(scope, "beta"), self.var(scope, "gamma"),
                          self.tf_compat.layer_norm)
        return F.relu(y) if layer.attrs["relu"] else y

    def _hidden(self, layer: Layer, state: chainer.Variable, training: bool
                ) -> chainer.Variable:
        return tf_split(state, [layer.attrs["width"]], axis=1)[1]

    def _smear(self, layer: Layer, state_action: chainer.Variable, training: bool
               ) -> chainer.Variable:
        size = layer.shape[0]
        return F.broadcast_to(state_action[:, :, None, None], (*state_action.shape, size, size))

    def _fc(self, layer: Layer, x: chainer.Variable, training: bool) -> chainer.Variable:
        """slim.fully_connected; a map is flattened in TF's NHWC order (`nhwc_flatten`)."""
        scope = layer.attrs["scope"]
        flat = nhwc_flatten(x) if layer.attrs["flatten"] else x
        y = F.linear(flat, self.var(scope, "weights"), self.var(scope, "biases"))
        return F.relu(y) if layer.attrs["relu"] else y

    def _sigmoid(self, layer: Layer, x: chainer.Variable, training: bool) -> chainer.Variable:
        return F.sigmoid(x)

    def _cdna_kernels(self, layer: Layer, params: chainer.Variable, training: bool
                      ) -> chainer.Variable:
        """cdna_params as TF's [B, k, k, masks] (masks fastest), here [B, masks, k, k];
        relu-shifted and normalised to sum 1."""
        k, masks = layer.attrs["kernel"], layer.attrs["masks"]
        kernels = F.transpose(F.reshape(params, (params.shape[0], k, k, masks)), (0, 3, 1, 2))
        kernels = self.relu_shift(kernels, layer.attrs["relu_shift"])
        return kernels / F.broadcast_to(F.sum(kernels, axis=(2, 3), keepdims=True),
                                        kernels.shape)

    def _cdna(self, layer: Layer, prev_image: chainer.Variable, kernels: chainer.Variable,
              training: bool) -> chainer.Variable:
        """Every sample's image moved by each of its own kernels, the same kernel for every
        colour channel: one grouped convolution of the masks x channels copies
        ([B, masks, C, H, W])."""
        batch, channels, height, width = prev_image.shape
        masks = kernels.shape[1]
        copies = F.tile(prev_image, (1, masks, 1, 1))  # [B, masks * C, H, W], mask-major
        moved = batched_cross_conv(copies, self.expand_cdna_kernels(kernels, channels))
        return F.reshape(moved, (batch, masks, channels, height, width))

    @staticmethod
    def expand_cdna_kernels(kernels: chainer.Variable, channels: int) -> chainer.Variable:
        """[B, masks, k, k] -> [B, masks * C, k, k]: mask m's kernel for each colour channel
        of copy m (mask-major, as `_cdna`'s copies)."""
        return F.repeat(kernels, channels, axis=1)

    def _dna(self, layer: Layer, prev_image: chainer.Variable, dna_input: chainer.Variable,
             training: bool) -> chainer.Variable:
        """The k*k shifted copies of prev_image (row shift major: windows of the image padded
        by `dna_pads`) weighted per pixel by the normalised kernels (`per_pixel_kernels`)."""
        kernel = self.relu_shift(dna_input, layer.attrs["relu_shift"])
        kernel = kernel / F.broadcast_to(F.sum(kernel, axis=1, keepdims=True), kernel.shape)
        return per_pixel_kernels(prev_image, kernel, self.dna_pads(layer.attrs["kernel"]))

    @staticmethod
    def dna_pads(k: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """The TF code's copies: windows of the image zero-padded by k // 2 on every side."""
        return (k // 2, k // 2), (k // 2, k // 2)

    def _stp_params(self, layer: Layer, hidden: chainer.Variable, training: bool
                    ) -> chainer.Variable:
        xp = chainer.backend.get_array_module(hidden)
        identity = xp.asarray(STP_IDENTITY, dtype=hidden.dtype)
        return F.stack([F.linear(hidden, self.var(f"{SCOPE}/stp_params{i}", "weights"),
                                 self.var(f"{SCOPE}/stp_params{i}", "biases"))
                        + F.broadcast_to(identity, (hidden.shape[0], 6))
                        for i in range(layer.attrs["count"])], axis=1)

    def _stp(self, layer: Layer, prev_image: chainer.Variable, params: chainer.Variable,
             training: bool) -> chainer.Variable:
        return F.stack([tf_spatial_transformer(prev_image, params[:, i],
                                               self.tf_compat.spatial_transformer)
                        for i in range(params.shape[1])], axis=1)

    def _masks(self, layer: Layer, logits: chainer.Variable, training: bool
               ) -> chainer.Variable:
        return channel_softmax(logits, self.tf_compat.channel_softmax)

    def _composite(self, layer: Layer, prev_image: chainer.Variable, masks: chainer.Variable,
                   *transformed: chainer.Variable, training: bool) -> chainer.Variable:
        """The TF twin's compositing (zip stops at the shorter list)."""
        images = [image for x in transformed for image in
                  (F.separate(x, axis=1) if x.ndim == 5 else [x])]
        mask_list = tf_split(masks, masks.shape[1], axis=1)

        def times(image: chainer.Variable, mask: chainer.Variable) -> chainer.Variable:
            return image * F.broadcast_to(mask, image.shape)

        out = times(prev_image, mask_list[0])
        for image, mask in zip(images, mask_list[1:], strict=False):
            out += times(image, mask)
        return out

    def _loss(self, layer: Layer, frames: chainer.Variable, states: chainer.Variable,
              *predicted: chainer.Variable, training: bool) -> chainer.Variable:
        first, half = layer.attrs["first"], len(predicted) // 2
        loss = 0.0
        for i, (image, state) in enumerate(zip(predicted[:half], predicted[half:],
                                               strict=True)):
            loss += mean_squared_error(frames[:, first + i], image)
            loss += mean_squared_error(states[:, first + i], state) * layer.attrs["state_cost"]
        return loss / half

    def _psnr(self, layer: Layer, frames: chainer.Variable, *predicted: chainer.Variable,
              training: bool) -> chainer.Variable:
        first = layer.attrs["first"]
        return sum(10.0 * F.log(1.0 / mean_squared_error(frames[:, first + i], x)) / np.log(10.0)
                   for i, x in enumerate(predicted))


def mean_squared_error(true: chainer.Variable, pred: chainer.Variable) -> chainer.Variable:
    return F.sum(F.square(true - pred)) / pred.size


class CDNAModel(FinnModel):
    pair = CDNA_PAIR


class DNAModel(FinnModel):
    pair = DNA_PAIR


class STPModel(FinnModel):
    pair = STP_PAIR
