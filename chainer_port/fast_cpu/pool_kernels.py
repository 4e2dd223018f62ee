"""Compiled (numba) loops of the fast path's max pooling over one block of (N, H, W, C) maps.

Each output pixel scans its window in row-major order and keeps the first maximum (a later
tap wins only when strictly greater, or NaN, as np.maximum propagates it): Chainer's order,
so ties (windows of ReLU zeros) send the gradient to the same pixel. The window's index
(i * kernel + j) is kept for the backward, which adds each output gradient at that pixel in
output order. Pixels outside the map are the -inf padding: skipped, never a maximum unless
the whole window is padding. `nogil`: callers run blocks on both cores.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def pool(x: np.ndarray, kernel: int, stride: int, top: int, left: int, first_row: int,
         y: np.ndarray, arg: np.ndarray, with_arg: bool) -> None:
    """y[:, r] (and arg[:, r]) for output rows first_row + r of x padded by (top, left)."""
    n, height, width, channels = x.shape
    rows, out_w = y.shape[1], y.shape[2]
    for b in range(n):
        for r in range(rows):
            h0 = (first_row + r) * stride - top
            for ow in range(out_w):
                w0 = ow * stride - left
                out = y[b, r, ow]
                out[:] = -np.inf
                if with_arg:
                    arg[b, r, ow, :] = 0
                seen = False
                for i in range(kernel):
                    h = h0 + i
                    if h < 0 or h >= height:
                        continue
                    for j in range(kernel):
                        w = w0 + j
                        if w < 0 or w >= width:
                            continue
                        tap = i * kernel + j
                        for c in range(channels):
                            value = x[b, h, w, c]
                            best = out[c]
                            if not seen or value > best or (value != value and best == best):
                                out[c] = value
                                if with_arg:
                                    arg[b, r, ow, c] = tap
                        seen = True


@njit(nogil=True, cache=True)
def route(gy: np.ndarray, arg: np.ndarray, kernel: int, stride: int, top: int, left: int,
          gx: np.ndarray) -> None:
    """gx (zeros, (N, H, W, C)) += each gy element at its window's arg max."""
    n, out_h, out_w, channels = gy.shape
    height, width = gx.shape[1], gx.shape[2]
    for b in range(n):
        for oh in range(out_h):
            for ow in range(out_w):
                for c in range(channels):
                    tap = arg[b, oh, ow, c]
                    h = oh * stride - top + tap // kernel
                    w = ow * stride - left + tap % kernel
                    if 0 <= h < height and 0 <= w < width:  # a window all padding: no pixel
                        gx[b, h, w, c] += gy[b, oh, ow, c]
