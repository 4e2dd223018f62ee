"""CPU fast path of the port's heavy functions: the same results as Chainer's, much faster.

On NumPy, Chainer's `convolution_2d` / `deconvolution_2d` materialise the whole im2col buffer
and copy it again for `tensordot`, its grouped convolution loops over the groups in Python
(one per sample and channel in the cross conv), its max pooling arg-maxes over a k * k im2col
buffer, and the port's float64 BatchNorm copies every map to float64: the paper preset's train
step took ~90 s against TF's ~4 s. The nodes of `nodes` compute the same functions, forward and
backward: convolutions on oneDNN (2-D and 3-D), else cache-blocked im2col GEMMs (`conv`,
2-D only), compiled max pooling (`pool`), blocked float64 BatchNorm in compiled loops
(`norm`), the softmax cross-entropy over a class axis in compiled loops and the softmax over a
last axis (`softmax`), batched matrix products a GEMM per block on both cores (`matmul`),
attention by blocks of query rows without its scores' matrix (`flash`), an LSTM cell's
update and the VPN's multiplicative unit in one pass on both cores (`lstm`, `units`), TF's
layer norm, the spatial transformer's bilinear sampler and per-pixel kernels (DNA's) in
compiled loops (`layernorm`, `sampler`, `perpixel`), channel concats and splits that keep
channels-last memory (`nodes.ConcatChannels`, `nodes.SplitChannels`).
The first use sets malloc to keep freed memory (`memory`) and NumPy's BLAS on one thread,
whose idle workers would otherwise spin beside oneDNN's (`blas.numpy_blas_on_one_thread`).

`tf_compat`'s shims call them through `applies(...)`: only for NumPy arrays (never CuPy, where
cuDNN does this work) of float32 / float64, and only while the environment variable
TWINPORT_FAST_CPU is not "0". It is read at EVERY call, so one process can compare the two paths
(the parity harness, the benchmark and the tests do); every switch is read in `config`. Double
backprop is not supported: it raises NotImplementedError (see `nodes`).

The public functions live in `functions` and are re-exported here on first use, so that the
modules without Chainer (`config`, `blas`, `gemm`, `dnnl`, `kernels`, `threads`) import without
loading it: the benchmark's TF worker and `twinport bench gemm` use those alone.
"""

from __future__ import annotations

import importlib
from typing import Any

PUBLIC = ("applies", "conv2d", "conv2d_transpose", "conv3d", "conv3d_runs", "depthwise_conv2d",
          "max_pool2d",
          "batch_norm_training", "fixed_batch_norm", "channel_moments",
          "softmax_cross_entropy", "last_axis_softmax", "batched_matmul", "lstm_cell",
          "peephole_lstm_cell", "layer_norm", "bilinear_sample", "per_pixel_kernels",
          "multiplicative_unit",
          "concat_channels", "split_channels", "attention")


def __getattr__(name: str) -> Any:
    """`chainer_port.fast_cpu.functions.<name>` for the names in PUBLIC."""
    if name in PUBLIC:
        return getattr(importlib.import_module(f"{__name__}.functions"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
