"""The LSTM cell update of TF's BasicConvLSTMCell for the CPU fast path: the gates'
nonlinearities, the cell update and their gradients in one pass over blocks of positions,
the blocks on both cores, channels last.

Chainer runs the same update as a dozen nodes (split, three sigmoids, two tanh, products,
sums, concat) and as many in the backward, each a pass over the whole maps on one core.
Arrays here are (positions, channels) rows of any strides: `gates` (P, 4W) with the gate
blocks in `order` (the block index of i, j, f, o), `c` (P, W), the state concat(c', h') (P,
2W). The arithmetic is Chainer's, in the arrays' dtype: sigmoid(x) =
tanh(x / 2) / 2 + 1/2.
"""

from __future__ import annotations

import numpy as np

from chainer_port.fast_cpu.threads import parallel_map, worker_blocks

Order = tuple[int, int, int, int]
"""The block index of each of i, j, f, o in the gates."""


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Chainer's sigmoid arithmetic, tanh(x / 2) / 2 + 1/2, in x's dtype."""
    half = x.dtype.type(0.5)
    y = np.tanh(x * half)
    y *= half
    y += half
    return y


def _gate_values(gates: np.ndarray, forget_bias: float, order: Order
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """sigmoid(i), tanh(j), sigmoid(f + forget_bias), sigmoid(o) of a block of rows."""
    width = gates.shape[1] // 4
    i, j, f, o = (gates[:, k * width:(k + 1) * width] for k in order)
    return sigmoid(i), np.tanh(j), sigmoid(f + gates.dtype.type(forget_bias)), sigmoid(o)


def lstm_update(gates: np.ndarray, c: np.ndarray, forget_bias: float, order: Order
                ) -> np.ndarray:
    """The new state concat(c', h'), (P, 2W): c' = c * f + i * j, h' = tanh(c') * o."""
    width = c.shape[1]
    state = np.empty((len(c), 2 * width), c.dtype)

    def block(rows: slice) -> None:
        i, j, f, o = _gate_values(gates[rows], forget_bias, order)
        new_c = state[rows, :width]
        np.multiply(c[rows], f, out=new_c)
        new_c += i * j
        np.multiply(np.tanh(new_c), o, out=state[rows, width:])

    parallel_map(block, worker_blocks(len(c)))
    return state


def lstm_update_grad(gates: np.ndarray, c: np.ndarray, g_state: np.ndarray,
                     forget_bias: float, order: Order) -> tuple[np.ndarray, np.ndarray]:
    """The gradients of `lstm_update` with respect to the gates (P, 4W) and c (P, W), given
    the state's gradient (P, 2W)."""
    width = c.shape[1]
    g_gates = np.empty(gates.shape, gates.dtype)
    g_c = np.empty(c.shape, c.dtype)
    gate_columns = [slice(k * width, (k + 1) * width) for k in order]
    one = c.dtype.type(1)

    def block(rows: slice) -> None:
        i, j, f, o = _gate_values(gates[rows], forget_bias, order)
        new_c = c[rows] * f
        new_c += i * j
        tanh_c = np.tanh(new_c)
        g_h = g_state[rows, width:]
        g_new_c = g_h * o * (one - tanh_c * tanh_c)
        g_new_c += g_state[rows, :width]
        out = g_gates[rows]
        gi, gj, gf, go = (out[:, column] for column in gate_columns)
        np.multiply(g_new_c * j, i * (one - i), out=gi)
        np.multiply(g_new_c * i, one - j * j, out=gj)
        np.multiply(g_new_c * c[rows], f * (one - f), out=gf)
        np.multiply(g_h * tanh_c, o * (one - o), out=go)
        np.multiply(g_new_c, f, out=g_c[rows])

    parallel_map(block, worker_blocks(len(c)))
    return g_gates, g_c
