"""The two layout rules between TF (NHWC, HWIO) and Chainer (NCHW, OIHW): one per leaf kind.

Weights: every 4-D variable is a kernel and maps with one transpose. A TF conv kernel is
[kh, kw, in, out] and Chainer's Convolution2D W is (out, in, kh, kw); a TF conv2d_transpose
kernel is [kh, kw, out, in] and Chainer's Deconvolution2D W is (in, out, kh, kw): both are
`transpose(3, 2, 0, 1)`. 1-D variables (BatchNorm) are the same in both.

Activations: a tap with a channel axis (rank >= 4 with batch) has it last in TF and third from
last in Chainer (NHWC <-> NCHW; frames [B, L, H, W, C] <-> [B, L, C, H, W]). Flat taps (z) and
scalars are the same in both: the port flattens z in NHWC order (see chainer_port.tf_compat).
"""

from __future__ import annotations

import numpy as np

TF_KERNEL_TO_CHAINER = (3, 2, 0, 1)
CHAINER_KERNEL_TO_TF = (2, 3, 1, 0)


def weight_to_chainer(value: np.ndarray) -> np.ndarray:
    return value.transpose(TF_KERNEL_TO_CHAINER) if value.ndim == 4 else value


def weight_to_tf(value: np.ndarray) -> np.ndarray:
    return value.transpose(CHAINER_KERNEL_TO_TF) if value.ndim == 4 else value


def activation_to_chainer(value: np.ndarray) -> np.ndarray:
    return np.moveaxis(value, -1, -3) if value.ndim >= 4 else value


def activation_to_tf(value: np.ndarray) -> np.ndarray:
    return np.moveaxis(value, -3, -1) if value.ndim >= 4 else value
