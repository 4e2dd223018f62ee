"""The fast path's convolutions: on oneDNN when it takes the problem (`dnnl`: float32,
installed, TWINPORT_CONV not "im2col"), else on the im2col kernels (`kernels`).

Same conventions as both: activations NHWC and unpadded, weights HWIO, `pads` ((top, bottom),
(left, right)) of the input (negative entries crop, on the im2col kernels).
"""

from __future__ import annotations

import numpy as np

from chainer_port.fast_cpu import dnnl, kernels
from chainer_port.fast_cpu.kernels import Pads


def channels_last(x: np.ndarray) -> np.ndarray:
    """(N, C, *spatial)-shaped `x` as contiguous (N, *spatial, C): a view of channels-last memory
    (a fast-path output, see `kernels.as_nhwc`), else a copy: a transposing one (channels
    not contiguous: NCHW memory) on oneDNN's reorder where it takes it (float32; 3 to 7 times
    faster than the copy below from 256 KB on 2 cores), else on `kernels.as_nhwc` (4-D) or
    NumPy (a crop of channels-last memory, whose rows of channels NumPy copies as they are)."""
    view = x.transpose(0, *range(2, x.ndim), 1)
    if view.flags.c_contiguous:
        return view
    transposing = view.strides[-1] != view.itemsize
    copy = (dnnl.contiguous_copy(view) if transposing and view.size >= dnnl.THREADS_PAY_FROM
            else None)
    if copy is not None:
        return copy
    return kernels.as_nhwc(x) if x.ndim == 4 else np.ascontiguousarray(view)


def conv(x: np.ndarray, hwio: np.ndarray, stride: int, pads: Pads,
         bias: np.ndarray | None = None) -> np.ndarray:
    """y = conv(pad(x, pads), hwio, stride) (+ bias, per output channel): (N, Ho, Wo, out)."""
    y = dnnl.conv(x, hwio, stride, pads, bias)
    if y is not None:
        return y
    y = kernels.conv(kernels.pad_nhwc(x, pads), hwio, stride)
    if bias is not None:
        y += bias
    return y


def conv_transpose(gy: np.ndarray, hwio: np.ndarray, stride: int, pads: Pads,
                   in_hw: tuple[int, int]) -> np.ndarray:
    """The adjoint of `conv` w.r.t. x applied to `gy`: (N, *in_hw, C)."""
    gx = dnnl.conv_transpose(gy, hwio, stride, pads, in_hw)
    return gx if gx is not None else kernels.conv_transpose(gy, hwio, stride, pads, in_hw)


def conv_filter_grad(x: np.ndarray, gy: np.ndarray, kh: int, kw: int, stride: int, pads: Pads,
                     bias: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """d(sum gy * conv(pad(x, pads), W)) / dW: HWIO (kh, kw, C, O); with `bias` the bias's
    gradient too (gy summed per channel), else None."""
    grads = dnnl.conv_filter_grad(x, gy, (kh, kw), stride, pads, bias)
    if grads is not None:
        return grads
    return (kernels.conv_filter_grad(kernels.pad_nhwc(x, pads), gy, kh, kw, stride),
            bias_grad(gy) if bias else None)


def bias_grad(gy: np.ndarray) -> np.ndarray:
    """The gradient of a bias added per channel to channels-last `gy`'s output: its sum over
    every other axis."""
    return gy.sum(axis=tuple(range(gy.ndim - 1)))
