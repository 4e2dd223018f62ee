"""The fast path's `chainer.FunctionNode`s: NCHW-shaped arrays in and out, NHWC inside.

Outputs are NCHW-shaped views of NHWC memory (`_nchw`): Chainer's elementwise functions keep
that memory order, so the next node gets NHWC memory back without a transpose (see
`conv.channels_last`).

Each node's backward applies a `_Gradients` node that computes the first-order gradients and
whose own backward raises NotImplementedError: double backprop through the fast path fails
loudly instead of silently giving zeros (switch the fast path off for it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import chainer
import chainer.functions as F
import numpy as np

from chainer_port.fast_cpu import conv as convolutions
from chainer_port.fast_cpu import dnnl, kernels
from chainer_port.fast_cpu.conv import channels_last
from chainer_port.fast_cpu.flash import attention, attention_grad
from chainer_port.fast_cpu.kernels import Pads
from chainer_port.fast_cpu.layernorm import layer_norm, layer_norm_grad
from chainer_port.fast_cpu.lstm import (
    Order,
    lstm_update,
    lstm_update_grad,
    peephole_lstm_update,
    peephole_lstm_update_grad,
)
from chainer_port.fast_cpu.matmul import batched_gemm, transposed
from chainer_port.fast_cpu.norm import batch_norm, batch_norm_grad, fixed_batch_norm
from chainer_port.fast_cpu.perpixel import per_pixel_kernels, per_pixel_kernels_grad
from chainer_port.fast_cpu.pool import max_pool, max_pool_grad
from chainer_port.fast_cpu.sampler import bilinear_sample, bilinear_sample_grad
from chainer_port.fast_cpu.softmax import (
    softmax_cross_entropy,
    softmax_cross_entropy_grad,
    softmax_last_axis,
    softmax_last_axis_grad,
)
from chainer_port.fast_cpu.units import multiplicative_unit, multiplicative_unit_grad

Result = TypeVar("Result")

Wanted = tuple[int, ...]
"""Indexes of the inputs whose gradients are wanted."""

DOUBLE_BACKPROP = ("double backprop through the CPU fast path is not implemented: run with "
                   "TWINPORT_FAST_CPU=0 to use Chainer's own functions")


def _hwio(weights: np.ndarray) -> np.ndarray:
    """Chainer's conv (out, in, kh, kw), or deconv (in, out, kh, kw), kernel as conv HWIO (a
    view; 3-D kernels as DHWIO)."""
    return weights.transpose(*range(2, weights.ndim), 1, 0)


def _from_hwio(hwio: np.ndarray) -> np.ndarray:
    """`_hwio`'s inverse, contiguous: Chainer's (out, in, *kernel)."""
    return np.ascontiguousarray(hwio.transpose(hwio.ndim - 1, hwio.ndim - 2,
                                               *range(hwio.ndim - 2)))


def _nchw(y: np.ndarray) -> np.ndarray:
    """Channels-last `y` (NHWC, NDHWC) as the channels-first view Chainer gets (no copy: see
    `conv.channels_last`)."""
    return y.transpose(0, y.ndim - 1, *range(1, y.ndim - 1))


class _Gradients(chainer.FunctionNode):
    """First-order gradients of a fast-path node, (retained inputs..., gy) -> wanted gradients.

    A node of its own so that a graph built with enable_double_backprop=True records it and
    differentiating it raises, rather than being cut and silently returning no gradient.
    """

    def __init__(self, of: str, compute: Callable[..., tuple[np.ndarray | None, ...]],
                 wanted: tuple[int, ...]) -> None:
        super().__init__()
        self.of = of
        self.compute = compute
        self.wanted = wanted

    @property
    def label(self) -> str:
        return f"{self.of}Grad"

    def forward(self, inputs: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        *arrays, gy = inputs
        grads = self.compute(*arrays, gy, self.wanted)
        return tuple(grads[index] for index in self.wanted)

    def backward(self, target_input_indexes: tuple[int, ...], grad_outputs: tuple) -> tuple:
        raise NotImplementedError(DOUBLE_BACKPROP)


class _FastNode(chainer.FunctionNode):
    """A one-output node whose backward is `self.gradients(*retained inputs, gy, wanted)`,
    run as a `_Gradients` node; `gradients` returns one array (or None) per input."""

    def backward(self, target_input_indexes: tuple[int, ...], grad_outputs: tuple
                 ) -> tuple[chainer.Variable, ...]:
        inputs = self.get_retained_inputs()
        return _Gradients(self.label, self.gradients, tuple(target_input_indexes)).apply(
            (*inputs, grad_outputs[0]))

    def gradients(self, *arrays_gy_wanted) -> tuple[np.ndarray | None, ...]:
        raise NotImplementedError


class ConcatChannels(chainer.FunctionNode):
    """`F.concat(xs, axis=1)` of (N, C_i, *spatial) arrays into channels-last memory (an
    NCHW-shaped view of it, as the convolutions' outputs): the convolution it feeds reads it in
    place, where Chainer's concat gives NCHW memory that each convolution copied. Its gradient
    is views of the output's (`F.split_axis`)."""

    def forward(self, inputs: tuple[np.ndarray, ...]) -> tuple[np.ndarray]:
        self.bounds = np.cumsum([x.shape[1] for x in inputs])
        first = inputs[0]
        out = np.empty((first.shape[0], *first.shape[2:], int(self.bounds[-1])), first.dtype)
        for x, start, stop in zip(inputs, (0, *self.bounds[:-1]), self.bounds, strict=True):
            out[..., start:stop] = np.moveaxis(x, 1, -1)
        return _nchw(out),

    def backward(self, target_input_indexes: tuple[int, ...], grad_outputs: tuple
                 ) -> tuple[chainer.Variable, ...]:
        parts = F.split_axis(grad_outputs[0], [int(b) for b in self.bounds[:-1]], axis=1)
        return tuple(parts[index] for index in target_input_indexes)


class SplitChannels(chainer.FunctionNode):
    """`F.split_axis(x, indices, axis=1)`: views of x, as Chainer's; the gradient is put
    together in x's memory order (`ConcatChannels` for channels-last x), where Chainer's is
    NCHW memory whatever x's."""

    def __init__(self, indices: Sequence[int]) -> None:
        super().__init__()
        self.indices = tuple(int(index) for index in indices)

    def forward(self, inputs: tuple[np.ndarray]) -> tuple[np.ndarray, ...]:
        x, = inputs
        self.shape, self.dtype = x.shape, x.dtype
        self.channels_last = x.strides[1] == x.itemsize
        return tuple(np.split(x, self.indices, axis=1))

    def backward(self, target_input_indexes: tuple[int, ...], grad_outputs: tuple
                 ) -> tuple[chainer.Variable]:
        bounds = (0, *self.indices, self.shape[1])
        grads = [g if g is not None else np.zeros((self.shape[0], stop - start,
                                                   *self.shape[2:]), self.dtype)
                 for g, start, stop in zip(grad_outputs, bounds[:-1], bounds[1:], strict=True)]
        if self.channels_last:
            return ConcatChannels().apply(grads)
        return F.concat(grads, axis=1),


class Conv2D(_FastNode):
    """y = conv(pad(x, pads), W, stride) (+ b, per channel, when given: TF's conv and bias add
    as one, the bias's gradient from the weights' pass), NCHW in and out, computed NHWC."""

    def __init__(self, pads: Pads, stride: int) -> None:
        super().__init__()
        self.pads = pads
        self.stride = stride

    def forward(self, inputs: tuple[np.ndarray, ...]) -> tuple[np.ndarray]:
        x, weights, *bias = inputs
        self.retain_inputs((0, 1))
        y = convolutions.conv(channels_last(x), _hwio(weights), self.stride, self.pads, *bias)
        return _nchw(y),

    def gradients(self, x: np.ndarray, weights: np.ndarray, gy: np.ndarray, wanted: Wanted
                  ) -> tuple[np.ndarray | None, ...]:
        gy = channels_last(gy)
        gx = gw = gb = None
        if 0 in wanted:
            gx = _nchw(convolutions.conv_transpose(gy, _hwio(weights), self.stride, self.pads,
                                                   x.shape[2:]))
        if 1 in wanted or 2 in wanted:
            kh, kw = weights.shape[2:]
            hwio, gb = convolutions.conv_filter_grad(channels_last(x), gy, kh, kw, self.stride,
                                                     self.pads, bias=2 in wanted)
            gw = _from_hwio(hwio)
        return gx, gw, gb


class Conv2DTranspose(_FastNode):
    """The adjoint of Conv2D(pads, stride) w.r.t. its input: y = conv_transpose(x, W)."""

    def __init__(self, pads: Pads, stride: int, out_hw: tuple[int, int]) -> None:
        super().__init__()
        self.pads = pads
        self.stride = stride
        self.out_hw = out_hw

    def forward(self, inputs: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray]:
        x, weights = inputs
        self.retain_inputs((0, 1))
        y = convolutions.conv_transpose(channels_last(x), _hwio(weights), self.stride,
                                        self.pads, self.out_hw)
        return _nchw(y),

    def gradients(self, x: np.ndarray, weights: np.ndarray, gy: np.ndarray, wanted: Wanted
                  ) -> tuple[np.ndarray | None, np.ndarray | None]:
        gy = channels_last(gy)
        in_h, in_w = x.shape[2:]
        gx = gw = None
        if 0 in wanted:
            gx = _nchw(convolutions.conv(gy, _hwio(weights), self.stride,
                                         self.pads)[:, :in_h, :in_w])
        if 1 in wanted:
            kh, kw = weights.shape[2:]
            gw = _from_hwio(convolutions.conv_filter_grad(gy, channels_last(x), kh, kw,
                                                          self.stride, self.pads)[0])
        return gx, gw


class Conv3D(_FastNode):
    """y = conv(pad(x, pads), W, strides) (+ b when given, as `Conv2D`'s) of NCDHW-shaped
    float32 arrays on oneDNN, computed NDHWC (the output a view of it, as `Conv2D`'s); W
    Chainer's (out, in, kd, kh, kw). There is no fallback: `functions.conv3d_runs` says when to
    build it."""

    def __init__(self, pads: Pads, strides: tuple[int, ...]) -> None:
        super().__init__()
        self.pads = pads
        self.strides = strides

    def forward(self, inputs: tuple[np.ndarray, ...]) -> tuple[np.ndarray]:
        x, weights, *bias = inputs
        self.retain_inputs((0, 1))
        return _nchw(_onednn(dnnl.conv(channels_last(x), _hwio(weights), self.strides,
                                       self.pads, *bias))),

    def gradients(self, x: np.ndarray, weights: np.ndarray, gy: np.ndarray, wanted: Wanted
                  ) -> tuple[np.ndarray | None, ...]:
        gy = channels_last(gy)
        gx = gw = gb = None
        if 0 in wanted:
            gx = _nchw(_onednn(dnnl.conv_transpose(gy, _hwio(weights), self.strides,
                                                   self.pads, x.shape[2:])))
        if 1 in wanted or 2 in wanted:
            hwio, gb = _onednn(dnnl.conv_filter_grad(
                channels_last(x), gy, weights.shape[2:], self.strides, self.pads,
                bias=2 in wanted))
            gw = _from_hwio(hwio)
        return gx, gw, gb


def _onednn(result: Result | None) -> Result:
    if result is None:
        raise dnnl.DnnlError("oneDNN refused a 3-D convolution it was given")
    return result


class DepthwiseConv2D(_FastNode):
    """features [B, C, H, W], kernel [B, C, kh, kw] -> [B, C, Ho, Wo], plane by plane."""

    def __init__(self, pads: Pads) -> None:
        super().__init__()
        self.pads = pads

    def forward(self, inputs: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray]:
        features, kernel = inputs
        self.retain_inputs((0, 1))
        planes = kernels.pad_planes(_planes(features), self.pads)
        y = kernels.depthwise(planes, _planes(kernel))
        return y.reshape(*features.shape[:2], *y.shape[1:]),

    def gradients(self, features: np.ndarray, kernel: np.ndarray, gy: np.ndarray,
                  wanted: Wanted) -> tuple[np.ndarray | None, np.ndarray | None]:
        kh, kw = kernel.shape[2:]
        gy_planes = _planes(gy)
        gx = gk = None
        if 0 in wanted:
            pads = kernels.adjoint_pads((kh, kw), self.pads, features.shape[2:], gy.shape[2:])
            gx = kernels.depthwise(kernels.pad_planes(gy_planes, pads),
                                   _planes(kernel)[:, ::-1, ::-1]).reshape(features.shape)
        if 1 in wanted:
            planes = kernels.pad_planes(_planes(features), self.pads)
            gk = kernels.depthwise_filter_grad(planes, gy_planes, kh, kw).reshape(kernel.shape)
        return gx, gk


def _planes(x: np.ndarray) -> np.ndarray:
    """[B, C, H, W] as [B * C, H, W] (a view when it can be)."""
    return x.reshape(-1, *x.shape[2:])


class MaxPool2D(_FastNode):
    """TF's max pool (window `kernel`, `stride`, -inf `pads`) of NCHW-shaped maps.

    Pools NHWC memory in place (the output stays NHWC memory, as the convolutions'), anything
    else as planes (N * C, H, W, 1).
    """

    def __init__(self, kernel: int, stride: int, pads: Pads) -> None:
        super().__init__()
        self.kernel = kernel
        self.stride = stride
        self.pads = pads

    def forward(self, inputs: tuple[np.ndarray]) -> tuple[np.ndarray]:
        x, = inputs
        self.in_shape = x.shape
        self.nhwc = x.transpose(0, 2, 3, 1).flags.c_contiguous
        # The arg maxes only serve the backward: none without a graph (inference).
        y, self.args = max_pool(self._maps(x), self.kernel, self.stride, self.pads,
                                with_args=chainer.config.enable_backprop)
        return self._nchw(y, x.shape[:2]),

    def gradients(self, gy: np.ndarray, wanted: Wanted) -> tuple[np.ndarray, ...]:
        gx = max_pool_grad(self._maps(gy), self.args, self.in_shape[2:], self.kernel,
                           self.stride, self.pads)
        return self._nchw(gx, self.in_shape[:2]),

    def _maps(self, x: np.ndarray) -> np.ndarray:
        """NCHW-shaped x as the (N, H, W, C) maps the pooling kernels take (a view if it can)."""
        if self.nhwc:
            return x.transpose(0, 2, 3, 1)
        return x.reshape(-1, *x.shape[2:], 1)

    def _nchw(self, maps: np.ndarray, batch_channels: tuple[int, int]) -> np.ndarray:
        return maps.transpose(0, 3, 1, 2) if self.nhwc else maps.reshape(
            *batch_channels, *maps.shape[1:3])


class BatchNormTraining(_FastNode):
    """`tf_compat.tf_batch_norm_training`: batch statistics, gamma = 1, float64 inside; with
    `relu`, followed by a ReLU in the same pass."""

    def __init__(self, eps: float, relu: bool = False) -> None:
        super().__init__()
        self.eps = eps
        self.relu = relu

    def forward(self, inputs: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray]:
        x, beta = inputs
        self.retain_inputs((0,))
        if self.relu:
            self.retain_outputs((0,))
        y, self.mean, self.inv_std = batch_norm(rows_by_channel(x), beta, self.eps, self.relu)
        return _nchw(y.reshape(_channels_last_shape(x))),

    def gradients(self, x: np.ndarray, gy: np.ndarray, wanted: Wanted
                  ) -> tuple[np.ndarray, np.ndarray]:
        relu_y = rows_by_channel(self.get_retained_outputs()[0].array) if self.relu else None
        gx, gbeta = batch_norm_grad(rows_by_channel(x), rows_by_channel(gy), self.mean,
                                    self.inv_std, relu_y)
        return _nchw(gx.reshape(_channels_last_shape(x))), gbeta


class FixedBatchNorm(_FastNode):
    """`tf_compat.tf_batch_norm_inference`: the given (moving) statistics, gamma = 1; with
    `relu`, followed by a ReLU in the same pass."""

    def __init__(self, mean: np.ndarray, var: np.ndarray, eps: float, relu: bool = False
                 ) -> None:
        super().__init__()
        self.mean = mean
        self.var = var
        self.eps = eps
        self.relu = relu

    def forward(self, inputs: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray]:
        x, beta = inputs
        if self.relu:
            self.retain_outputs((0,))
        y, self.inv_std = fixed_batch_norm(rows_by_channel(x), beta, self.mean, self.var,
                                           self.eps, self.relu)
        return _nchw(y.reshape(_channels_last_shape(x))),

    def gradients(self, gy: np.ndarray, wanted: Wanted) -> tuple[np.ndarray, ...]:
        rows = rows_by_channel(gy)
        if self.relu:
            rows = rows * (rows_by_channel(self.get_retained_outputs()[0].array) > 0)
        gx = _nchw((rows * self.inv_std).reshape(_channels_last_shape(gy)))
        return gx, rows.sum(axis=0, dtype=np.float64).astype(gy.dtype)


class LayerNorm(_FastNode):
    """`tf_video_ops.tf_layer_norm` (TF's contrib layer norm) of an (N, C, *spatial)-shaped map
    and gamma and beta (C,): each sample normalised over all its axes, float64 statistics,
    computed channels-last (`layernorm`)."""

    def __init__(self, eps: float) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, inputs: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[np.ndarray]:
        x, gamma, beta = inputs
        self.retain_inputs((0, 1))
        y, self.stats = layer_norm(_sample_rows(x), gamma, beta, self.eps)
        return _nchw(y.reshape(_channels_last_shape(x))),

    def gradients(self, x: np.ndarray, gamma: np.ndarray, gy: np.ndarray, wanted: Wanted
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        gx, ggamma, gbeta = layer_norm_grad(_sample_rows(x), _sample_rows(gy), gamma,
                                            self.stats)
        return _nchw(gx.reshape(_channels_last_shape(x))), ggamma, gbeta


class BilinearSample(_FastNode):
    """`tf_video_ops.tf_spatial_transformer`'s sampling of an (N, C, H, W) image at (N * H * W)
    source points x, y (pixels): the four clipped neighbours' bilinear mix, computed
    channels-last (`sampler`)."""

    def forward(self, inputs: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[np.ndarray]:
        image, xs, ys = inputs
        self.retain_inputs((0, 1, 2))
        out = bilinear_sample(channels_last(image), *self._points(image, xs, ys))
        return _nchw(out.reshape(_channels_last_shape(image))),

    def gradients(self, image: np.ndarray, xs: np.ndarray, ys: np.ndarray, gy: np.ndarray,
                  wanted: Wanted) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        g_image, g_xs, g_ys = bilinear_sample_grad(
            channels_last(image), *self._points(image, xs, ys), _sample_rows(gy))
        return _nchw(g_image), g_xs.reshape(xs.shape), g_ys.reshape(ys.shape)

    @staticmethod
    def _points(image: np.ndarray, xs: np.ndarray, ys: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
        return (np.ascontiguousarray(xs).reshape(len(image), -1),
                np.ascontiguousarray(ys).reshape(len(image), -1))


class PerPixelKernels(_FastNode):
    """`tf_compat.per_pixel_kernels`: (N, C, H, W) image zero-padded by `pads`, each pixel's
    k x k window weighted by its own (N, k * k, H, W) kernels and summed, computed channels-last
    (`perpixel`)."""

    def __init__(self, pads: Pads) -> None:
        super().__init__()
        self.pads = pads

    def forward(self, inputs: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray]:
        image, kernels = inputs
        self.retain_inputs((0, 1))
        return _nchw(per_pixel_kernels(channels_last(image), channels_last(kernels),
                                       self.pads)),

    def gradients(self, image: np.ndarray, kernels: np.ndarray, gy: np.ndarray, wanted: Wanted
                  ) -> tuple[np.ndarray, np.ndarray]:
        g_image, g_kernels = per_pixel_kernels_grad(channels_last(image), channels_last(kernels),
                                                    self.pads, channels_last(gy))
        return _nchw(g_image), _nchw(g_kernels)


def _sample_rows(x: np.ndarray) -> np.ndarray:
    """(N, C, *spatial)-shaped `x` as (N, positions, C) channels-last rows (`channels_last`)."""
    return channels_last(x).reshape(x.shape[0], -1, x.shape[1])


def _channels_last_shape(x: np.ndarray) -> tuple[int, ...]:
    return x.shape[0], *x.shape[2:], x.shape[1]


def rows_by_channel(x: np.ndarray) -> np.ndarray:
    """NCHW-shaped `x` as (N * H * W, C): a view of NHWC memory, else a transposed copy."""
    return channels_last(x).reshape(-1, x.shape[1])


class SoftmaxCrossEntropy(_FastNode):
    """`F.softmax_cross_entropy(x, labels)` (normalised: the mean over every position), x of
    shape (N, C, ...), the classes on axis 1; the log-sum-exp in float64 (`softmax`)."""

    def __init__(self, labels: np.ndarray) -> None:
        super().__init__()
        self.labels = labels

    def forward(self, inputs: tuple[np.ndarray]) -> tuple[np.ndarray]:
        x, = inputs
        self.retain_inputs((0,))
        total, self.lse = softmax_cross_entropy(x, self.labels)
        return np.asarray(total / self.labels.size, x.dtype),

    def gradients(self, x: np.ndarray, gy: np.ndarray, wanted: Wanted
                  ) -> tuple[np.ndarray]:
        return softmax_cross_entropy_grad(x, self.labels, self.lse,
                                          float(gy) / self.labels.size),


class Softmax(_FastNode):
    """`F.softmax(x, axis=-1)`: Chainer's arithmetic on blocks of rows, on both cores; the
    backward reads the output, as Chainer's."""

    def forward(self, inputs: tuple[np.ndarray]) -> tuple[np.ndarray]:
        self.retain_outputs((0,))
        return softmax_last_axis(inputs[0]),

    def backward(self, target_input_indexes: tuple[int, ...], grad_outputs: tuple
                 ) -> tuple[chainer.Variable, ...]:
        y = self.get_retained_outputs()[0]
        return _Gradients(self.label, self.gradients, tuple(target_input_indexes)).apply(
            (y, grad_outputs[0]))

    def gradients(self, y: np.ndarray, gy: np.ndarray, wanted: Wanted) -> tuple[np.ndarray]:
        return softmax_last_axis_grad(y, gy),


class Attention(_FastNode):
    """softmax(q k^T) v over the keys of (B, Lq, C), (B, Lk, C), (B, Lk, Cv) arrays, by blocks
    of query rows without the (Lq x Lk) matrix in memory (`flash`); the backward reads the
    output and each row's log-sum-exp, and recomputes the weights."""

    def forward(self, inputs: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[np.ndarray]:
        self.retain_inputs((0, 1, 2))
        self.retain_outputs((0,))
        out, self.lse = attention(*(np.ascontiguousarray(x) for x in inputs))
        return out,

    def backward(self, target_input_indexes: tuple[int, ...], grad_outputs: tuple
                 ) -> tuple[chainer.Variable, ...]:
        return _Gradients(self.label, self.gradients, tuple(target_input_indexes)).apply(
            (*self.get_retained_inputs(), self.get_retained_outputs()[0], grad_outputs[0]))

    def gradients(self, q: np.ndarray, k: np.ndarray, v: np.ndarray, out: np.ndarray,
                  gy: np.ndarray, wanted: Wanted) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return attention_grad(*(np.ascontiguousarray(x) for x in (q, k, v)), out, self.lse,
                              np.ascontiguousarray(gy))


class BatchedMatMul(_FastNode):
    """`F.matmul(a, b, transa, transb)` of (B, M, K) and (B, K, N) arrays (after the
    transposes): a GEMM per item and block of rows, on both cores (`matmul`)."""

    def __init__(self, transa: bool, transb: bool) -> None:
        super().__init__()
        self.transa = transa
        self.transb = transb

    def forward(self, inputs: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray]:
        a, b = inputs
        self.retain_inputs((0, 1))
        return batched_gemm(transposed(a, self.transa), transposed(b, self.transb)),

    def gradients(self, a: np.ndarray, b: np.ndarray, gy: np.ndarray, wanted: Wanted
                  ) -> tuple[np.ndarray | None, np.ndarray | None]:
        ga = gb = None
        if 0 in wanted:  # d op(a) = gy op(b)^T
            ga = transposed(batched_gemm(gy, transposed(b, not self.transb)), self.transa)
        if 1 in wanted:  # d op(b) = op(a)^T gy
            gb = transposed(batched_gemm(transposed(a, not self.transa), gy), self.transb)
        return ga, gb


class LSTMCell(_FastNode):
    """`tf_compat.tf_lstm_cell`: gates (N, 4W, H, W), c (N, W, H, W) -> concat(c', h') (N, 2W,
    H, W), computed channels last (`lstm`); the output is NHWC memory, as the convolutions'."""

    def __init__(self, forget_bias: float, order: Order) -> None:
        super().__init__()
        self.forget_bias = forget_bias
        self.order = order

    def forward(self, inputs: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray]:
        gates, c = inputs
        self.retain_inputs((0, 1))
        state = lstm_update(_rows(gates), _rows(c), self.forget_bias, self.order)
        return _nchw(state.reshape(*_channels_last_shape(c)[:3], -1)),

    def gradients(self, gates: np.ndarray, c: np.ndarray, gy: np.ndarray, wanted: Wanted
                  ) -> tuple[np.ndarray, np.ndarray]:
        g_gates, g_c = lstm_update_grad(_rows(gates), _rows(c), _rows(gy), self.forget_bias,
                                        self.order)
        return (_nchw(g_gates.reshape(_channels_last_shape(gates))),
                _nchw(g_c.reshape(_channels_last_shape(c))))


class PeepholeLSTMCell(_FastNode):
    """`tf_compat.tf_peephole_lstm_cell`: gates (N, 4W, H, W), c (N, W, H, W), peephole
    weights w_i, w_f, w_o (1, W, H, W) -> concat(c', h') (N, 2W, H, W), computed channels last
    (`lstm.peephole_lstm_update`); the output is NHWC memory, as the convolutions'."""

    def __init__(self, forget_bias: float, output_sees_new: bool, order: Order) -> None:
        super().__init__()
        self.forget_bias = forget_bias
        self.output_sees_new = output_sees_new
        self.order = order

    def forward(self, inputs: tuple[np.ndarray, ...]) -> tuple[np.ndarray]:
        self.retain_inputs(tuple(range(5)))
        gates, c, weights = self._rows(inputs)
        state = peephole_lstm_update(gates, c, weights, self.forget_bias, self.order,
                                     self.output_sees_new)
        return _nchw(state.reshape(*_channels_last_shape(inputs[1])[:3], -1)),

    def gradients(self, *arrays_gy_wanted) -> tuple[np.ndarray, ...]:
        *inputs, gy, _ = arrays_gy_wanted
        gates, c, weights = self._rows(inputs)
        g_gates, g_c, g_weights = peephole_lstm_update_grad(
            gates, c, weights, _sample_rows(gy), self.forget_bias, self.order,
            self.output_sees_new)
        return (_nchw(g_gates.reshape(_channels_last_shape(inputs[0]))),
                _nchw(g_c.reshape(_channels_last_shape(inputs[1]))),
                *(_nchw(g.reshape(_channels_last_shape(inputs[2]))) for g in g_weights))

    @staticmethod
    def _rows(inputs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """(N, positions, channels) rows of the gates and c, (positions, W) rows of the
        weights: views of channels-last memory (c as a state's channel slice too)."""
        rows = [_rows(x).reshape(x.shape[0], -1, x.shape[1]) for x in inputs]
        return rows[0], rows[1], [w[0] for w in rows[2:]]


class MultiplicativeUnit(_FastNode):
    """`tf_compat.multiplicative_unit` of (N, 4C, H, W) pre-activations g1, g2, g3, u joined
    and (when given) h (N, C, H, W): sigmoid(g1) * tanh(sigmoid(g2) * h + sigmoid(g3) *
    tanh(u)), computed channels last (`units`); the output is NHWC memory, as the
    convolutions'."""

    def forward(self, inputs: tuple[np.ndarray, ...]) -> tuple[np.ndarray]:
        self.retain_inputs(tuple(range(len(inputs))))
        y = multiplicative_unit(_rows(inputs[0]), _h_rows(inputs))
        n, channels, *spatial = inputs[0].shape
        return _nchw(y.reshape(n, *spatial, channels // 4)),

    def gradients(self, *arrays_gy_wanted) -> tuple[np.ndarray, ...]:
        *inputs, gy, _ = arrays_gy_wanted
        grads = multiplicative_unit_grad(_rows(inputs[0]), _h_rows(inputs), _rows(gy))
        return tuple(_nchw(g.reshape(_channels_last_shape(x)))
                     for g, x in zip(grads, inputs, strict=True))


def _h_rows(inputs: Sequence[np.ndarray]) -> np.ndarray | None:
    return _rows(inputs[1]) if len(inputs) > 1 else None


def _rows(x: np.ndarray) -> np.ndarray:
    """NCHW-shaped `x` as (N * H * W, C) rows: a view of channels-last memory (a channel slice
    of it too), else a copy."""
    return x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])
