"""Every TensorFlow behaviour the ports emulate, one named shim each, and `TFCompat`: the
switches that choose between TF's behaviour and the naive Chainer call, one named option each.

Each shim says what TF does and why the plain Chainer call differs. All of them take and
return `chainer.Variable`s (or arrays) in Chainer's NCHW layout, stay differentiable, and run
on the array's own device (NumPy or CuPy): small constant matrices are built in NumPy and sent
to the input's device; nothing calls NumPy on an activation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import chainer
import chainer.functions as F
import numpy as np
from chainer.types import NdArray

from chainer_port import fast_cpu
from spec.layout import Activation
from spec.tf_geometry import same_pads, tf1_bilinear_sources, transpose_crop

VariableOrArray = chainer.Variable | NdArray


def tf_same_pads(size: int, kernel: int, stride: int, extra: str = "after", dilation: int = 1
                 ) -> tuple[int, int]:
    """TF's SAME padding of one axis, (before, after) (`spec.tf_geometry.same_pads`, dilated
    kernels included): an odd total puts the extra pixel at the end of the axis, where
    Chainer's `pad=` is symmetric only. `extra="before"` puts it at the start instead (the
    naive port: `TFCompat.same_pad_extra`)."""
    before, after = same_pads(size, kernel, stride, dilation)
    return (before, after) if extra == "after" else (after, before)


def same_padding(x: VariableOrArray, kernel: int | tuple[int, ...],
                 stride: int | tuple[int, ...], value: float = 0.0, extra: str = "after",
                 dilation: int = 1, spatial: int = 2) -> tuple[chainer.Variable, tuple[int, ...]]:
    """Prepare `x` (N, C and `spatial` axes) for a TF SAME window op: (x, symmetric pad per
    spatial axis for Chainer's `pad=`).

    The symmetric part of the padding is returned for the Chainer call; only the asymmetric
    excess (one extra pixel at the end of an axis, e.g. even kernels at stride 1 or stride 2
    on even sizes) is added here with `F.pad`, filled with `value` (0 for convolutions, -inf
    for max pooling, where TF's padding never wins).
    """
    kernels = kernel if isinstance(kernel, tuple) else (kernel,) * spatial
    strides = stride if isinstance(stride, tuple) else (stride,) * spatial
    pads = [tf_same_pads(size, k, s, extra, dilation)
            for size, k, s in zip(x.shape[-spatial:], kernels, strides, strict=True)]
    symmetric = tuple(min(pad) for pad in pads)
    if any(before != after for before, after in pads):
        widths = ((0, 0),) * (x.ndim - spatial) + tuple(
            (before - common, after - common)
            for (before, after), common in zip(pads, symmetric, strict=True))
        x = F.pad(x, widths, "constant", constant_values=value)
    return chainer.as_variable(x), symmetric


def tf_conv(x: VariableOrArray, weights: VariableOrArray, padding: str,
            stride: int | tuple[int, ...] = 1, dilation: int = 1, pad_extra: str = "after",
            bias: VariableOrArray | None = None) -> chainer.Variable:
    """`tf.nn.convolution(x, W, strides=stride, padding, dilations=dilation)`, then
    `tf.nn.bias_add(., bias)` when a bias is given, of any number of spatial axes (conv1d,
    conv2d, conv3d), channels first: x (N, C, ...), W (out, in, ...) = the TF kernel [..., in,
    out] by `spec.layout.Transpose.KERNEL`; a stride per spatial axis or one for all.

    Both frameworks cross-correlate (no kernel flip). VALID is `pad=0`; SAME pads as TF does
    for the dilated kernel's extent (`spec.tf_geometry.same_pads`), through `same_padding`
    because Chainer cannot pad asymmetrically (`pad_extra`: where its odd pixel goes). 2-D
    NumPy arrays without dilation take `fast_cpu.conv2d`, 3-D float32 ones `fast_cpu.conv3d`
    where oneDNN runs (same result, TF's pads applied directly; the bias added in the same
    node, as TF's fused convolutions do, and its gradient from the weights' pass).
    """
    spatial = x.ndim - 2
    if padding not in ("VALID", "SAME"):
        raise ValueError(f"unknown padding {padding!r}")
    strides = stride if isinstance(stride, tuple) else (stride,) * spatial
    if dilation == 1 and (
            (spatial == 2 and isinstance(stride, int) and fast_cpu.applies(x, weights))
            or (spatial == 3 and fast_cpu.conv3d_runs(x, weights))):
        pads = [tf_same_pads(size, k, step, pad_extra) if padding == "SAME" else (0, 0)
                for size, k, step in zip(x.shape[2:], weights.shape[2:], strides, strict=True)]
        if spatial == 2:
            return fast_cpu.conv2d(x, weights, pads, stride, bias)
        return fast_cpu.conv3d(x, weights, pads, strides, bias)
    pad: tuple[int, ...] | int = 0
    if padding == "SAME":
        x, pad = same_padding(x, tuple(weights.shape[2:]), stride, extra=pad_extra,
                              dilation=dilation, spatial=spatial)
    if spatial == 2:
        y = F.convolution_2d(x, weights, stride=stride, pad=pad, dilate=dilation)
    else:
        y = F.convolution_nd(x, weights, stride=stride, pad=pad, dilate=dilation)
    return y if bias is None else F.bias(y, bias, axis=1)


def tf_conv2d(x: VariableOrArray, weights: VariableOrArray, padding: str, stride: int = 1,
              pad_extra: str = "after", bias: VariableOrArray | None = None
              ) -> chainer.Variable:
    """`tf.nn.conv2d(x, W, strides=stride, padding)` (then its bias, when given), NCHW, W
    (out, in, k, k): `tf_conv` of two spatial axes."""
    return tf_conv(x, weights, padding, stride, pad_extra=pad_extra, bias=bias)


def tf_gate_convs(xs: Sequence[VariableOrArray],
                  kernels: Sequence[Sequence[VariableOrArray]], padding: str,
                  biases: Sequence[VariableOrArray] | None = None, dilation: int = 1
                  ) -> chainer.Variable:
    """A recurrent cell's gate pre-activations joined on the channel axis (gate g in its g-th
    block of channels, as one convolution of TF's BasicConvLSTMCell gives them), each a sum of
    `tf_conv`s of every input: gate g = conv(xs[0], kernels[g][0]) (+ biases[g]) + conv(xs[1],
    kernels[g][1]) + ..., in that order (the TF code's), NCHW, kernels (out, in, k, k) of one
    size, stride 1. The cells take the joined gates (`tf_peephole_lstm_cell`,
    `multiplicative_unit`) and give their gradient as one array.

    NumPy maps without dilation take one convolution of the inputs joined on their channels by
    the kernels joined to match (`fast_cpu.conv2d`, the biases in it): one pass over the
    inputs for all the gates, where the per-gate convolutions read each input once a gate,
    then add (the same sums, in another order: within float rounding)."""
    flat = [kernel for row in kernels for kernel in row]
    if (xs[0].ndim == 4 and dilation == 1 and len({kernel.shape[2:] for kernel in flat}) == 1
            and fast_cpu.applies(*xs, *flat, *(biases or ()))):
        joined = F.concat([F.concat(row, axis=1) if len(row) > 1 else row[0]
                           for row in kernels], axis=0)
        bias = F.concat(biases, axis=0) if biases is not None else None
        return tf_conv2d(tf_concat(xs, axis=1) if len(xs) > 1 else xs[0], joined, padding,
                         bias=bias)
    pre = []
    for g, row in enumerate(kernels):
        total = tf_conv(xs[0], row[0], padding, dilation=dilation,
                        bias=biases[g] if biases else None)
        for x, kernel in zip(xs[1:], row[1:], strict=True):
            total += tf_conv(x, kernel, padding, dilation=dilation)
        pre.append(total)
    return tf_concat(pre, axis=1)


def tf_concat(values: Sequence[VariableOrArray], axis: int) -> chainer.Variable:
    """`tf.concat(values, axis)` on Chainer's axes. NumPy maps (4-D, 5-D) joined on their
    channels (axis 1) take `fast_cpu.concat_channels`: the same values in channels-last memory,
    which the convolutions read without a copy."""
    if axis == 1 and values[0].ndim >= 4 and fast_cpu.applies(*values):
        return fast_cpu.concat_channels(values)
    return F.concat(values, axis=axis)


def tf_split(value: VariableOrArray, indices_or_sections: int | Sequence[int], axis: int
             ) -> tuple[chainer.Variable, ...]:
    """`tf.split` on Chainer's axes (`F.split_axis`'s arguments). NumPy maps split on their
    channels take `fast_cpu.split_channels`, whose gradient keeps the map's memory order."""
    if axis == 1 and value.ndim >= 4 and fast_cpu.applies(value):
        return fast_cpu.split_channels(value, indices_or_sections)
    return F.split_axis(value, indices_or_sections, axis=axis)


def tf_softmax_cross_entropy(logits: VariableOrArray, labels: NdArray) -> chainer.Variable:
    """`reduce_mean(softmax_cross_entropy_with_logits(one_hot(labels), logits))` with the
    classes on axis 1: Chainer's normalised `softmax_cross_entropy` (labels (N, ...), integer,
    none ignored). NumPy arrays take `fast_cpu.softmax_cross_entropy` (its log-sum-exp in
    float64, one pass over the classes a position)."""
    if (isinstance(labels, np.ndarray) and labels.size and labels.min() >= 0
            and fast_cpu.applies(logits)):
        return fast_cpu.softmax_cross_entropy(logits, labels)
    return F.softmax_cross_entropy(logits, labels)


GATES = ("i", "j", "f", "o")
"""TF's BasicConvLSTMCell's order of the four gates' blocks."""


def tf_lstm_cell(gates: VariableOrArray, c: VariableOrArray, forget_bias: float,
                 gate_split: tuple[str, ...] = GATES) -> chainer.Variable:
    """TF's BasicConvLSTMCell update, channels first: gates (N, 4W, ...) = conv(concat(x, h))
    + bias, its blocks named by `gate_split`; returns concat(c', h') on the channel axis, c' =
    c * sigmoid(f + forget_bias) + sigmoid(i) * tanh(j), h' = tanh(c') * sigmoid(o). NumPy
    maps (N, 4W, H, W) take `fast_cpu.lstm_cell` (one pass on both cores)."""
    if gates.ndim == 4 and fast_cpu.applies(gates, c):
        order = tuple(gate_split.index(name) for name in GATES)
        return fast_cpu.lstm_cell(gates, c, forget_bias, order)
    g = dict(zip(gate_split, tf_split(gates, 4, axis=1), strict=True))
    new_c = c * F.sigmoid(g["f"] + forget_bias) + F.sigmoid(g["i"]) * F.tanh(g["j"])
    return tf_concat([new_c, F.tanh(new_c) * F.sigmoid(g["o"])], axis=1)


def tf_peephole_lstm_cell(gates: VariableOrArray, c: VariableOrArray,
                          peepholes: Sequence[VariableOrArray], forget_bias: float,
                          output_sees_new: bool = True, gate_split: tuple[str, ...] = GATES
                          ) -> chainer.Variable:
    """A peephole LSTM cell's update (Shi et al.'s ConvLSTM, TF's LSTMCell with use_peepholes),
    channels first: pre-activations i, j, f, o joined (N, 4W, ...), their blocks named by
    `gate_split`, cell c (N, W, ...), per-position peephole weights w_i, w_f, w_o (1, W, ...);
    returns concat(c', h') on the channel axis, c' = sigmoid(f + w_f * c + forget_bias) * c +
    sigmoid(i + w_i * c) * tanh(j), h' = sigmoid(o + w_o * c') * tanh(c') (w_o * c where
    `output_sees_new` is False). NumPy maps (N, 4W, H, W) take `fast_cpu.peephole_lstm_cell`
    (one pass on both cores)."""
    if c.ndim == 4 and fast_cpu.applies(gates, c, *peepholes):
        order = tuple(gate_split.index(name) for name in GATES)
        return fast_cpu.peephole_lstm_cell(gates, c, peepholes, forget_bias, output_sees_new,
                                           order)
    g = dict(zip(gate_split, tf_split(gates, 4, axis=1), strict=True))
    i, j, f, o = (g[name] for name in GATES)
    w_i, w_f, w_o = (F.broadcast_to(w, c.shape) for w in peepholes)
    i = F.sigmoid(i + w_i * c)
    f = F.sigmoid(f + w_f * c + forget_bias)
    new_c = f * c + i * F.tanh(j)
    o = F.sigmoid(o + w_o * (new_c if output_sees_new else c))
    return tf_concat([new_c, o * F.tanh(new_c)], axis=1)


def tf_matmul(a: VariableOrArray, b: VariableOrArray, transpose_a: bool = False,
              transpose_b: bool = False) -> chainer.Variable:
    """`tf.matmul(a, b, transpose_a, transpose_b)`: Chainer's `F.matmul`; batches of matrices
    (3-D NumPy arrays) take `fast_cpu.batched_matmul` (a GEMM per block on both cores)."""
    if a.ndim == b.ndim == 3 and fast_cpu.applies(a, b):
        return fast_cpu.batched_matmul(a, b, transpose_a, transpose_b)
    return F.matmul(a, b, transa=transpose_a, transb=transpose_b)


def tf_attention(q: VariableOrArray, k: VariableOrArray, v: VariableOrArray
                 ) -> chainer.Variable:
    """`tf.matmul(tf.nn.softmax(tf.matmul(q, k, transpose_b=True)), v)` of 3-D arrays (a batch
    of query, key and value rows): each query's softmax weights over the keys times the values.
    NumPy arrays take `fast_cpu.attention` (by blocks of query rows, without the scores'
    matrix in memory); others TF's three ops (`tf_matmul`, `tf_softmax`)."""
    if q.ndim == 3 and fast_cpu.applies(q, k, v):
        return fast_cpu.attention(q, k, v)
    return tf_matmul(tf_softmax(tf_matmul(q, k, transpose_b=True)), v)


def tf_softmax(x: VariableOrArray, axis: int = -1) -> chainer.Variable:
    """`tf.nn.softmax(x, axis)`: Chainer's `F.softmax`; over the last axis NumPy arrays take
    `fast_cpu.last_axis_softmax` (the same numbers, blocks of rows on both cores)."""
    if axis in (-1, x.ndim - 1) and fast_cpu.applies(x):
        return fast_cpu.last_axis_softmax(x)
    return F.softmax(x, axis=axis)


@dataclass(frozen=True)
class TFBatchNorm:
    """slim.batch_norm's settings in the seed's era (TF r0.12, unfused, center=True, scale=False).

    Chainer's `L.BatchNormalization` differs on every point: decay 0.9, eps 2e-5, a learned
    gamma, and its running variance is updated with the UNBIASED batch variance
    (times m / (m - 1)); slim's moving variance uses the BIASED variance from `tf.nn.moments`,
    which matters for small maps (5x5 kernels). So the port never uses that link: see
    `tf_batch_norm_training`, `tf_batch_norm_inference`, `tf_moments`, `assign_moving_average`.
    """

    decay: float = 0.999
    epsilon: float = 1e-3


TF_BN_DEFAULTS = TFBatchNorm()


@dataclass(frozen=True)
class TFCompat:
    """The TF behaviours a Chainer twin reproduces where the plain Chainer call differs, one
    named option each; every default is TF's. A porting pitfall's mutant is the port with one
    option at the naive value (`chainer_port.mutants`), so no module is patched and ports with
    different options run side by side. A twin takes it as `tf_compat=`.

    same_pad_extra: where SAME puts an odd padding pixel: "after" (TF: bottom / right) or
        "before" (top / left).
    resize: "tf1_legacy" (TF1's bilinear, `tf1_bilinear_resize`) or "align_corners"
        (`F.resize_images`).
    flatten: "nhwc" (TF's `reshape(x, [N, -1])` order, `nhwc_flatten`) or "nchw" (a plain
        reshape of the NCHW map).
    depthwise_kernel: "hw" (TF's [k, k] order) or "wh" (the kernel's spatial axes swapped).
    deconv: "tf_same" (`conv2d_transpose_same`), "pad_one" (`F.deconvolution_2d(pad=1)` at
        every stride) or "flipped_kernel" (the kernel flipped in H and W first).
    batch_norm: decay and epsilon (TF's 0.999 and 1e-3; Chainer's 0.9 and 2e-5).
    bn_moving_variance: "biased" (TF's `tf.nn.moments`) or "unbiased" (Chainer's m / (m - 1)).
    bn_gamma: a learned gamma at 1 that no weight file carries (Chainer's
        `BatchNormalization`); TF's scale=False has none.
    conv_init: "xavier_uniform" (TF's) or "lecun_normal" (Chainer's default).
    deconv_init: "truncated_normal" (TF's) or "normal" (Chainer's `Normal`, no truncation).
    space_to_depth: "tf" (`F.space2depth`: TF's channel order (dy * block + dx) * C + c) or
        "nchw_reshape" (a plain reshape of the NCHW map to [N, C * block^2, H / block,
        W / block], which groups the values differently).
    layer_norm: "tf" (`tf.contrib.layers.layer_norm`: every axis but the batch, eps 1e-12;
        `tf_video_ops.tf_layer_norm`) or "chainer" (`L.LayerNormalization` per pixel: over the
        channels only, eps 1e-5).
    spatial_transformer: "tf" (tensorflow/models' `transformer`,
        `tf_video_ops.tf_spatial_transformer`) or "chainer" (`F.spatial_transformer_grid` and
        `F.spatial_transformer_sampler`: another scaling, zeros outside the image).
    channel_softmax: "nhwc" (TF's softmax of `reshape(x, [-1, C])` of an NHWC map: over each
        pixel's channels) or "nchw_reshape" (the same reshape of the NCHW map, which mixes
        pixels and channels).
    """

    same_pad_extra: str = "after"
    resize: str = "tf1_legacy"
    flatten: str = "nhwc"
    depthwise_kernel: str = "hw"
    deconv: str = "tf_same"
    batch_norm: TFBatchNorm = TF_BN_DEFAULTS
    bn_moving_variance: str = "biased"
    bn_gamma: bool = False
    conv_init: str = "xavier_uniform"
    deconv_init: str = "truncated_normal"
    space_to_depth: str = "tf"
    layer_norm: str = "tf"
    spatial_transformer: str = "tf"
    channel_softmax: str = "nhwc"


def tf_batch_norm_training(x: VariableOrArray, beta: VariableOrArray, epsilon: float,
                           relu: bool = False) -> chainer.Variable:
    """slim.batch_norm(is_training=True): normalise with the batch mean and BIASED variance.

    `F.batch_normalization` normalises per channel over (N, H, W) with the biased variance and
    back-propagates through the batch statistics, as TF does; gamma is a constant ones array
    (slim's scale=False), not a parameter. No running statistics are passed, so Chainer's
    unbiased running update never happens (see `assign_moving_average`).

    The statistics are accumulated in float64 and the result cast back: NumPy's float32
    reductions over N*H*W (Chainer's CPU path) lose about ten times more precision than TF's
    tree reductions (measured against a float64 run: 7e-5 vs 8e-6 of the tap's range on
    `image_encoder_3/Conv` in training mode), and BatchNorm's backward amplifies that error
    into gradients that differ by up to 3% between two correct float32 ports. NumPy arrays take
    `fast_cpu.batch_norm_training` (the same float64 arithmetic without float64 copies).

    `relu`: slim.conv2d's activation after its normaliser, `F.relu` of the result (the fast
    path applies it in the same pass over the map).
    """
    if x.ndim == 4 and fast_cpu.applies(x, beta):
        return fast_cpu.batch_norm_training(x, beta, epsilon, relu)
    dtype = x.dtype
    wide = F.cast(x, np.float64) if dtype == np.float32 else x
    xp = chainer.backend.get_array_module(wide)
    gamma = xp.ones(beta.shape, dtype=wide.dtype)
    y = F.batch_normalization(wide, gamma, F.cast(beta, wide.dtype), eps=epsilon)
    y = F.cast(y, dtype) if dtype == np.float32 else y
    return F.relu(y) if relu else y


def tf_batch_norm_inference(x: VariableOrArray, beta: VariableOrArray, mean: NdArray,
                            variance: NdArray, epsilon: float, relu: bool = False
                            ) -> chainer.Variable:
    """slim.batch_norm(is_training=False): normalise with the moving statistics, gamma = 1.

    NumPy arrays take `fast_cpu.fixed_batch_norm` (the same float32 formula). `relu` as in
    `tf_batch_norm_training`.
    """
    if x.ndim == 4 and fast_cpu.applies(x, beta, mean, variance):
        return fast_cpu.fixed_batch_norm(x, beta, mean, variance, epsilon, relu)
    gamma = chainer.backend.get_array_module(mean).ones(mean.shape, dtype=mean.dtype)
    y = F.fixed_batch_normalization(x, gamma, beta, mean, variance, eps=epsilon)
    return F.relu(y) if relu else y


def tf_moments(x: VariableOrArray) -> tuple[NdArray, NdArray]:
    """`tf.nn.moments(x, [0, 1, 2])` of an NCHW map: per-channel mean and BIASED variance.

    Plain arrays (no gradient): they only feed the moving averages. Accumulated in float64
    for the reason given in `tf_batch_norm_training`; NumPy arrays by `fast_cpu.channel_moments`.
    """
    array = x.array if isinstance(x, chainer.Variable) else x
    if array.ndim == 4 and fast_cpu.applies(array):
        return fast_cpu.channel_moments(array)
    axes = (0, *range(2, array.ndim))
    wide = np.float64 if array.dtype == np.float32 else array.dtype
    return (array.mean(axis=axes, dtype=wide).astype(array.dtype),
            array.var(axis=axes, dtype=wide).astype(array.dtype))


def tf_layer_norm(x: VariableOrArray, gamma: VariableOrArray | None,
                  beta: VariableOrArray | None, axes: tuple[int, ...], epsilon: float,
                  param_axis: int) -> chainer.Variable:
    """A layer norm as TF writes it (`tf.nn.moments` over `axes`, then (x - mean) *
    rsqrt(variance + epsilon) * gamma + beta: Keras' LayerNormalization, tf.contrib's
    layer_norm), over any axes of any rank, where Chainer's `layer_normalization` takes 2-D
    input only. gamma and beta (either None: left out) lie along `param_axis` (Chainer's
    channel axis: 1 for NCHW or NCDHW, -1 for a sequence of vectors)."""
    x = chainer.as_variable(x)
    mean = F.broadcast_to(F.mean(x, axis=axes, keepdims=True), x.shape)
    centred = x - mean
    variance = F.broadcast_to(F.mean(F.square(centred), axis=axes, keepdims=True), x.shape)
    y = centred * F.rsqrt(variance + epsilon)
    axis = param_axis % x.ndim
    if gamma is not None:
        y = F.scale(y, gamma, axis=axis)
    return y if beta is None else F.bias(y, beta, axis=axis)


def assign_moving_average(variable: NdArray, value: NdArray, decay: float) -> None:
    """TF's `assign_moving_average(variable, value, decay, zero_debias=False)`, in place.

    TF computes `variable -= (variable - value) * float32(1.0 - decay)` (1 - decay in Python
    doubles, then cast), not `decay * variable + (1 - decay) * value`; same formula here so the
    rounding matches.
    """
    variable -= (variable - value) * np.float32(1.0 - decay)


def tf_max_pool(x: VariableOrArray, kernel: int, stride: int, padding: str,
                pad_extra: str = "after") -> chainer.Variable:
    """`tf.nn.max_pool2d(x, kernel, stride, padding)` on NCHW.

    VALID floors the output size ((size - kernel) // stride + 1, 21 -> 10 at 2x2 stride 2);
    Chainer's default `cover_all=True` rounds up (21 -> 11), so `cover_all=False`. SAME pads
    TF's way (`same_padding` with -inf: padded values never win) before the same call.
    NumPy arrays take `fast_cpu.max_pool2d` (same result and arg max).
    """
    if padding in ("VALID", "SAME") and fast_cpu.applies(x):
        pads = [tf_same_pads(size, kernel, stride, pad_extra) if padding == "SAME" else (0, 0)
                for size in x.shape[-2:]]
        return fast_cpu.max_pool2d(x, kernel, stride, pads)
    if padding == "VALID":
        return F.max_pooling_2d(x, kernel, stride, pad=0, cover_all=False)
    if padding != "SAME":
        raise ValueError(f"unknown padding {padding!r}")
    x, pad = same_padding(x, kernel, stride, value=-np.inf, extra=pad_extra)
    return F.max_pooling_2d(x, kernel, stride, pad=pad, cover_all=False)


def tf1_bilinear_matrix(in_size: int, out_size: int) -> np.ndarray:
    """The [out, in] float32 matrix of TF1's legacy bilinear resize along one axis.

    align_corners=False, half_pixel_centers=False: src = dst * (in / out) in float32,
    lower = floor(src), upper = min(lower + 1, in - 1), weights (1 - frac, frac). The
    identity when in == out.
    """
    lower, upper, frac = tf1_bilinear_sources(in_size, out_size)
    matrix = np.zeros((out_size, in_size), dtype=np.float32)
    rows = np.arange(out_size)
    np.add.at(matrix, (rows, lower), 1 - frac)
    np.add.at(matrix, (rows, upper), frac)
    return matrix


def tf1_bilinear_resize(x: VariableOrArray, size: int) -> chainer.Variable:
    """TF1 `tf.image.resize_images(x, [size, size])` (bilinear) of the last two axes of x.

    The seed's TF r0.12 resize is the legacy one: align_corners=False, half_pixel_centers=False
    (TF2: `tf.compat.v1.image.resize_bilinear(..., half_pixel_centers=False)`). Chainer's
    `F.resize_images` has no such mode (align_corners=True by default, half-pixel otherwise)
    and crashes on NumPy >= 1.24. Bilinear resizing is separable and linear, so it is two
    matrix products with `tf1_bilinear_matrix` (built in NumPy in x's dtype, sent to x's
    device): differentiable and device-agnostic.
    """
    x = chainer.as_variable(x)
    *lead, height, width = x.shape
    device = chainer.backend.get_device_from_array(x.array)
    rows = device.send(tf1_bilinear_matrix(height, size).astype(x.dtype))
    cols = device.send(tf1_bilinear_matrix(width, size).astype(x.dtype))
    y = F.matmul(F.reshape(x, (-1, width)), cols, transb=True)
    y = F.swapaxes(F.reshape(y, (-1, height, size)), 1, 2)
    y = F.matmul(F.reshape(y, (-1, height)), rows, transb=True)
    y = F.swapaxes(F.reshape(y, (-1, size, size)), 1, 2)
    return F.reshape(y, (*lead, size, size))


def align_corners_resize(x: VariableOrArray, size: int) -> chainer.Variable:
    """`F.resize_images` (align_corners=True) of the last two axes: the naive port's resize
    (`TFCompat.resize`), not TF1's."""
    flat = F.reshape(x, (-1, *x.shape[-3:]))
    return F.reshape(F.resize_images(flat, (size, size)), (*x.shape[:-2], size, size))


def conv2d_transpose_same(x: VariableOrArray, weights: VariableOrArray, stride: int,
                          out_size: int) -> chainer.Variable:
    """`tf.nn.conv2d_transpose(x, W, [N, out, out, C], stride, 'SAME')`, NCHW, no bias:
    `tf_conv_transpose` of two spatial axes (NumPy arrays take
    `fast_cpu.conv2d_transpose`)."""
    if fast_cpu.applies(x, weights):
        return fast_cpu.conv2d_transpose(
            x, weights, stride, transpose_crop(x.shape[-1], weights.shape[-1], stride, out_size),
            out_size)
    return tf_conv_transpose(x, weights, stride, (out_size, out_size), "SAME")


def tf_conv_transpose(x: VariableOrArray, weights: VariableOrArray, stride: int,
                      out_sizes: tuple[int, ...], padding: str = "SAME") -> chainer.Variable:
    """`tf.nn.conv_transpose(x, W, [N, *out_sizes, C], stride, padding)` of any number of
    spatial axes (conv1d / conv2d / conv3d transpose), channels first, no bias.

    TF's output is the full transposed convolution cropped from pad_before on each axis, where
    SAME's pad_total = max((in - 1) * stride + k - out, 0) and pad_before = pad_total // 2
    (any odd pixel is cropped at the end; VALID crops nothing). Chainer's deconvolution with
    `pad=pad_before, outsize=out_sizes` crops the same window. Chainer's W is (in, out, ...)
    = the TF [..., out, in] kernel by `Transpose.KERNEL`; no kernel flip is needed, both
    compute the adjoint of the same cross-correlation.

    Chainer 7.8.1 bug worked around: `Deconvolution2DFunction.backward` on CPU raises "not
    enough / too many values to unpack" when only W needs a gradient (it passes Variables
    instead of shapes to `_set_cover_all`); computing the input gradient first sets
    `cover_all` correctly. So an input that does not require a gradient (a constant fed to an
    isolated layer) is wrapped in a Variable that does; its gradient is discarded and W's
    gradient is unchanged.
    """
    if padding not in ("VALID", "SAME"):
        raise ValueError(f"unknown padding {padding!r}")
    pads = tuple(transpose_crop(size, k, stride, out, padding)
                 for size, k, out in zip(x.shape[2:], weights.shape[2:], out_sizes,
                                         strict=True))
    if not (isinstance(x, chainer.Variable) and x.requires_grad):
        x = chainer.Variable(x.array if isinstance(x, chainer.Variable) else x,
                             requires_grad=True)
    if len(out_sizes) == 2:
        return F.deconvolution_2d(x, weights, stride=stride, pad=pads, outsize=out_sizes)
    return F.deconvolution_nd(x, weights, stride=stride, pad=pads, outsize=out_sizes)


def nhwc_flatten(x: VariableOrArray) -> chainer.Variable:
    """`tf.reshape(x, [N, -1])` of what TF holds as NHWC: flatten in (H, W, C) order.

    A plain reshape of the NCHW map would flatten in (C, H, W) order and silently permute the
    z vector (and through it the motion kernel), so transpose to NHWC first.
    """
    return F.reshape(F.transpose(x, (0, 2, 3, 1)), (x.shape[0], -1))


def nhwc_unflatten(z: VariableOrArray, kernel: int, channels: int) -> chainer.Variable:
    """The inverse of `nhwc_flatten`: TF's `reshape(z, [N, k, k, channels])`, returned NCHW."""
    return F.transpose(F.reshape(z, (z.shape[0], kernel, kernel, channels)), (0, 3, 1, 2))


def batched_cross_conv(features: VariableOrArray, kernel: VariableOrArray) -> chainer.Variable:
    """The seed's per-sample `tf.nn.depthwise_conv2d(features[b], kernel[b], 1, 'SAME')`.

    features [B, C, H, W], kernel [B, C, k, k]: sample b's channel c is cross-correlated with
    its own kernel[b, c]. The seed loops over samples; here the batch is folded into the
    channel axis and the whole thing is ONE grouped convolution with B * C groups of one
    channel each, padded TF's SAME way. NumPy arrays take `fast_cpu.depthwise_conv2d` (Chainer's
    CPU grouped convolution loops over the groups).
    """
    batch, channels, height, width = features.shape
    size = kernel.shape[-1]
    if fast_cpu.applies(features, kernel):
        return fast_cpu.depthwise_conv2d(features, kernel,
                                         [tf_same_pads(n, size, 1) for n in (height, width)])
    x = F.reshape(features, (1, batch * channels, height, width))
    x, pad = same_padding(x, size, 1)
    w = F.reshape(kernel, (batch * channels, 1, size, size))
    y = F.convolution_2d(x, w, pad=pad, groups=batch * channels)
    return F.reshape(y, (batch, channels, height, width))


def per_pixel_kernels(image: VariableOrArray, kernels: VariableOrArray,
                      pads: tuple[tuple[int, int], tuple[int, int]]) -> chainer.Variable:
    """Each output pixel the weighted sum of its k x k window (Finn's DNA transformation, a
    dynamic filter): `image` [B, C, H, W] zero-padded by `pads` ((top, bottom), (left,
    right), k - 1 rows and columns in all), window offset (dy, dx) weighted by kernels[:, dy * k
    + dx] ([B, k * k, H, W]), the same weights for every channel. The TF code's stack of the
    padded image's windows, weighted and summed; NumPy arrays take `fast_cpu.per_pixel_kernels`
    (one node, the same sums)."""
    if fast_cpu.applies(image, kernels):
        return fast_cpu.per_pixel_kernels(image, kernels, pads)
    (top, bottom), (left, right) = pads
    height, width = image.shape[2:]
    padded = F.pad(image, ((0, 0), (0, 0), (top, bottom), (left, right)), "constant")
    shifted = F.stack([padded[:, :, dy:dy + height, dx:dx + width]
                       for dy in range(top + bottom + 1) for dx in range(left + right + 1)],
                      axis=1)
    return F.sum(F.broadcast_to(kernels[:, :, None], shifted.shape) * shifted, axis=1)


def multiplicative_unit(gates: VariableOrArray, h: VariableOrArray | None
                        ) -> chainer.Variable:
    """Kalchbrenner et al.'s multiplicative unit (the VPN) on its four convolutions'
    pre-activations g1, g2, g3, u joined on the channel axis (`tf_gate_convs`): sigmoid(g1) *
    tanh(sigmoid(g2) * h + sigmoid(g3) * tanh(u)); h None: sigmoid(g2) in place of the
    product. NumPy arrays take `fast_cpu.multiplicative_unit` (one node, Chainer's
    arithmetic)."""
    if fast_cpu.applies(*(x for x in (gates, h) if x is not None)):
        return fast_cpu.multiplicative_unit(gates, h)
    g1, g2, g3, u = tf_split(gates, 4, axis=1)
    gate2 = F.sigmoid(g2)
    return F.sigmoid(g1) * F.tanh((gate2 * h if h is not None else gate2)
                                  + F.sigmoid(g3) * F.tanh(u))


def tf_space_to_depth(x: VariableOrArray, block: int, order: str = "tf") -> chainer.Variable:
    """`tf.nn.space_to_depth(x, block)` on NCHW (`TFCompat.space_to_depth`)."""
    if order == "tf":
        return F.space2depth(x, block)
    n, c, h, w = x.shape
    return F.reshape(x, (n, c * block * block, h // block, w // block))


def nhwc_to_nchw(x: VariableOrArray, layout: Activation = Activation.FRAMES
                 ) -> chainer.Variable:
    """A TF-layout input in Chainer's layout by its rule (`spec.layout.Activation`): by
    default the channel axis (last) moved third from last when the rank is 4 or more (frames
    [B, L, H, W, C] -> [B, L, C, H, W]); CHANNELS_FIRST moves it second (NDHWC -> NCDHW).

    `F.transpose`, so a gradient with respect to the TF-layout input comes out in TF layout.
    """
    axes = layout.axes(x.ndim)
    return F.transpose(x, axes) if axes else chainer.as_variable(x)
