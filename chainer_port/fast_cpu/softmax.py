"""Softmax cross-entropy for the CPU fast path: one sample per task, both cores, the compiled
loops of `softmax_kernels` over each sample's (classes, positions) view (no copy). And the
softmax over a last, contiguous axis (attention's). Chainer runs each of its passes (max, exp,
sum, divide) over the whole array on one core: on the E3D-LSTM's attention (4 x 512 x 5,120
floats at `small`) the softmax and its gradient took 39% of the port's train step. float32 goes
to oneDNN's softmax (`dnnl.softmax_rows`, the primitive TF's own CPU softmax runs: 2 to 4 times
faster than the blocks below on 2 cores, within 1e-5 of Chainer's numbers); float64, and
float32 where oneDNN is off, to Chainer's own arithmetic on blocks of rows that fit in a core's
cache, the blocks on both cores: each row's numbers are Chainer's, bit for bit."""

from __future__ import annotations

import numpy as np

from chainer_port.fast_cpu import dnnl
from chainer_port.fast_cpu import softmax_kernels as loops
from chainer_port.fast_cpu.threads import parallel_map, row_blocks


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


_BLOCK_FLOATS = 1 << 16
"""Rows per block: about this many floats (256 KB of float32), at least one row."""


def _row_blocks(rows: int, length: int) -> list[slice]:
    return row_blocks(rows, _BLOCK_FLOATS // max(length, 1))


def softmax_last_axis(x: np.ndarray) -> np.ndarray:
    """softmax over the last axis: on oneDNN where it takes it (`dnnl.softmax_rows`), else as
    Chainer's `F.softmax(x, axis=-1)` computes it."""
    rows = np.ascontiguousarray(x).reshape(-1, x.shape[-1])
    y = dnnl.softmax_rows(rows)
    if y is not None:
        return y.reshape(x.shape)
    y = np.empty_like(rows)

    def block(part: slice) -> None:
        out = y[part]
        np.subtract(rows[part], rows[part].max(axis=1, keepdims=True), out=out)
        np.exp(out, out=out)
        out /= out.sum(axis=1, keepdims=True)

    parallel_map(block, _row_blocks(*rows.shape))
    return y.reshape(x.shape)


def softmax_last_axis_grad(y: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """The gradient of `softmax_last_axis` given its output y: on oneDNN where the forward ran
    there, else y * gy - y * sum(y * gy), as Chainer's `_SoftmaxGrad`."""
    y_rows = np.ascontiguousarray(y).reshape(-1, y.shape[-1])
    gy_rows = np.ascontiguousarray(gy).reshape(y_rows.shape)
    gx = dnnl.softmax_rows_grad(y_rows, gy_rows)
    if gx is not None:
        return gx.reshape(y.shape)
    gx = np.empty_like(y_rows)

    def block(part: slice) -> None:
        out = gx[part]
        np.multiply(y_rows[part], gy_rows[part], out=out)
        out -= y_rows[part] * out.sum(axis=1, keepdims=True)

    parallel_map(block, _row_blocks(*y_rows.shape))
    return gx.reshape(y.shape)
