"""Layouts: conv, deconv and depthwise kernels, the z flatten and split, an axis after NCHW."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import chainer
import chainer.functions as F
import numpy as np

from chainer_port.cross_conv import CrossConvModel
from chainer_port.mutants.cross_conv.base import compat_mutant
from spec.layer import Layer
from spec.layout import Transpose


class LoaderMutant(CrossConvModel):
    """The port whose weight loader maps the kernels of `kind` layers the naive way.

    `naive_layout(tf_kernel)` is the Chainer-layout array the naive loader makes; it reaches
    the port through the correct loader by the inverse of the correct map
    (`Transpose.KERNEL.to_tf`).
    """

    kind: str

    @staticmethod
    def naive_layout(kernel: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def set_weights(self, weights: Mapping[str, np.ndarray]) -> None:
        kernels = {layer.variables[0].name for layer in self.layers if layer.kind == self.kind}
        super().set_weights({name: Transpose.KERNEL.to_tf(self.naive_layout(value))
                             if name in kernels else value for name, value in weights.items()})


class ConvKernelReshaped(LoaderMutant):
    """Conv kernels [k, k, in, out] `reshape`d to (out, in, k, k) instead of transposed."""

    kind = "conv"

    @staticmethod
    def naive_layout(kernel: np.ndarray) -> np.ndarray:
        k, _, cin, cout = kernel.shape
        return kernel.reshape(cout, cin, k, k)


class DeconvKernelHW(LoaderMutant):
    """Deconv kernels [h, w, out, in] transposed (3, 2, 1, 0): H and W swapped."""

    kind = "deconv"

    @staticmethod
    def naive_layout(kernel: np.ndarray) -> np.ndarray:
        return kernel.transpose(3, 2, 1, 0)


class ZSplitSwapped(CrossConvModel):
    """z_mean taken from the second half of the split and z_stddev_log from the first."""

    def _z_split(self, layer: Layer, x: chainer.Variable, training: bool) -> chainer.Variable:
        swapped = dataclasses.replace(layer, attrs={**layer.attrs, "part": 1 - layer.attrs["part"]})
        return super()._z_split(swapped, x, training)


class KernelAxisTFOrder(CrossConvModel):
    """The cross conv's per-level channel slice taken on a [B, k, k, C] VIEW of the NCHW
    kernel (reshaped, not transposed, to TF's axis order): the seed 001 softmax bug's
    pattern, an axis op after a layout change grouping the wrong values."""

    def _cross_conv(self, layer: Layer, features: chainer.Variable, kernel: chainer.Variable,
                    training: bool) -> chainer.Variable:
        batch, channels, size, _ = kernel.shape
        as_tf = F.transpose(F.reshape(kernel, (batch, size, size, channels)), (0, 3, 1, 2))
        return super()._cross_conv(layer, features, as_tf, training)


DepthwiseKernelHW = compat_mutant(
    "DepthwiseKernelHW", "The per-sample depthwise kernel [k, k, C, 1] transposed with H and W "
    "swapped.", depthwise_kernel="wh")
FlattenNCHW = compat_mutant(
    "FlattenNCHW", "The motion encoder's map flattened for the z split by a plain reshape of "
    "NCHW.", flatten="nchw")
