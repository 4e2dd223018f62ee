"""The VPN's multiplicative unit (Kalchbrenner et al. 2016, `tf_compat.multiplicative_unit`) for
the CPU fast path: the gates' nonlinearities, the unit's products and their gradients in one
pass over blocks of positions, the blocks on both cores, channels last.

Chainer runs a unit as ten nodes (three sigmoids, two tanh, three products, a sum) and as
many in the backward, each a pass over the whole maps on one core, and keeps six maps of each
for the backward; here it is one node that keeps its five inputs. Arrays are (positions,
channels) rows of any strides, in the arithmetic of Chainer's functions in their dtype:
sigmoid(x) = tanh(x / 2) / 2 + 1/2.
"""

from __future__ import annotations

import numpy as np

from chainer_port.fast_cpu.lstm import sigmoid
from chainer_port.fast_cpu.threads import parallel_map, worker_blocks


def _inner(s2: np.ndarray, s3: np.ndarray, u: np.ndarray, h: np.ndarray | None) -> np.ndarray:
    """g2 * h + g3 * u (g2 + g3 * u without h), as Chainer adds them."""
    return (s2 * h if h is not None else s2) + s3 * u


def _sigmoid_grad(g: np.ndarray, s: np.ndarray, out: np.ndarray) -> None:
    """Chainer's sigmoid gradient g * s * (1 - s), s the sigmoid's output, into `out`."""
    np.multiply(g * s, s.dtype.type(1) - s, out=out)


def multiplicative_unit(g1: np.ndarray, g2: np.ndarray, g3: np.ndarray, u: np.ndarray,
                        h: np.ndarray | None) -> np.ndarray:
    """sigmoid(g1) * tanh(sigmoid(g2) * h + sigmoid(g3) * tanh(u)) of (P, C) pre-activations
    (without h: sigmoid(g2) in place of the product)."""
    y = np.empty(g1.shape, g1.dtype)

    def block(rows: slice) -> None:
        inner = _inner(sigmoid(g2[rows]), sigmoid(g3[rows]), np.tanh(u[rows]),
                       None if h is None else h[rows])
        np.multiply(sigmoid(g1[rows]), np.tanh(inner), out=y[rows])

    parallel_map(block, worker_blocks(len(y)))
    return y


def multiplicative_unit_grad(g1: np.ndarray, g2: np.ndarray, g3: np.ndarray, u: np.ndarray,
                             h: np.ndarray | None, gy: np.ndarray
                             ) -> tuple[np.ndarray, ...]:
    """The gradients of `multiplicative_unit` w.r.t. g1, g2, g3, u and (when given) h."""
    grads = [np.empty(g1.shape, g1.dtype) for _ in range(4 if h is None else 5)]
    one = g1.dtype.type(1)

    def block(rows: slice) -> None:
        s1, s2, s3 = sigmoid(g1[rows]), sigmoid(g2[rows]), sigmoid(g3[rows])
        t_u = np.tanh(u[rows])
        h_rows = None if h is None else h[rows]
        t = np.tanh(_inner(s2, s3, t_u, h_rows))
        g = gy[rows]
        _sigmoid_grad(g * t, s1, grads[0][rows])
        g_inner = g * s1 * (one - t * t)
        _sigmoid_grad(g_inner * h_rows if h is not None else g_inner, s2, grads[1][rows])
        _sigmoid_grad(g_inner * t_u, s3, grads[2][rows])
        np.multiply(g_inner * s3, one - t_u * t_u, out=grads[3][rows])
        if h is not None:
            np.multiply(g_inner, s2, out=grads[4][rows])

    parallel_map(block, worker_blocks(len(gy)))
    return tuple(grads)
