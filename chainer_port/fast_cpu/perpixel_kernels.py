"""Compiled (numba) loops of the fast path's per-pixel kernels (DNA's transformation) over one
sample's channels-last rows: each output pixel the sum of its k x k window of the zero-padded
image weighted by that pixel's own k * k weights, in window order, as the windows' weighted
sum over a stacked axis adds them (the padding's zeros left out: they add nothing to a finite
sum): the output is the same bits. The image's gradient scatters
in pixel order (one sample per call: the same bits on every run); `nogil`: the caller runs
samples on both cores.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def apply(image: np.ndarray, kernels: np.ndarray, k: int, top: int, left: int,
          out: np.ndarray) -> None:
    """out[h, w] = sum over (dy, dx) of kernels[h, w, dy * k + dx] * image[h + dy - top,
    w + dx - left] (zero outside): `image` and `out` (H, W, C), `kernels` (H, W, k * k)."""
    height, width, channels = image.shape
    sums = np.empty(channels, image.dtype)
    for h in range(height):
        for w in range(width):
            sums[:] = 0
            for dy in range(k):
                row = h + dy - top
                for dx in range(k):
                    col = w + dx - left
                    if 0 <= row < height and 0 <= col < width:
                        weight = kernels[h, w, dy * k + dx]
                        for c in range(channels):
                            sums[c] += weight * image[row, col, c]
            out[h, w] = sums


@njit(nogil=True, cache=True)
def gradient(image: np.ndarray, kernels: np.ndarray, k: int, top: int, left: int,
             gy: np.ndarray, g_image: np.ndarray, g_kernels: np.ndarray) -> None:
    """The gradients of `apply` from `gy` (H, W, C): the image's scattered into `g_image`
    (zeros on entry), the kernels' into `g_kernels` (H, W, k * k), summed over the channels in
    x's dtype."""
    height, width, channels = image.shape
    g_kernels[:] = 0
    for h in range(height):
        for w in range(width):
            for dy in range(k):
                row = h + dy - top
                for dx in range(k):
                    col = w + dx - left
                    tap = dy * k + dx
                    if 0 <= row < height and 0 <= col < width:
                        weight = kernels[h, w, tap]
                        for c in range(channels):
                            g_kernels[h, w, tap] += gy[h, w, c] * image[row, col, c]
                            g_image[row, col, c] += weight * gy[h, w, c]
