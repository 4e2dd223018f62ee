"""The layout rules between TF (NHWC, HWIO) and Chainer (NCHW, OIHW): one per leaf kind.

Weights: each variable names its rule, a `Transpose` (the weight map derives from the spec by
that rule; there is no list of names). A TF conv kernel is [kh, kw, in, out] and Chainer's
Convolution2D W is (out, in, kh, kw); a TF conv2d_transpose kernel is [kh, kw, out, in] and
Chainer's Deconvolution2D W is (in, out, kh, kw): both are `KERNEL`. A TF dense kernel is
[in, out] and Chainer's Linear W is (out, in): `MATRIX`. A variable shaped like an activation
(a ConvLSTM's per-position peephole weights, [1, H, W, C]) is (1, C, H, W) in Chainer:
`ACTIVATION`. Everything else is the same in both.

Activations: a tap with a channel axis (rank >= 4 with batch) has it last in TF and third from
last in Chainer (NHWC <-> NCHW; frames [B, L, H, W, C] <-> [B, L, C, H, W]). Flat taps and
scalars are the same in both.
"""

from __future__ import annotations

import enum

import numpy as np


class Transpose(enum.Enum):
    """How one TF variable becomes the Chainer array: the axes permutation TF -> Chainer."""

    NONE = ()
    KERNEL = (3, 2, 0, 1)
    MATRIX = (1, 0)
    ACTIVATION = (0, 3, 1, 2)

    def to_chainer(self, value: np.ndarray) -> np.ndarray:
        return value.transpose(self.value) if self.value else value

    def to_tf(self, value: np.ndarray) -> np.ndarray:
        return value.transpose(np.argsort(self.value)) if self.value else value


def activation_to_chainer(value: np.ndarray) -> np.ndarray:
    return np.moveaxis(value, -1, -3) if value.ndim >= 4 else value


def activation_to_tf(value: np.ndarray) -> np.ndarray:
    return np.moveaxis(value, -3, -1) if value.ndim >= 4 else value
