"""The layout rules between TF (NHWC, HWIO) and Chainer (NCHW, OIHW): one per leaf kind.

Weights: each variable names its rule, a `Transpose` (the weight map derives from the spec by
that rule; there is no list of names). A TF conv kernel is [kh, kw, in, out] and Chainer's
Convolution2D W is (out, in, kh, kw); a TF conv2d_transpose kernel is [kh, kw, out, in] and
Chainer's Deconvolution2D W is (in, out, kh, kw): both are `KERNEL`, and so are conv1d's and
conv3d's kernels ([d, h, w, in, out] <-> (out, in, d, h, w)): the rule holds for any rank.
A TF dense kernel is [in, out] and Chainer's Linear W is (out, in): `MATRIX`. A variable
shaped like an activation (a ConvLSTM's per-position peephole weights, [1, H, W, C]) is
(1, C, H, W) in Chainer: `ACTIVATION`. Everything else is the same in both.

Activations: each tap and input names its rule, an `Activation` (`Layer.layout`,
`InputSpec.layout`): by default a channel axis (rank >= 4 with batch) last in TF is third from
last in Chainer (NHWC <-> NCHW; frames [B, L, H, W, C] <-> [B, L, C, H, W]); a clip or volume
for a 3-D convolution is NDHWC <-> NCDHW (`CHANNELS_FIRST`); flat taps and scalars are the
same in both.
"""

from __future__ import annotations

import enum

import numpy as np


class ByAxes:
    """A layout rule's conversions, from its permutation TF -> Chainer (`axes(ndim)`)."""

    def axes(self, ndim: int) -> tuple[int, ...] | None:
        raise NotImplementedError

    def to_chainer(self, value: np.ndarray) -> np.ndarray:
        axes = self.axes(value.ndim)
        return value.transpose(axes) if axes else value

    def to_tf(self, value: np.ndarray) -> np.ndarray:
        axes = self.axes(value.ndim)
        return value.transpose(np.argsort(axes)) if axes else value


class Transpose(ByAxes, enum.Enum):
    """How one TF variable becomes the Chainer array: the axes permutation TF -> Chainer, by
    rule for any rank (`axes`): KERNEL moves a kernel's last two axes to the front in reverse
    order (conv1d [w, in, out], conv2d [h, w, in, out], conv3d [d, h, w, in, out] <-> (out,
    in, ...); a transposed conv's [..., out, in] <-> (in, out, ...), as Chainer's
    Deconvolution's W); MATRIX swaps a dense kernel's two axes; ACTIVATION moves a variable
    shaped like an activation's channel axis from last to second."""

    NONE = "none"
    KERNEL = "kernel"
    MATRIX = "matrix"
    ACTIVATION = "activation"

    def axes(self, ndim: int) -> tuple[int, ...] | None:
        """The permutation TF -> Chainer of an array of rank `ndim` (None: the same)."""
        if self is Transpose.NONE:
            return None
        if self is Transpose.MATRIX:
            return (1, 0)
        if self is Transpose.KERNEL:
            return (ndim - 1, ndim - 2, *range(ndim - 2))
        return (0, ndim - 1, *range(1, ndim - 1))

    def problem(self, shape: tuple[int, ...]) -> str | None:
        """Why a TF shape cannot take this rule, or None."""
        least = {Transpose.KERNEL: 3, Transpose.MATRIX: 2, Transpose.ACTIVATION: 3}.get(self, 0)
        exact = self is Transpose.MATRIX
        if len(shape) < least or (exact and len(shape) != 2):
            rank = "exactly 2" if exact else f"at least {least}"
            return (f"Transpose.{self.name} needs a TF shape of rank {rank}, not "
                    f"{list(shape)}")
        return None


class Activation(ByAxes, enum.Enum):
    """How a tap or an input (TF: channels last) is laid out in Chainer, by rule for any rank.

    FRAMES (the default): the channel axis third from last, rank >= 4 (NHWC <-> NCHW; a
    sequence of frames [B, L, H, W, C] <-> [B, L, C, H, W]). CHANNELS_FIRST: the channel
    axis second, rank >= 3 (NWC <-> NCW, NHWC <-> NCHW, a volume or clip NDHWC <-> NCDHW, as
    Chainer's convolution_nd takes it). SAME: as TF (vectors, sequences of vectors, attention
    weights).
    """

    FRAMES = "frames"
    CHANNELS_FIRST = "channels_first"
    SAME = "same"

    def axes(self, ndim: int) -> tuple[int, ...] | None:
        """The permutation TF -> Chainer of a value of rank `ndim` (None: the same)."""
        if self is Activation.FRAMES and ndim >= 4:
            return (*range(ndim - 3), ndim - 1, ndim - 3, ndim - 2)
        if self is Activation.CHANNELS_FIRST and ndim >= 3:
            return (0, ndim - 1, *range(1, ndim - 1))
        return None


def activation_to_chainer(value: np.ndarray) -> np.ndarray:
    return Activation.FRAMES.to_chainer(value)


def activation_to_tf(value: np.ndarray) -> np.ndarray:
    return Activation.FRAMES.to_tf(value)
