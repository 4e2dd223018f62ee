"""The VPN's multiplicative unit (Kalchbrenner et al. 2016, `tf_compat.multiplicative_unit`) for
the CPU fast path: the gates' nonlinearities, the unit's products and their gradients in one
pass over blocks of positions, the blocks on both cores, channels last.

Chainer runs a unit as ten nodes (three sigmoids, two tanh, three products, a sum) and as
many in the backward, each a pass over the whole maps on one core, and keeps six maps of each
for the backward; here it is one node that keeps its inputs: the four pre-activations joined
(the channel blocks of one convolution, `tf_compat.tf_gate_convs`, whose gradient comes out
joined too) and h. Arrays are (positions, channels) rows of any strides, in the arithmetic of
Chainer's functions in their dtype: sigmoid(x) = tanh(x / 2) / 2 + 1/2.
"""

from __future__ import annotations

import numpy as np

from chainer_port.fast_cpu.lstm import gate_blocks, sigmoid
from chainer_port.fast_cpu.threads import parallel_map, worker_blocks


def _inner(s2: np.ndarray, s3: np.ndarray, u: np.ndarray, h: np.ndarray | None) -> np.ndarray:
    """g2 * h + g3 * u (g2 + g3 * u without h), as Chainer adds them."""
    return (s2 * h if h is not None else s2) + s3 * u


def _sigmoid_grad(g: np.ndarray, s: np.ndarray, out: np.ndarray) -> None:
    """Chainer's sigmoid gradient g * s * (1 - s), s the sigmoid's output, into `out`."""
    np.multiply(g * s, s.dtype.type(1) - s, out=out)


def multiplicative_unit(gates: np.ndarray, h: np.ndarray | None) -> np.ndarray:
    """sigmoid(g1) * tanh(sigmoid(g2) * h + sigmoid(g3) * tanh(u)) of (P, 4C) pre-activations
    g1, g2, g3, u joined (without h: sigmoid(g2) in place of the product)."""
    g1, g2, g3, u = gate_blocks(gates)
    y = np.empty(g1.shape, g1.dtype)

    def block(rows: slice) -> None:
        inner = _inner(sigmoid(g2[rows]), sigmoid(g3[rows]), np.tanh(u[rows]),
                       None if h is None else h[rows])
        np.multiply(sigmoid(g1[rows]), np.tanh(inner), out=y[rows])

    parallel_map(block, worker_blocks(len(y)))
    return y


def multiplicative_unit_grad(gates: np.ndarray, h: np.ndarray | None, gy: np.ndarray
                             ) -> tuple[np.ndarray, ...]:
    """The gradients of `multiplicative_unit` w.r.t. the joined gates (P, 4C) and (when given)
    h (P, C)."""
    g1, g2, g3, u = gate_blocks(gates)
    g_gates = np.empty(gates.shape, gates.dtype)
    g_quarters = gate_blocks(g_gates)
    g_h = None if h is None else np.empty(h.shape, h.dtype)
    one = gates.dtype.type(1)

    def block(rows: slice) -> None:
        s1, s2, s3 = sigmoid(g1[rows]), sigmoid(g2[rows]), sigmoid(g3[rows])
        t_u = np.tanh(u[rows])
        h_rows = None if h is None else h[rows]
        t = np.tanh(_inner(s2, s3, t_u, h_rows))
        g = gy[rows]
        _sigmoid_grad(g * t, s1, g_quarters[0][rows])
        g_inner = g * s1 * (one - t * t)
        _sigmoid_grad(g_inner * h_rows if h is not None else g_inner, s2, g_quarters[1][rows])
        _sigmoid_grad(g_inner * t_u, s3, g_quarters[2][rows])
        np.multiply(g_inner * s3, one - t_u * t_u, out=g_quarters[3][rows])
        if g_h is not None:
            np.multiply(g_inner, s2, out=g_h[rows])

    parallel_map(block, worker_blocks(len(gy)))
    return (g_gates,) if g_h is None else (g_gates, g_h)
