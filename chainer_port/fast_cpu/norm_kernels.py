"""Compiled (numba) loops of the fast path's BatchNorm over one block of (rows, C) float32 or
float64 rows: float64 arithmetic in registers, one pass over memory per loop.

The NumPy version of the same arithmetic cast every block to float64 and went over it five
to eight times (~0.1 s a layer on the paper preset's 4 x 256 x 256 x 64 maps). Each loop
performs the same float64 operations in the same order as that NumPy code (multiply, then
add, then the ReLU, then the cast), so y and gx are the same bits; the sums run in row
order. `nogil`: the callers run blocks on both cores (`threads.parallel_map`).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def block_moments(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, sum of squared deviations) per channel of a block of rows, two-pass, float64."""
    rows, channels = block.shape
    mean = np.zeros(channels)
    for r in range(rows):
        for c in range(channels):
            mean[c] += block[r, c]
    mean /= rows
    m2 = np.zeros(channels)
    for r in range(rows):
        for c in range(channels):
            delta = block[r, c] - mean[c]
            m2[c] += delta * delta
    return mean, m2


@njit(nogil=True, cache=True)
def normalise(x: np.ndarray, scale: np.ndarray, shift: np.ndarray, relu: bool, y: np.ndarray
              ) -> None:
    """y = x * scale + shift (float64, then max(., 0) when `relu`), cast to y's dtype."""
    rows, channels = x.shape
    for r in range(rows):
        for c in range(channels):
            value = np.float64(x[r, c]) * scale[c] + shift[c]
            if relu and value < 0.0:
                value = 0.0
            y[r, c] = value


@njit(nogil=True, cache=True)
def gradient_sums(x: np.ndarray, gy: np.ndarray, relu_y: np.ndarray, relu: bool,
                  g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """g = gy through the ReLU (where relu_y > 0, when `relu`); (sum g, sum g * x), float64."""
    rows, channels = x.shape
    g_sum, g_x = np.zeros(channels), np.zeros(channels)
    for r in range(rows):
        for c in range(channels):
            g[r, c] = gy[r, c] if not relu or relu_y[r, c] > 0 else 0.0
        for c in range(channels):
            wide = np.float64(g[r, c])
            g_sum[c] += wide
            g_x[c] += wide * np.float64(x[r, c])
    return g_sum, g_x


@njit(nogil=True, cache=True)
def input_gradient(g: np.ndarray, x: np.ndarray, scale_g: np.ndarray, scale_x: np.ndarray,
                   shift: np.ndarray) -> None:
    """g = g * scale_g + x * scale_x + shift in float64, cast to g's dtype, in place."""
    rows, channels = g.shape
    for r in range(rows):
        for c in range(channels):
            g[r, c] = (np.float64(g[r, c]) * scale_g[c] + np.float64(x[r, c]) * scale_x[c]
                       + shift[c])


@njit(nogil=True, cache=True)
def fixed_normalise(x: np.ndarray, mean: np.ndarray, inv_std: np.ndarray, beta: np.ndarray,
                    relu: bool, y: np.ndarray) -> None:
    """y = (x - mean) * inv_std + beta in x's dtype (Chainer's inference formula), then
    max(., 0) when `relu`."""
    rows, channels = x.shape
    for r in range(rows):
        for c in range(channels):
            value = (x[r, c] - mean[c]) * inv_std[c] + beta[c]
            y[r, c] = 0 if relu and value < 0 else value
