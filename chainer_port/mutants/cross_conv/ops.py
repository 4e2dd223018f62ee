"""Ops and training: resize mode, deconv pad and flip, the losses, initialisers, lr schedule."""

from __future__ import annotations

from typing import Any

import chainer
import chainer.functions as F

from chainer_port.cross_conv import CrossConvModel
from chainer_port.mutants.cross_conv.base import compat_mutant
from spec.cross_conv.schedule import DECAY_RATE, DECAY_STEPS, LEARNING_RATE
from spec.layer import Layer


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


ResizeAlignCorners = compat_mutant(
    "ResizeAlignCorners", "The pyramid resized with `F.resize_images` (align_corners=True), not "
    "TF1's legacy mode.", resize="align_corners")
DeconvPadOne = compat_mutant(
    "DeconvPadOne", "`F.deconvolution_2d(..., pad=1, outsize=...)` at every stride (seed 001's "
    "deconv bug).", deconv="pad_one")
DeconvKernelFlipped = compat_mutant(
    "DeconvKernelFlipped", "The deconv kernel flipped in H and W (\"a transposed conv is a "
    "convolution\").", deconv="flipped_kernel")
InitLeCunNormal = compat_mutant(
    "InitLeCunNormal", "Conv kernels from Chainer's default initialiser, LeCunNormal: "
    "N(0, 1 / fan_in).", conv_init="lecun_normal")
InitPlainNormal = compat_mutant(
    "InitPlainNormal", "Deconv kernels from N(0, 0.01) not truncated (Chainer has no truncated "
    "normal).", deconv_init="normal")
