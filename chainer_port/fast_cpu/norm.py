"""TF-style BatchNorm for the CPU fast path: float64 statistics without float64 copies.

`tf_compat.tf_batch_norm_training` accumulates in float64 for precision (see its docstring) by
casting the whole map to float64 and running Chainer's BatchNorm on the copy: a dozen full
passes over 8-byte temporaries, ~0.8 s of one core for the paper preset's 4 x 64 x 256 x 256
maps, as long as their convolution. Here the same float64 arithmetic runs in compiled loops
(`norm_kernels`) over blocks of rows of (rows, C) views of NHWC memory, blocks on both
cores: statistics in one pass (per-block two-pass moments merged in block order with Chan et
al.'s formula), the output in a second; the backward likewise. Chainer's formulas are
rearranged into per-channel affine maps (fewer float64 operations an element); in float64
that moves results by a few float64 ulps, so y and gx equal the float64 path's after the cast
to float32 but for a rare last-bit difference.

`fixed_batch_norm` is `F.fixed_batch_normalization` with gamma = 1 (inference), Chainer's
float32 formula, on the same blocks.
"""

from __future__ import annotations

import numpy as np

from chainer_port.fast_cpu import norm_kernels as loops
from chainer_port.fast_cpu.threads import parallel_map, row_blocks

BLOCK_BYTES = 1 << 20
"""float64 bytes per block of rows."""


def _blocks(rows: int, channels: int) -> list[slice]:
    return row_blocks(rows, BLOCK_BYTES // (8 * channels))


def _block_moments(block: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """(count, mean, sum of squared deviations) of a block of rows, float64."""
    return len(block), *loops.block_moments(block)


def moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and biased variance of (rows, C) `x`, float64."""
    mean, m2, count = np.zeros(x.shape[1]), np.zeros(x.shape[1]), 0
    for size, block_mean, block_m2 in parallel_map(
            lambda block: _block_moments(x[block]), _blocks(*x.shape)):
        delta = block_mean - mean
        total = count + size
        mean += delta * (size / total)
        m2 += block_m2 + delta * delta * (count * size / total)
        count = total
    return mean, m2 / count


def batch_norm(x: np.ndarray, beta: np.ndarray, eps: float, relu: bool = False
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """y = (x - mean) * inv_std + beta in float64, cast to x.dtype: (y, mean, inv_std).

    Computed as x * inv_std + (beta - mean * inv_std): two float64 operations an element.
    `relu`: max(y, 0) in the same pass (the same values as a ReLU after it).
    """
    mean, var = moments(x)
    inv_std = np.reciprocal(np.sqrt(var + eps))
    shift = beta - mean * inv_std
    y = np.empty_like(x)

    parallel_map(lambda block: loops.normalise(x[block], inv_std, shift, relu, y[block]),
                 _blocks(*x.shape))
    return y, mean, inv_std


def batch_norm_grad(x: np.ndarray, gy: np.ndarray, mean: np.ndarray, inv_std: np.ndarray,
                    relu_y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(gx, gbeta) of `batch_norm` (gamma = 1), float64; `relu_y`: its output when it ran
    with `relu` (the gradient goes through the ReLU first, block by block).

    Chainer's inv_std * (gy - (x_hat * ggamma + gbeta) / m), x_hat = (x - mean) * inv_std,
    ggamma = sum(gy * x_hat), gbeta = sum(gy), rearranged per channel into
    gx = a * gy + b * x + c after one pass for sum(gy) and sum(gy * x).
    """
    blocks = _blocks(*x.shape)
    # gy through the ReLU, block by block, into gx, which the second pass reads and overwrites.
    gx = np.empty_like(x)
    relu = relu_y is not None
    mask = relu_y if relu else gy

    def sums(block: slice) -> tuple[np.ndarray, np.ndarray]:
        return loops.gradient_sums(x[block], gy[block], mask[block], relu, gx[block])

    gbeta, gy_x = np.zeros(x.shape[1]), np.zeros(x.shape[1])
    for block_gbeta, block_gy_x in parallel_map(sums, blocks):
        gbeta += block_gbeta
        gy_x += block_gy_x
    ggamma = inv_std * (gy_x - mean * gbeta)
    inv_m = 1.0 / len(x)
    scale_x = -inv_std * inv_m * ggamma * inv_std
    shift = -inv_std * inv_m * (gbeta - ggamma * inv_std * mean)
    parallel_map(lambda block: loops.input_gradient(gx[block], x[block], inv_std, scale_x,
                                                    shift), blocks)
    return gx, gbeta.astype(x.dtype)


def fixed_batch_norm(x: np.ndarray, beta: np.ndarray, mean: np.ndarray, var: np.ndarray,
                     eps: float, relu: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Chainer's inference BatchNorm of (rows, C) `x`, x's dtype: (y, inv_std); `relu` as in
    `batch_norm`."""
    inv_std = np.sqrt(np.reciprocal(var + eps))
    y = np.empty_like(x)
    mean, inv_std, beta = (np.asarray(a, x.dtype) for a in (mean, inv_std, beta))
    parallel_map(lambda block: loops.fixed_normalise(x[block], mean, inv_std, beta, relu,
                                                     y[block]), _blocks(*x.shape))
    return y, inv_std
