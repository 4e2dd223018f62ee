"""The cross-conv model in Chainer: the spec's graph, the same methods and layer names as the
TF twin (`tf_reference/cross_conv.py`). Links are nested like the seed's TF scopes
(`motion_encoder/Conv_3`, `image_decoder_0`, the top-level `Conv`); see `chainer_port.twin`.
"""

from __future__ import annotations

import chainer
import chainer.functions as F
import numpy as np

from chainer_port.layers import LINKS
from chainer_port.tf_compat import (
    align_corners_resize,
    batched_cross_conv,
    nhwc_flatten,
    nhwc_unflatten,
    tf1_bilinear_resize,
    tf_concat,
    tf_max_pool,
    tf_split,
)
from chainer_port.twin import ChainerTwin
from spec.cross_conv import PAIR
from spec.layer import Layer


def _pair_major(x: chainer.Variable) -> chainer.Variable:
    """[B, P, C, H, W] -> [P * B, C, H, W]: all samples' pair 0, then pair 1 (the seed's concat)."""
    return F.reshape(F.swapaxes(x, 0, 1), (-1, *x.shape[2:]))


class CrossConvModel(ChainerTwin):
    """The seed's CrossConvModel on NCHW Chainer arrays (NumPy or CuPy); the interface is
    `ChainerTwin`'s (docs/port-interface.md)."""

    pair = PAIR

    def build_links(self, rng: np.random.Generator) -> None:
        for layer in self.layers:
            if layer.kind in LINKS:
                self.add_scoped_link(layer.name, LINKS[layer.kind](layer, rng, self.tf_compat))

    # -- the graph -----------------------------------------------------------------------------

    def _resize(self, layer: Layer, frames: chainer.Variable, training: bool
                ) -> chainer.Variable:
        resize = (tf1_bilinear_resize if self.tf_compat.resize == "tf1_legacy"
                  else align_corners_resize)
        return resize(frames * layer.attrs["scale"], layer.attrs["size"])

    def _pair_image(self, layer: Layer, frames: chainer.Variable, training: bool
                    ) -> chainer.Variable:
        return _pair_major(frames[:, :-1])

    def _pair_diff(self, layer: Layer, frames: chainer.Variable, training: bool
                   ) -> chainer.Variable:
        return (_pair_major(frames[:, 1:] - frames[:, :-1]) + layer.attrs["scale"]) / 2

    def _concat(self, layer: Layer, *xs: chainer.Variable, training: bool) -> chainer.Variable:
        return tf_concat(xs, axis=1)

    def _conv(self, layer: Layer, x: chainer.Variable, training: bool) -> chainer.Variable:
        return self.link(layer.name)(x, training)

    def _max_pool(self, layer: Layer, x: chainer.Variable, training: bool) -> chainer.Variable:
        attrs = layer.attrs
        return tf_max_pool(x, attrs["kernel"], attrs["stride"], attrs["padding"],
                           self.tf_compat.same_pad_extra)

    def _z_split(self, layer: Layer, x: chainer.Variable, training: bool) -> chainer.Variable:
        flat = (nhwc_flatten(x) if self.tf_compat.flatten == "nhwc"
                else F.reshape(x, (x.shape[0], -1)))
        return tf_split(flat, 2, axis=1)[layer.attrs["part"]]

    def _sample_kernel(self, layer: Layer, z_mean: chainer.Variable,
                       z_stddev_log: chainer.Variable, epsilon: chainer.Variable,
                       training: bool) -> chainer.Variable:
        size, _, channels = layer.shape
        return nhwc_unflatten(z_mean + F.exp(z_stddev_log) * epsilon, size, channels)

    def _cross_conv(self, layer: Layer, features: chainer.Variable, kernel: chainer.Variable,
                    training: bool) -> chainer.Variable:
        width = kernel.shape[1] // layer.attrs["parts"]
        part = layer.attrs["part"]
        kernel = kernel[:, part * width:(part + 1) * width]
        if self.tf_compat.depthwise_kernel == "wh":
            kernel = F.swapaxes(kernel, 2, 3)
        return batched_cross_conv(features, kernel)

    def _deconv(self, layer: Layer, x: chainer.Variable, training: bool) -> chainer.Variable:
        return self.link(layer.name)(x, training)

    def _l2_loss(self, layer: Layer, output: chainer.Variable, target: chainer.Variable,
                 training: bool) -> chainer.Variable:
        return F.mean(F.square(output - target))

    def _kl_loss(self, layer: Layer, z_mean: chainer.Variable, z_stddev_log: chainer.Variable,
                 training: bool) -> chainer.Variable:
        terms = F.square(z_mean) + F.square(F.exp(z_stddev_log)) - 2 * z_stddev_log - 1
        return 0.5 * F.mean(terms)

    def _add(self, layer: Layer, a: chainer.Variable, b: chainer.Variable, training: bool
             ) -> chainer.Variable:
        return a + b
