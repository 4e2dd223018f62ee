"""The LSTM cell updates for the CPU fast path, TF's BasicConvLSTMCell's and the peephole
cell's (Shi et al.'s ConvLSTM, seed 002): the gates' nonlinearities, the cell update and
their gradients in one pass over blocks of positions, the blocks on both cores, channels last.

Chainer runs the same update as a dozen nodes (split, three sigmoids, two tanh, products,
sums, concat) and as many in the backward, each a pass over the whole maps on one core.
Arrays here are (positions, channels) rows of any strides: `gates` (P, 4W) with the gate
blocks in `order` (the block index of i, j, f, o), `c` (P, W), the state concat(c', h') (P,
2W). The arithmetic is Chainer's, in the arrays' dtype: sigmoid(x) =
tanh(x / 2) / 2 + 1/2.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from chainer_port.fast_cpu.threads import WORKERS, parallel_map, row_blocks, worker_blocks

Order = tuple[int, int, int, int]
"""The block index of each of i, j, f, o in the gates."""


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Chainer's sigmoid arithmetic, tanh(x / 2) / 2 + 1/2, in x's dtype."""
    half = x.dtype.type(0.5)
    y = np.tanh(x * half)
    y *= half
    y += half
    return y


def gate_blocks(gates: np.ndarray, order: Order = (0, 1, 2, 3)) -> list[np.ndarray]:
    """Views of the four gates, the blocks `order` of (..., 4W) `gates`' last axis (i, j, f, o
    of an LSTM's; a multiplicative unit's g1, g2, g3, u in their order)."""
    width = gates.shape[-1] // 4
    return [gates[..., k * width:(k + 1) * width] for k in order]


def _gate_values(gates: np.ndarray, forget_bias: float, order: Order
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """sigmoid(i), tanh(j), sigmoid(f + forget_bias), sigmoid(o) of a block of rows."""
    i, j, f, o = gate_blocks(gates, order)
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
    one = c.dtype.type(1)

    def block(rows: slice) -> None:
        i, j, f, o = _gate_values(gates[rows], forget_bias, order)
        new_c = c[rows] * f
        new_c += i * j
        tanh_c = np.tanh(new_c)
        g_h = g_state[rows, width:]
        g_new_c = g_h * o * (one - tanh_c * tanh_c)
        g_new_c += g_state[rows, :width]
        gi, gj, gf, go = gate_blocks(g_gates[rows], order)
        np.multiply(g_new_c * j, i * (one - i), out=gi)
        np.multiply(g_new_c * i, one - j * j, out=gj)
        np.multiply(g_new_c * c[rows], f * (one - f), out=gf)
        np.multiply(g_h * tanh_c, o * (one - o), out=go)
        np.multiply(g_new_c, f, out=g_c[rows])

    parallel_map(block, worker_blocks(len(c)))
    return g_gates, g_c


def _sample_blocks(samples: int, positions: int) -> list[tuple[int, slice]]:
    """(sample, block of its positions) pairs, about two per worker thread in all: a block
    never spans two samples, so the peephole weights' rows are the block's positions."""
    per_sample = -(-2 * WORKERS // samples)
    return [(n, rows) for n in range(samples)
            for rows in row_blocks(positions, -(-positions // per_sample))]


def _peephole_gates(gates: Sequence[np.ndarray], weights: Sequence[np.ndarray], c: np.ndarray,
                    forget_bias: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """sigmoid(i + w_i * c), tanh(j), sigmoid(f + w_f * c + forget_bias) of a block of rows,
    added in the order of the Chainer cell's nodes."""
    i, j, f, _ = gates
    w_i, w_f, _ = weights
    return (sigmoid(i + w_i * c), np.tanh(j),
            sigmoid(f + w_f * c + c.dtype.type(forget_bias)))


def peephole_lstm_update(gates: np.ndarray, c: np.ndarray, weights: Sequence[np.ndarray],
                         forget_bias: float, order: Order, output_sees_new: bool
                         ) -> np.ndarray:
    """The new state concat(c', h') (N, positions, 2W) of a peephole LSTM cell (Shi et al.'s
    ConvLSTM, TF's LSTMCell with use_peepholes): i = sigmoid(i + w_i * c), f = sigmoid(f + w_f
    * c + forget_bias), c' = f * c + i * tanh(j), o = sigmoid(o + w_o * c') (w_o * c with
    `output_sees_new` False), h' = o * tanh(c'). `gates` (N, positions, 4W) holds the
    pre-activations i, j, f, o in the blocks `order`; c (N, positions, W); `weights` w_i, w_f,
    w_o (positions, W), the same for every sample; any strides."""
    samples, positions, width = c.shape
    state = np.empty((samples, positions, 2 * width), c.dtype)
    pre = gate_blocks(gates, order)

    def block(where: tuple[int, slice]) -> None:
        n, rows = where
        block_pre, c_rows = [x[n, rows] for x in pre], c[n, rows]
        peepholes = [w[rows] for w in weights]
        i, j, f = _peephole_gates(block_pre, peepholes, c_rows, forget_bias)
        new_c = state[n, rows, :width]
        np.multiply(f, c_rows, out=new_c)
        new_c += i * j
        o = sigmoid(block_pre[3] + peepholes[2] * (new_c if output_sees_new else c_rows))
        np.multiply(o, np.tanh(new_c), out=state[n, rows, width:])

    parallel_map(block, _sample_blocks(samples, positions))
    return state


def peephole_lstm_update_grad(gates: np.ndarray, c: np.ndarray, weights: Sequence[np.ndarray],
                              g_state: np.ndarray, forget_bias: float, order: Order,
                              output_sees_new: bool
                              ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """The gradients of `peephole_lstm_update` given the state's (N, positions, 2W): of the
    gates (N, positions, 4W, one array), of c (N, positions, W), and of the three peephole
    weights (positions, W: each sample's terms summed in the samples' order)."""
    samples, positions, width = c.shape
    g_gates = np.empty(gates.shape, gates.dtype)
    g_c = np.empty(c.shape, c.dtype)
    g_weights = [np.empty(c.shape, c.dtype) for _ in range(3)]  # each sample's terms
    pre, g_pre = gate_blocks(gates, order), gate_blocks(g_gates, order)
    one = c.dtype.type(1)

    def block(where: tuple[int, slice]) -> None:
        n, rows = where
        block_pre, c_rows = [x[n, rows] for x in pre], c[n, rows]
        w_i, w_f, w_o = (w[rows] for w in weights)
        i, j, f = _peephole_gates(block_pre, (w_i, w_f, w_o), c_rows, forget_bias)
        new_c = f * c_rows
        new_c += i * j
        seen = new_c if output_sees_new else c_rows
        o = sigmoid(block_pre[3] + w_o * seen)
        tanh_c = np.tanh(new_c)
        g_i, g_j, g_f, g_o = (g[n, rows] for g in g_pre)
        g_w_i, g_w_f, g_w_o = (g[n, rows] for g in g_weights)
        g_h = g_state[n, rows, width:]
        np.multiply(g_h * tanh_c, o * (one - o), out=g_o)
        g_new_c = g_h * o * (one - tanh_c * tanh_c)
        g_new_c += g_state[n, rows, :width]
        if output_sees_new:
            g_new_c += g_o * w_o
        np.multiply(g_new_c * j, i * (one - i), out=g_i)
        np.multiply(g_new_c * i, one - j * j, out=g_j)
        np.multiply(g_new_c * c_rows, f * (one - f), out=g_f)
        out = g_c[n, rows]
        np.multiply(g_new_c, f, out=out)
        out += g_i * w_i
        out += g_f * w_f
        if not output_sees_new:
            out += g_o * w_o
        np.multiply(g_i, c_rows, out=g_w_i)
        np.multiply(g_f, c_rows, out=g_w_f)
        np.multiply(g_o, seen, out=g_w_o)

    parallel_map(block, _sample_blocks(samples, positions))
    return g_gates, g_c, [g.sum(axis=0) for g in g_weights]
