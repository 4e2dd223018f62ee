"""Max pooling for the CPU fast path: separable window maxima, forward and backward.

Chainer's CPU max pooling builds the (N, C, kh, kw, Ho, Wo) im2col buffer and arg-maxes over
it: the paper preset's 5x5 stride-2 pool on 4 x 64 x 256 x 256 took seconds, longer than the
convolution before it. A k x k window maximum is the maximum over k rows of the maximum over k
columns, so it takes 2k passes, not k * k; the column pass runs at stride 1 (NumPy vectorises
that, not a strided pass) and is subsampled after.

The arg max is kept in the same passes, first maximum wins: rows first, then columns, which
is Chainer's row-major order, so ties (windows of ReLU zeros) send the gradient to the same
pixel. The backward routes each gradient back through the two passes. Maps are (N, H, W, C):
NHWC memory as is, NCHW memory as (N * C, H, W, 1), both views. Work goes by bands of output
rows small enough to stay in cache, each band padded with -inf as it is copied in.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from chainer_port.fast_cpu_kernels import Pads, row_bands
from chainer_port.fast_cpu_threads import parallel_map

BLOCK_BYTES = 2 << 20
"""Input bytes per band."""

Args = tuple[np.ndarray, np.ndarray]
"""(row arg max per output (N, Ho, Wo, C), column arg max per padded row (N, Hp, Wo, C))."""


def _bands(n: int, out_h: int, row_bytes: int) -> Iterator[tuple[slice, slice]]:
    """(image slice, output row slice) blocks of BLOCK_BYTES of input (`row_bands`)."""
    return row_bands(n, out_h, max(BLOCK_BYTES // max(row_bytes, 1), 1))


def _running_max(taps: list[np.ndarray], with_arg: bool = True
                 ) -> tuple[np.ndarray, np.ndarray | None]:
    """Elementwise max over `taps` and the index of the first tap reaching it (uint8).

    The index is updated as max(arg, t * (tap > best)): taps come in increasing t, so a
    strictly greater tap always wins and a tie never does. Two vectorised uint8 operations;
    `np.copyto(where=...)` is ~30 times slower. Without `with_arg` only the max (None).
    """
    best = taps[0].copy()
    if not with_arg:
        for tap in taps[1:]:
            np.maximum(best, tap, out=best)
        return best, None
    arg = np.zeros(best.shape, np.uint8)
    greater = np.empty(best.shape, bool)
    scaled = np.empty(best.shape, np.uint8)
    for t, tap in enumerate(taps[1:], start=1):
        np.greater(tap, best, out=greater)
        np.maximum(best, tap, out=best)
        np.multiply(greater.view(np.uint8), t, out=scaled)
        np.maximum(arg, scaled, out=arg)
    return best, arg


def _padded_band(x: np.ndarray, images: slice, rows: slice, pads: Pads) -> np.ndarray:
    """Padded input rows `rows` (padded coordinates) of `images`, -inf outside x."""
    (top, _), (left, _) = pads
    n, height, width, c = x[images].shape
    band = np.full((n, rows.stop - rows.start, width + sum(pads[1]), c), -np.inf, x.dtype)
    first, last = max(rows.start - top, 0), min(rows.stop - top, height)
    band[:, first + top - rows.start:last + top - rows.start, left:left + width] = \
        x[images, first:last]
    return band


def max_pool(x: np.ndarray, kernel: int, stride: int, pads: Pads, with_args: bool = True
             ) -> tuple[np.ndarray, Args | None]:
    """Max pooling of (N, H, W, C) `x` padded by `pads` with -inf: (y, arg maxes or None)."""
    n, height, width, c = x.shape
    padded_h, padded_w = height + sum(pads[0]), width + sum(pads[1])
    out_h, out_w = (padded_h - kernel) // stride + 1, (padded_w - kernel) // stride + 1
    y = np.empty((n, out_h, out_w, c), x.dtype)
    row_arg = np.empty(y.shape, np.uint8) if with_args else None
    col_arg = np.empty((n, padded_h, out_w, c), np.uint8) if with_args else None
    full_w = padded_w - kernel + 1
    columns = slice(0, stride * (out_w - 1) + 1, stride)

    def pool(band: tuple[slice, slice]) -> None:
        images, rows = band
        in_rows = _input_rows(rows, kernel, stride)
        padded = _padded_band(x, images, in_rows, pads)
        band_max, band_arg = _running_max([padded[:, :, j:j + full_w] for j in range(kernel)],
                                          with_args)
        band_max = band_max[:, :, columns].copy()
        span = stride * (rows.stop - rows.start - 1) + 1
        y[images, rows], arg = _running_max(
            [band_max[:, i:i + span:stride] for i in range(kernel)], with_args)
        if with_args:
            row_arg[images, rows] = arg
            # Bands share kernel - stride input rows (same arg maxes): each writes its own.
            owned = in_rows.stop if rows.stop == out_h else min(rows.stop * stride, in_rows.stop)
            col_arg[images, in_rows.start:owned] = band_arg[:, :owned - in_rows.start, columns]

    parallel_map(pool, _bands(n, out_h, stride * padded_w * c * x.itemsize))
    return y, (row_arg, col_arg) if with_args else None


def _input_rows(rows: slice, kernel: int, stride: int) -> slice:
    """The padded input rows that output rows `rows` read."""
    return slice(rows.start * stride, (rows.stop - 1) * stride + kernel)


def max_pool_grad(gy: np.ndarray, args: Args, in_hw: tuple[int, int], kernel: int, stride: int,
                  pads: Pads) -> np.ndarray:
    """d(sum gy * max_pool(x)) / dx, (N, H, W, C): each gy element added at its arg max.

    Bands that share input rows add into them, so they run in phases: bands `phases` apart
    never overlap, and each phase runs in parallel.
    """
    row_arg, col_arg = args
    (top, bottom), (left, right) = pads
    n, out_h, out_w, c = gy.shape
    padded_w = in_hw[1] + left + right
    grad = np.zeros((n, in_hw[0] + top + bottom, padded_w, c), gy.dtype)

    def route(band: tuple[slice, slice]) -> None:
        images, rows = band
        in_rows = _input_rows(rows, kernel, stride)
        band_gy, band_arg = gy[images, rows], row_arg[images, rows]
        rows_grad = np.zeros((band_gy.shape[0], in_rows.stop - in_rows.start, out_w, c),
                             gy.dtype)
        tap = np.empty_like(band_gy)
        span = stride * (rows.stop - rows.start - 1) + 1
        for i in range(kernel):
            np.multiply(band_gy, band_arg == i, out=tap)
            rows_grad[:, i:i + span:stride] += tap
        target = grad[images, in_rows]
        tap = np.empty_like(rows_grad)
        arg = col_arg[images, in_rows]
        for j in range(kernel):
            np.multiply(rows_grad, arg == j, out=tap)
            target[:, :, j:j + stride * (out_w - 1) + 1:stride] += tap

    bands = list(_bands(n, out_h, stride * padded_w * c * gy.itemsize))
    band_rows = min(rows.stop - rows.start for _, rows in bands)
    phases = 1 + -(-max(kernel - stride, 0) // (band_rows * stride))
    for phase in range(phases):
        parallel_map(route, bands[phase::phases])
    return grad[:, top:top + in_hw[0], left:left + in_hw[1]]
