"""Ops and training: resize mode, deconv pad and flip, the losses, initialisers, lr schedule."""

from __future__ import annotations

from typing import Any

import chainer
import chainer.functions as F
from chainer import initializers

from chainer_port import cross_conv, layers
from chainer_port.cross_conv import CrossConvModel
from chainer_port.mutants.cross_conv.base import ShimMutant
from spec.cross_conv.schedule import DECAY_RATE, DECAY_STEPS, LEARNING_RATE
from spec.layer import Layer


def chainer_resize(x: chainer.Variable, size: int) -> chainer.Variable:
    """`F.resize_images` (align_corners=True) of [B, L, C, H, W] frames folded to 4-D."""
    flat = F.reshape(x, (-1, *x.shape[-3:]))
    return F.reshape(F.resize_images(flat, (size, size)), (*x.shape[:-2], size, size))


class ResizeAlignCorners(ShimMutant):
    """The pyramid resized with `F.resize_images` (align_corners=True), not TF1's legacy mode."""

    target = (cross_conv, "tf1_bilinear_resize")

    @staticmethod
    def naive(original: Any) -> Any:
        return chainer_resize


class DeconvPadOne(ShimMutant):
    """`F.deconvolution_2d(..., pad=1, outsize=...)` at every stride (seed 001's deconv bug)."""

    target = (layers, "conv2d_transpose_same")

    @staticmethod
    def naive(original: Any) -> Any:
        return lambda x, weights, stride, out_size: F.deconvolution_2d(
            x, weights, stride=stride, pad=1, outsize=(out_size, out_size))


class DeconvKernelFlipped(ShimMutant):
    """The deconv kernel flipped in H and W ("a transposed conv is a convolution")."""

    target = (layers, "conv2d_transpose_same")

    @staticmethod
    def naive(original: Any) -> Any:
        return lambda x, weights, stride, out_size: original(
            x, F.flip(F.flip(weights, 2), 3), stride, out_size)


class KLLogStdAsLogVar(CrossConvModel):
    """`F.gaussian_kl_divergence(z_mean, z_stddev_log)`: log std passed where ln_var goes."""

    def _kl_loss(self, layer: Layer, z_mean: chainer.Variable, z_stddev_log: chainer.Variable,
                 training: bool) -> chainer.Variable:
        return F.gaussian_kl_divergence(z_mean, z_stddev_log, reduce="mean")


class L2SumPerSample(CrossConvModel):
    """The l2 loss summed over pixels and averaged over the batch (Chainer's VAE example)."""

    def _l2_loss(self, layer: Layer, output: chainer.Variable, target: chainer.Variable,
                 training: bool) -> chainer.Variable:
        return F.sum(F.square(output - target)) / output.shape[0]


class InitLeCunNormal(ShimMutant):
    """Conv kernels from Chainer's default initialiser, LeCunNormal: N(0, 1 / fan_in)."""

    target = (initializers, "GlorotUniform")

    @staticmethod
    def naive(original: Any) -> Any:
        return lambda dtype=None, rng=None: initializers.LeCunNormal(dtype=dtype, rng=rng)


class InitPlainNormal(ShimMutant):
    """Deconv kernels from N(0, 0.01) not truncated (Chainer has no truncated normal)."""

    target = (layers, "TruncatedNormal")

    @staticmethod
    def naive(original: Any) -> Any:
        return lambda stddev, rng: initializers.Normal(stddev, rng=rng)


class LrPerUpdate(CrossConvModel):
    """`ExponentialShift`-style: the lr decays with the optimizer's own update count."""

    def train_step(self, frames: Any, epsilon: Any, step: int | float,
                   lr: float | None = None) -> dict[str, Any]:
        if lr is None:
            lr = LEARNING_RATE * DECAY_RATE ** (self.optimizer.t / DECAY_STEPS)
        return super().train_step(frames, epsilon, step, lr)


class LrStaircase(CrossConvModel):
    """exponential_decay(staircase=True): the lr halves in steps every 10,000 steps."""

    def train_step(self, frames: Any, epsilon: Any, step: int | float,
                   lr: float | None = None) -> dict[str, Any]:
        if lr is None:
            lr = LEARNING_RATE * DECAY_RATE ** (step // DECAY_STEPS)
        return super().train_step(frames, epsilon, step, lr)
