"""The fast path's public functions, the same as Chainer's: `applies` says when `tf_compat`'s
shims may call them (see the package's docstring)."""

from __future__ import annotations

from collections.abc import Sequence

import chainer
import numpy as np
from chainer.types import NdArray

from chainer_port.fast_cpu import dnnl
from chainer_port.fast_cpu.blas import numpy_blas_on_one_thread
from chainer_port.fast_cpu.config import fast_path_enabled
from chainer_port.fast_cpu.kernels import Pads
from chainer_port.fast_cpu.memory import keep_freed_memory
from chainer_port.fast_cpu.nodes import (
    Attention,
    BatchedMatMul,
    BatchNormTraining,
    BilinearSample,
    ConcatChannels,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    DepthwiseConv2D,
    FixedBatchNorm,
    LayerNorm,
    LSTMCell,
    MaxPool2D,
    MultiplicativeUnit,
    PeepholeLSTMCell,
    PerPixelKernels,
    Softmax,
    SoftmaxCrossEntropy,
    SplitChannels,
    rows_by_channel,
)
from chainer_port.fast_cpu.norm import moments

_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

VariableOrArray = chainer.Variable | NdArray


def applies(*values: VariableOrArray) -> bool:
    """Whether the fast path takes an op on `values`: enabled, all NumPy, one float dtype."""
    if not fast_path_enabled():
        return False
    arrays = [value.array if isinstance(value, chainer.Variable) else value for value in values]
    if not (all(isinstance(array, np.ndarray) for array in arrays)
            and arrays[0].dtype in _DTYPES
            and all(array.dtype == arrays[0].dtype for array in arrays)):
        return False
    keep_freed_memory()
    numpy_blas_on_one_thread()
    return True


def conv2d(x: VariableOrArray, weights: VariableOrArray, pads: Pads, stride: int = 1,
           bias: VariableOrArray | None = None) -> chainer.Variable:
    """`F.convolution_2d(pad(x, pads), weights, bias, stride=stride)` for any (asymmetric)
    pads.

    x NCHW, weights Chainer's (out, in, kh, kw), pads ((top, bottom), (left, right)), bias
    (out,) or None.
    """
    return Conv2D(_pads(pads), stride).apply(_with_bias(x, weights, bias))[0]


def conv3d_runs(x: VariableOrArray, weights: VariableOrArray) -> bool:
    """Whether `conv3d` takes these: the fast path `applies`, float32, oneDNN installed and
    switched on (3-D convolutions have no im2col kernels here)."""
    return (applies(x, weights) and chainer.as_array(x).dtype == np.float32
            and dnnl.available())


def conv3d(x: VariableOrArray, weights: VariableOrArray, pads: Sequence[Sequence[int]],
           strides: Sequence[int], bias: VariableOrArray | None = None) -> chainer.Variable:
    """`F.convolution_nd(pad(x, pads), weights, bias, stride=strides)` of NCDHW `x` on oneDNN
    (see `conv3d_runs`): weights Chainer's (out, in, kd, kh, kw), a (before, after) pad and a
    stride per spatial axis, bias (out,) or None."""
    return Conv3D(tuple((int(a), int(b)) for a, b in pads),
                  tuple(int(step) for step in strides)).apply(_with_bias(x, weights, bias))[0]


def _with_bias(x: VariableOrArray, weights: VariableOrArray, bias: VariableOrArray | None
               ) -> tuple[VariableOrArray, ...]:
    return (x, weights) if bias is None else (x, weights, bias)


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


def layer_norm(x: VariableOrArray, gamma: VariableOrArray, beta: VariableOrArray, eps: float
               ) -> chainer.Variable:
    """`tf_video_ops.tf_layer_norm` of an (N, C, *spatial) map: each sample normalised over
    all its axes but the batch (float64 statistics), then gamma and beta per channel."""
    return LayerNorm(float(eps)).apply((x, gamma, beta))[0]


def bilinear_sample(image: VariableOrArray, xs: VariableOrArray, ys: VariableOrArray
                    ) -> chainer.Variable:
    """`tf_video_ops.tf_spatial_transformer`'s sampling: (N, C, H, W) `image` at the (N * H *
    W) source points xs, ys (pixels), each output pixel the bilinear mix of its four
    neighbours clipped into the image."""
    return BilinearSample().apply((image, xs, ys))[0]


def per_pixel_kernels(image: VariableOrArray, kernels: VariableOrArray,
                      pads: Sequence[Sequence[int]]) -> chainer.Variable:
    """`tf_compat.per_pixel_kernels`: (N, C, H, W) `image` zero-padded by `pads`, each pixel's
    k x k window weighted by its own (N, k * k, H, W) kernels (row offset major) and summed."""
    return PerPixelKernels(_pads(pads)).apply((image, kernels))[0]


def multiplicative_unit(gates: VariableOrArray, h: VariableOrArray | None) -> chainer.Variable:
    """`tf_compat.multiplicative_unit` of NCHW pre-activations g1, g2, g3, u joined (N, 4C, H,
    W), and h (N, C, H, W) when given."""
    return MultiplicativeUnit().apply((gates,) if h is None else (gates, h))[0]


def concat_channels(xs: Sequence[VariableOrArray]) -> chainer.Variable:
    """`F.concat(xs, axis=1)` into channels-last memory (the layout the convolutions read)."""
    return ConcatChannels().apply(tuple(xs))[0]


def split_channels(x: VariableOrArray, indices_or_sections: int | Sequence[int]
                   ) -> tuple[chainer.Variable, ...]:
    """`F.split_axis(x, indices_or_sections, axis=1)` whose gradient keeps x's memory order."""
    if isinstance(indices_or_sections, int):
        if x.shape[1] % indices_or_sections:
            raise ValueError(f"{x.shape[1]} channels do not split into {indices_or_sections} "
                             "equal parts")
        size = x.shape[1] // indices_or_sections
        indices_or_sections = range(size, x.shape[1], size)
    return SplitChannels(indices_or_sections).apply((x,))


def softmax_cross_entropy(x: VariableOrArray, labels: NdArray) -> chainer.Variable:
    """`F.softmax_cross_entropy(x, labels)` (the mean over every position; no ignored label):
    x (N, C, ...), integer labels (N, ...)."""
    return SoftmaxCrossEntropy(np.asarray(labels)).apply((x,))[0]


def last_axis_softmax(x: VariableOrArray) -> chainer.Variable:
    """`F.softmax(x, axis=-1)`, the same numbers (blocks of rows on both cores)."""
    return Softmax().apply((x,))[0]


def attention(q: VariableOrArray, k: VariableOrArray, v: VariableOrArray) -> chainer.Variable:
    """`tf_compat.tf_attention`: softmax(q k^T) v over the keys, 3-D arrays (a batch of query,
    key and value rows each), without the scores' matrix in memory."""
    return Attention().apply((q, k, v))[0]


def batched_matmul(a: VariableOrArray, b: VariableOrArray, transa: bool = False,
                   transb: bool = False) -> chainer.Variable:
    """`F.matmul(a, b, transa, transb)` of 3-D arrays (a batch of matrices each)."""
    return BatchedMatMul(transa, transb).apply((a, b))[0]


def lstm_cell(gates: VariableOrArray, c: VariableOrArray, forget_bias: float,
              order: tuple[int, int, int, int]) -> chainer.Variable:
    """`tf_compat.tf_lstm_cell` of NCHW gates (N, 4W, H, W), their blocks i, j, f, o at the
    indexes `order`, and cell c (N, W, H, W): concat(c', h') (N, 2W, H, W)."""
    return LSTMCell(float(forget_bias), order).apply((gates, c))[0]


def peephole_lstm_cell(gates: VariableOrArray, c: VariableOrArray,
                       weights: Sequence[VariableOrArray], forget_bias: float,
                       output_sees_new: bool, order: tuple[int, int, int, int]
                       ) -> chainer.Variable:
    """`tf_compat.tf_peephole_lstm_cell` of NCHW gates (N, 4W, H, W), their blocks i, j, f, o at
    the indexes `order`, cell c (N, W, H, W) and peephole weights w_i, w_f, w_o (1, W, H, W):
    concat(c', h') (N, 2W, H, W)."""
    return PeepholeLSTMCell(float(forget_bias), output_sees_new, order).apply(
        (gates, c, *weights))[0]


def channel_moments(x: NdArray) -> tuple[np.ndarray, np.ndarray]:
    """`tf_compat.tf_moments` of an NCHW-shaped array: float64 accumulation, x's dtype out."""
    mean, var = moments(rows_by_channel(x))
    return mean.astype(x.dtype), var.astype(x.dtype)


def _pads(pads: Sequence[Sequence[int]]) -> Pads:
    (top, bottom), (left, right) = pads
    return (int(top), int(bottom)), (int(left), int(right))


