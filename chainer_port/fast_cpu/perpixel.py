"""Per-pixel kernels for the CPU fast path (`tf_compat.per_pixel_kernels`: Finn's DNA, dynamic
filters): one node instead of Chainer's k * k windows of the padded image, their stack, the
weights' broadcast, the product and the sum. Each window's gradient went through Chainer's
slicing gradient (`numpy.add.at` into zeros of the padded image) and the k * k of them were
added up: with the stack and the product, about a tenth of the DNA's train step. Samples run on
both cores (`perpixel_kernels`)."""

from __future__ import annotations

import numpy as np

from chainer_port.fast_cpu import perpixel_kernels as loops
from chainer_port.fast_cpu.kernels import Pads
from chainer_port.fast_cpu.threads import parallel_map


def per_pixel_kernels(image: np.ndarray, kernels: np.ndarray, pads: Pads) -> np.ndarray:
    """(N, H, W, C) `image` zero-padded by `pads`, each pixel's window weighted by its (N, H,
    W, k * k) `kernels` and summed: (N, H, W, C)."""
    (top, _), (left, _) = pads
    out = np.empty_like(image)
    k = _size(pads)
    parallel_map(lambda n: loops.apply(image[n], kernels[n], k, top, left, out[n]),
                 range(len(image)))
    return out


def per_pixel_kernels_grad(image: np.ndarray, kernels: np.ndarray, pads: Pads, gy: np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray]:
    """The gradients of `per_pixel_kernels` from `gy` (N, H, W, C): the image's, the
    kernels'."""
    (top, _), (left, _) = pads
    g_image, g_kernels = np.zeros_like(image), np.empty_like(kernels)
    k = _size(pads)
    parallel_map(lambda n: loops.gradient(image[n], kernels[n], k, top, left, gy[n],
                                          g_image[n], g_kernels[n]), range(len(image)))
    return g_image, g_kernels


def _size(pads: Pads) -> int:
    """The window's size: the rows padded, plus one."""
    (top, bottom), _ = pads
    return top + bottom + 1
