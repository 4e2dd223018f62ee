"""Compiled (numba) loops of the fast path's bilinear sampler, TF's spatial transformer's
(`tf_video_ops.tf_spatial_transformer`), over one sample's channels-last rows.

Each output pixel's four neighbours are clipped into the image and weighted as that function
computes it, in the image's dtype and the same order ((a + b) + c) + d, so the output is the
same bits. The gradients scatter in pixel order (one sample per call: the same bits on every
run); `nogil`: the caller runs samples on both cores.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def _weights(x: float, y: float, height: int, width: int, corners: np.ndarray
             ) -> tuple[int, int, int, int]:
    """The clipped neighbour rows and columns (y0, y1, x0, x1) of source point (x, y), and into
    `corners` (x's dtype) the distances left, right, top, bottom from the clipped ones."""
    x0, y0 = int(math.floor(x)), int(math.floor(y))
    y0, y1 = min(max(y0, 0), height - 1), min(max(y0 + 1, 0), height - 1)
    x0, x1 = min(max(x0, 0), width - 1), min(max(x0 + 1, 0), width - 1)
    corners[0], corners[1], corners[2], corners[3] = x0, x1, y0, y1  # cast to x's dtype
    corners[0], corners[1], corners[2], corners[3] = (corners[1] - x, x - corners[0],
                                                      corners[3] - y, y - corners[2])
    return y0, y1, x0, x1


@njit(nogil=True, cache=True)
def sample(image: np.ndarray, xs: np.ndarray, ys: np.ndarray, out: np.ndarray) -> None:
    """out[p] = the bilinear mix of (H, W, C) `image` at (xs[p], ys[p]), pixels p of out's
    (H * W, C) rows."""
    height, width, channels = image.shape
    corners = np.empty(4, xs.dtype)
    for p in range(len(xs)):
        y0, y1, x0, x1 = _weights(xs[p], ys[p], height, width, corners)
        left, right, top, bottom = corners
        wa, wb, wc, wd = left * top, left * bottom, right * top, right * bottom
        for c in range(channels):
            out[p, c] = ((wa * image[y0, x0, c] + wb * image[y1, x0, c])
                         + wc * image[y0, x1, c]) + wd * image[y1, x1, c]


@njit(nogil=True, cache=True)
def sample_grad(image: np.ndarray, xs: np.ndarray, ys: np.ndarray, gy: np.ndarray,
                g_image: np.ndarray, g_xs: np.ndarray, g_ys: np.ndarray) -> None:
    """The gradients of `sample` from `gy` (H * W, C): scattered into `g_image` (zeros on
    entry), and the points' into `g_xs`, `g_ys`."""
    height, width, channels = image.shape
    corners, sums = np.empty(4, xs.dtype), np.empty(4, xs.dtype)
    for p in range(len(xs)):
        y0, y1, x0, x1 = _weights(xs[p], ys[p], height, width, corners)
        left, right, top, bottom = corners
        wa, wb, wc, wd = left * top, left * bottom, right * top, right * bottom
        sums[:] = 0
        for c in range(channels):
            g = gy[p, c]
            sums[0] += g * image[y0, x0, c]
            sums[1] += g * image[y1, x0, c]
            sums[2] += g * image[y0, x1, c]
            sums[3] += g * image[y1, x1, c]
            g_image[y0, x0, c] += wa * g
            g_image[y1, x0, c] += wb * g
            g_image[y0, x1, c] += wc * g
            g_image[y1, x1, c] += wd * g
        ga, gb, gc, gd = sums
        g_xs[p] = (gc * top + gd * bottom) - (ga * top + gb * bottom)
        g_ys[p] = (gb * left + gd * right) - (ga * left + gc * right)
