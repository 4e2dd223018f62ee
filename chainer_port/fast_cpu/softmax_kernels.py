"""Compiled (numba) loops of the fast path's softmax cross-entropy over one sample's
(classes, positions) block: float64 arithmetic in registers, the positions innermost (the
contiguous axis of an NC... array), so every pass streams through memory once.

Chainer's `softmax_cross_entropy` on NumPy takes the log-softmax in float32 over the class
axis with strided reductions, then gathers the labels' values through a moved-axis copy: on
the VPN's 256 intensity classes a quarter of the port's train step. `nogil`: the caller runs
the samples on both cores (`threads.parallel_map`).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def log_sum_exp(x: np.ndarray) -> np.ndarray:
    """log(sum(exp(x[:, s]))) for every position s of (classes, positions) `x`, float64."""
    classes, positions = x.shape
    top = np.full(positions, -np.inf)
    for c in range(classes):
        for s in range(positions):
            if x[c, s] > top[s]:
                top[s] = x[c, s]
    total = np.zeros(positions)
    for c in range(classes):
        for s in range(positions):
            total[s] += np.exp(np.float64(x[c, s]) - top[s])
    return top + np.log(total)


@njit(nogil=True, cache=True)
def label_sum(x: np.ndarray, labels: np.ndarray, lse: np.ndarray) -> float:
    """sum over positions of lse[s] - x[labels[s], s]: the sample's summed cross-entropy."""
    total = 0.0
    for s in range(labels.shape[0]):
        total += lse[s] - np.float64(x[labels[s], s])
    return total


@njit(nogil=True, cache=True)
def input_gradient(x: np.ndarray, labels: np.ndarray, lse: np.ndarray, scale: float,
                   gx: np.ndarray) -> None:
    """gx = (softmax(x) - one_hot(labels)) * scale, per position, cast to gx's dtype."""
    classes, positions = x.shape
    for c in range(classes):
        for s in range(positions):
            value = np.exp(np.float64(x[c, s]) - lse[s])
            if labels[s] == c:
                value -= 1.0
            gx[c, s] = value * scale
