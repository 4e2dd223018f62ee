"""Max pooling for the CPU fast path: compiled window scans, forward and backward.

Chainer's CPU max pooling builds the (N, C, kh, kw, Ho, Wo) im2col buffer and arg-maxes over
it: the paper preset's 5x5 stride-2 pool on 4 x 64 x 256 x 256 took seconds, longer than the
convolution before it. Here compiled loops (`pool_kernels`) scan each window in
place, the -inf padding implied, keeping the first maximum in Chainer's row-major order (so
ties, windows of ReLU zeros, send the gradient to the same pixel) and its window index for
the backward. Maps are (N, H, W, C): NHWC memory as is, NCHW memory as (N * C, H, W, 1),
both views. The forward goes by bands of output rows, the backward by images (bands would
add into shared input rows), both on all cores.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from chainer_port.fast_cpu import pool_kernels as loops
from chainer_port.fast_cpu.kernels import Pads, output_hw, row_bands
from chainer_port.fast_cpu.threads import parallel_map

BLOCK_BYTES = 2 << 20
"""Input bytes per band."""


def _bands(n: int, out_h: int, row_bytes: int) -> Iterator[tuple[slice, slice]]:
    """(image slice, output row slice) blocks of BLOCK_BYTES of input (`row_bands`)."""
    return row_bands(n, out_h, max(BLOCK_BYTES // max(row_bytes, 1), 1))


def max_pool(x: np.ndarray, kernel: int, stride: int, pads: Pads, with_args: bool = True
             ) -> tuple[np.ndarray, np.ndarray | None]:
    """Max pooling of (N, H, W, C) `x` padded by `pads` with -inf: (y, the arg maxes as window
    indexes i * kernel + j, or None)."""
    n, height, width, c = x.shape
    (top, _), (left, _) = pads
    out_h, out_w = output_hw((height, width), (kernel, kernel), stride, pads)
    y = np.empty((n, out_h, out_w, c), x.dtype)
    index = np.uint8 if kernel * kernel <= 256 else np.uint16
    arg = np.empty(y.shape if with_args else (1, 1, 1, 1), index)

    def pool(band: tuple[slice, slice]) -> None:
        images, rows = band
        loops.pool(x[images], kernel, stride, top, left, rows.start, y[images, rows],
                   arg[images, rows] if with_args else arg, with_args)

    parallel_map(pool, _bands(n, out_h, stride * width * c * x.itemsize))
    return y, arg if with_args else None


def max_pool_grad(gy: np.ndarray, arg: np.ndarray, in_hw: tuple[int, int], kernel: int,
                  stride: int, pads: Pads) -> np.ndarray:
    """d(sum gy * max_pool(x)) / dx, (N, H, W, C): each gy element added at its arg max."""
    (top, _), (left, _) = pads
    gx = np.zeros((gy.shape[0], *in_hw, gy.shape[3]), gy.dtype)
    parallel_map(lambda b: loops.route(gy[b:b + 1], arg[b:b + 1], kernel, stride, top, left,
                                       gx[b:b + 1]), range(gy.shape[0]))
    return gx
