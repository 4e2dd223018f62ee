"""Compiled (numba) loops of the fast path's layer norm over one sample's (positions, C) rows
of channels-last memory: float64 statistics in registers, one pass over memory per loop.

Sums run per channel in row order (the inner loop over the channels vectorises without
reordering any sum), then over the channels in order: the same bits on every run and every
thread count. `nogil`: the caller runs samples on both cores (`threads.parallel_map`).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def normalise(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float, y: np.ndarray
              ) -> tuple[float, float]:
    """y = cast((x - mean) * inv_std) * gamma + beta in x's dtype, the statistics over all of
    `x` in float64: returns (mean, inv_std)."""
    rows, channels = x.shape
    sums = np.zeros(channels)
    for r in range(rows):
        for c in range(channels):
            sums[c] += x[r, c]
    mean = sums.sum() / x.size
    squares = np.zeros(channels)
    for r in range(rows):
        for c in range(channels):
            delta = x[r, c] - mean
            squares[c] += delta * delta
    inv_std = (squares.sum() / x.size + eps) ** -0.5
    normed = np.empty(channels, x.dtype)
    for r in range(rows):
        for c in range(channels):
            normed[c] = (x[r, c] - mean) * inv_std
        for c in range(channels):
            y[r, c] = normed[c] * gamma[c] + beta[c]
    return mean, inv_std


@njit(nogil=True, cache=True)
def gradient(x: np.ndarray, gy: np.ndarray, gamma: np.ndarray, mean: float, inv_std: float,
             gx: np.ndarray, ggamma: np.ndarray, gbeta: np.ndarray) -> None:
    """gx of `normalise` (float64 inside, cast to x's dtype), and this sample's per-channel sums
    gy * cast(x_hat) and gy into `ggamma` and `gbeta` (float64).

    x_hat = (x - mean) * inv_std, g = cast(gy * gamma) as float64:
    gx = inv_std * (g - mean(g) - x_hat * mean(g * x_hat)).
    """
    rows, channels = x.shape
    g_sums, g_hat_sums = np.zeros(channels), np.zeros(channels)
    normed = np.empty(channels, x.dtype)
    scaled = np.empty(channels, x.dtype)
    for r in range(rows):
        for c in range(channels):
            x_hat = (x[r, c] - mean) * inv_std
            normed[c] = x_hat
            scaled[c] = gy[r, c] * gamma[c]
            g = np.float64(scaled[c])
            g_sums[c] += g
            g_hat_sums[c] += g * x_hat
            ggamma[c] += gy[r, c] * np.float64(normed[c])
            gbeta[c] += gy[r, c]
    g_mean = g_sums.sum() / x.size
    g_hat_mean = g_hat_sums.sum() / x.size
    for r in range(rows):
        for c in range(channels):
            x_hat = (x[r, c] - mean) * inv_std
            scaled[c] = gy[r, c] * gamma[c]
            gx[r, c] = inv_std * (np.float64(scaled[c]) - g_mean - x_hat * g_hat_mean)
