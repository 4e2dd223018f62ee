"""TF's bilinear sampler (the spatial transformer of tensorflow/models, Finn's STP) for the
CPU fast path: one node instead of Chainer's gathers, weights and sums. Chainer's gathers
(`F.get_item` with index arrays) scatter their gradient with `numpy.add.at`, a few hundred
microseconds for each of the four neighbours of every transformer: with their weights' and
sums' nodes they were about a sixth of the STP's train step. Samples run on both cores
(`sampler_kernels`)."""

from __future__ import annotations

import numpy as np

from chainer_port.fast_cpu import sampler_kernels as loops
from chainer_port.fast_cpu.threads import parallel_map


def bilinear_sample(image: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """(N, H, W, C) `image` sampled at the (N, H * W) source points: (N, H * W, C)."""
    out = np.empty((image.shape[0], xs.shape[1], image.shape[3]), image.dtype)
    parallel_map(lambda n: loops.sample(image[n], xs[n], ys[n], out[n]), range(len(image)))
    return out


def bilinear_sample_grad(image: np.ndarray, xs: np.ndarray, ys: np.ndarray, gy: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The gradients of `bilinear_sample` from `gy` (N, H * W, C): the image's, the points'."""
    g_image = np.zeros_like(image)
    g_xs, g_ys = np.empty_like(xs), np.empty_like(ys)
    parallel_map(lambda n: loops.sample_grad(image[n], xs[n], ys[n], gy[n], g_image[n],
                                             g_xs[n], g_ys[n]), range(len(image)))
    return g_image, g_xs, g_ys
