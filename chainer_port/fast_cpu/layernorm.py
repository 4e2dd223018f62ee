"""TF's layer norm for the CPU fast path (`tf_video_ops.tf_layer_norm`, tf.contrib's
`layer_norm`: every sample normalised over all its axes but the batch, gamma and beta per
channel): one node instead of Chainer's dozen (a float64 copy of the map, mean, centring,
square, mean, power, product, the cast back, scale and shift, and each one's gradient), on
Finn's pairs and the E3D-LSTM after every convolution.

The same arithmetic as that composite: float64 statistics, the normalised map cast to x's dtype
before gamma and beta in x's dtype. Each sample's channels-last rows go through the compiled
loops of `layernorm_kernels`, samples on both cores when the map is large enough to pay for
waking the pool. Sums run in another order than NumPy's, so y and gx equal the composite's but
for a last float32 bit here and there; gamma's and beta's gradients are summed in float64.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np

from chainer_port.fast_cpu import layernorm_kernels as loops
from chainer_port.fast_cpu.threads import parallel_map

Result = TypeVar("Result")

POOLED_FROM = 1 << 18
"""Elements of a map from which its samples run on the pool (below, one core: waking the pool
costs about 0.1 ms on 2 cores)."""


def _samples(function: Callable[[int], Result], count: int, size: int) -> list[Result]:
    if size >= POOLED_FROM:
        return parallel_map(function, range(count))
    return [function(n) for n in range(count)]


def layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float
               ) -> tuple[np.ndarray, np.ndarray]:
    """y of (N, positions, C) `x` (each sample normalised over all of it), and each sample's
    (mean, inv_std), float64, (N, 2)."""
    y = np.empty_like(x)
    stats = np.array(_samples(lambda n: loops.normalise(x[n], gamma, beta, eps, y[n]),
                              len(x), x.size), np.float64).reshape(len(x), 2)
    return y, stats


def layer_norm_grad(x: np.ndarray, gy: np.ndarray, gamma: np.ndarray, stats: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(gx, ggamma, gbeta) of `layer_norm`: gx x's shape and dtype, ggamma and gbeta per channel
    (summed over the samples in order, in float64), gamma's dtype."""
    gx = np.empty_like(x)
    sums = np.zeros((len(x), 2, x.shape[-1]))

    def sample(n: int) -> None:
        loops.gradient(x[n], gy[n], gamma, stats[n, 0], stats[n, 1], gx[n], sums[n, 0],
                       sums[n, 1])

    _samples(sample, len(x), x.size)
    ggamma, gbeta = sums.sum(axis=0)
    return gx, ggamma.astype(gamma.dtype), gbeta.astype(gamma.dtype)
