"""Softmax cross-entropy for the CPU fast path: one sample per task, both cores, the compiled
loops of `softmax_kernels` over each sample's (classes, positions) view (no copy)."""

from __future__ import annotations

import numpy as np

from chainer_port.fast_cpu import softmax_kernels as loops
from chainer_port.fast_cpu.threads import parallel_map


def _planes(x: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, C, positions) and (N, positions) views of (N, C, ...) `x` and its labels."""
    return (np.ascontiguousarray(x).reshape(x.shape[0], x.shape[1], -1),
            np.ascontiguousarray(labels).reshape(labels.shape[0], -1))


def softmax_cross_entropy(x: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """(the cross-entropy summed over every sample and position, float64; each position's
    log-sum-exp (N, positions), float64, for the gradient)."""
    planes, targets = _planes(x, labels)
    lse = np.empty(targets.shape)

    def sample(n: int) -> float:
        lse[n] = loops.log_sum_exp(planes[n])
        return loops.label_sum(planes[n], targets[n], lse[n])

    return float(sum(parallel_map(sample, range(len(planes))))), lse


def softmax_cross_entropy_grad(x: np.ndarray, labels: np.ndarray, lse: np.ndarray,
                               scale: float) -> np.ndarray:
    """(softmax(x) - one_hot(labels)) * scale over the class axis, x's shape and dtype."""
    planes, targets = _planes(x, labels)
    gx = np.empty_like(planes)
    parallel_map(lambda n: loops.input_gradient(planes[n], targets[n], lse[n], scale, gx[n]),
                 range(len(planes)))
    return gx.reshape(x.shape)
