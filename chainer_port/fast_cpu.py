"""CPU fast path of the port's heavy functions: the same results as Chainer's, much faster.

On NumPy, Chainer's `convolution_2d` / `deconvolution_2d` materialise the whole im2col buffer
and copy it again for `tensordot`, its grouped convolution loops over the groups in Python
(one per sample and channel in the cross conv), its max pooling arg-maxes over a k * k im2col
buffer, and the port's float64 BatchNorm copies every map to float64: the paper preset's train
step took ~90 s against TF's ~4 s. The nodes of `chainer_port.fast_cpu_nodes` compute the
same functions, forward and backward: convolutions on oneDNN, else cache-blocked im2col GEMMs
(`fast_cpu_conv`), compiled max pooling (`fast_cpu_pool`), blocked float64 BatchNorm in compiled
loops (`fast_cpu_norm`). The first use sets malloc to keep freed memory (`fast_cpu_memory`).

`tf_compat`'s shims call them through `applies(...)`: only for NumPy arrays (never CuPy, where
cuDNN does this work) of float32 / float64, and only while the environment variable
TWINPORT_FAST_CPU is not "0". It is read at EVERY call, so one process can compare the two paths
(the parity harness, the benchmark and the tests do). Double backprop is not supported: it
raises NotImplementedError (see `fast_cpu_nodes`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import chainer
import numpy as np
from chainer.types import NdArray

from chainer_port.fast_cpu_kernels import Pads
from chainer_port.fast_cpu_memory import keep_freed_memory
from chainer_port.fast_cpu_nodes import (
    BatchNormTraining,
    Conv2D,
    Conv2DTranspose,
    DepthwiseConv2D,
    FixedBatchNorm,
    MaxPool2D,
    rows_by_channel,
)
from chainer_port.fast_cpu_norm import moments

ENV_SWITCH = "TWINPORT_FAST_CPU"
_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

VariableOrArray = chainer.Variable | NdArray


def enabled() -> bool:
    """False when TWINPORT_FAST_CPU=0 (read now, not at import)."""
    return os.environ.get(ENV_SWITCH, "1").strip() != "0"


def applies(*values: VariableOrArray) -> bool:
    """Whether the fast path takes an op on `values`: enabled, all NumPy, one float dtype."""
    if not enabled():
        return False
    arrays = [value.array if isinstance(value, chainer.Variable) else value for value in values]
    if not (all(isinstance(array, np.ndarray) for array in arrays)
            and arrays[0].dtype in _DTYPES
            and all(array.dtype == arrays[0].dtype for array in arrays)):
        return False
    keep_freed_memory()
    return True


def conv2d(x: VariableOrArray, weights: VariableOrArray, pads: Pads, stride: int = 1
           ) -> chainer.Variable:
    """`F.convolution_2d(pad(x, pads), weights, stride=stride)` for any (asymmetric) pads.

    x NCHW, weights Chainer's (out, in, kh, kw), pads ((top, bottom), (left, right)).
    """
    return Conv2D(_pads(pads), stride).apply((x, weights))[0]


def conv2d_transpose(x: VariableOrArray, weights: VariableOrArray, stride: int, pad: int,
                     out_size: int) -> chainer.Variable:
    """`F.deconvolution_2d(x, weights, stride=stride, pad=pad, outsize=(out_size, out_size))`.

    weights Chainer's (in, out, kh, kw): the full transposed convolution cropped from `pad`.
    """
    in_h, in_w = x.shape[-2:]
    kh, kw = weights.shape[-2:]
    pads = tuple((pad, max((size - 1) * stride + k - out_size - pad, 0))
                 for size, k in ((in_h, kh), (in_w, kw)))
    return Conv2DTranspose(pads, stride, (out_size, out_size)).apply((x, weights))[0]


def depthwise_conv2d(features: VariableOrArray, kernel: VariableOrArray, pads: Pads
                     ) -> chainer.Variable:
    """Each [b, c] plane of NCHW `features` cross-correlated with its own `kernel[b, c]`.

    The grouped `F.convolution_2d(groups=B * C)` of `tf_compat.batched_cross_conv`, stride 1,
    `pads` as in `conv2d` (each at most kernel - 1).
    """
    return DepthwiseConv2D(_pads(pads)).apply((features, kernel))[0]


def max_pool2d(x: VariableOrArray, kernel: int, stride: int, pads: Pads) -> chainer.Variable:
    """`F.max_pooling_2d(pad(x, pads, -inf), kernel, stride, cover_all=False)`, NCHW."""
    return MaxPool2D(kernel, stride, _pads(pads)).apply((x,))[0]


def batch_norm_training(x: VariableOrArray, beta: VariableOrArray, eps: float,
                        relu: bool = False) -> chainer.Variable:
    """`tf_compat.tf_batch_norm_training`: the same float64 arithmetic, block by block; `relu`
    applies a ReLU in the same pass."""
    return BatchNormTraining(eps, relu).apply((x, beta))[0]


def fixed_batch_norm(x: VariableOrArray, beta: VariableOrArray, mean: NdArray, var: NdArray,
                     eps: float, relu: bool = False) -> chainer.Variable:
    """`tf_compat.tf_batch_norm_inference`: Chainer's float32 formula, block by block; `relu`
    as in `batch_norm_training`."""
    return FixedBatchNorm(mean, var, eps, relu).apply((x, beta))[0]


def channel_moments(x: NdArray) -> tuple[np.ndarray, np.ndarray]:
    """`tf_compat.tf_moments` of an NCHW-shaped array: float64 accumulation, x's dtype out."""
    mean, var = moments(rows_by_channel(x))
    return mean.astype(x.dtype), var.astype(x.dtype)


def _pads(pads: Sequence[Sequence[int]]) -> Pads:
    (top, bottom), (left, right) = pads
    return (int(top), int(bottom)), (int(left), int(right))


