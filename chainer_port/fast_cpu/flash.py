"""Attention for the CPU fast path (`tf_compat.tf_attention`: softmax(q k^T) v over the keys,
the E3D-LSTM's eidetic recall) without the (queries x keys) matrix in memory.

Chainer, and the unfused fast path, write the scores q k^T, read them for the softmax, write
the weights, read them for the product with v, and the backward does as much again: at the
E3D-LSTM's `small` preset each of those matrices is 4 x 512 x up to 10,240 floats (84 MB), and
passing them through memory was two thirds of the port's train step. Here each block of query
rows computes its scores, their softmax and its share of the output while they sit in a
core's cache (Dao et al.'s FlashAttention, on a CPU): the weights' row sums are kept, so the
backward recomputes a block's weights instead of reading them. The products are sequential
GEMMs (`gemm`, MKL where installed), one batch item per task on both cores, the row blocks in
order: the same bits on every run and every thread count.
"""

from __future__ import annotations

import numpy as np

from chainer_port.fast_cpu.gemm import gemm
from chainer_port.fast_cpu.threads import gemm_map, row_blocks

BLOCK_FLOATS = 1 << 18
"""Scores per block of query rows (1 MB of float32: a core's L2 cache holds a block)."""


def _blocks(queries: int, keys: int) -> list[slice]:
    return row_blocks(queries, min(256, max(16, BLOCK_FLOATS // max(keys, 1))))


def _weights(q: np.ndarray, k: np.ndarray, shift: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray | None]:
    """exp(q k^T - shift) of a block of rows, shift each row's maximum when not given (then
    returned too)."""
    scores = np.empty((len(q), len(k)), q.dtype)
    gemm(q, k.T, scores)
    if shift is None:
        shift = scores.max(axis=1, keepdims=True)
        scores -= shift
        return np.exp(scores, out=scores), shift
    scores -= shift
    return np.exp(scores, out=scores), None


def attention(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """softmax(q k^T) v of (B, Lq, C), (B, Lk, C), (B, Lk, Cv) arrays: (the output (B, Lq, Cv),
    each query row's log-sum-exp of its scores (B, Lq, 1), for the backward)."""
    out = np.empty((*q.shape[:2], v.shape[2]), q.dtype)
    lse = np.empty((*q.shape[:2], 1), q.dtype)

    def item(b: int) -> None:
        for rows in _blocks(q.shape[1], k.shape[1]):
            weights, shift = _weights(q[b, rows], k[b])
            total = weights.sum(axis=1, keepdims=True)
            gemm(weights, v[b], out[b, rows])
            out[b, rows] /= total
            lse[b, rows] = shift + np.log(total)

    gemm_map(item, range(len(q)))
    return out, lse


def attention_grad(q: np.ndarray, k: np.ndarray, v: np.ndarray, out: np.ndarray,
                   lse: np.ndarray, g_out: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The gradients of `attention` w.r.t. q, k and v from its output's, the weights of each
    block recomputed from `lse`: with P the weights, dS = P * (g_out v^T - rowsum(g_out *
    out)), gq = dS k, gk = dS^T q, gv = P^T g_out."""
    gq = np.empty_like(q)
    gk, gv = np.zeros_like(k), np.zeros_like(v)

    def item(b: int) -> None:
        for rows in _blocks(q.shape[1], k.shape[1]):
            weights, _ = _weights(q[b, rows], k[b], lse[b, rows])
            g_scores = np.empty_like(weights)
            gemm(g_out[b, rows], v[b].T, g_scores)
            g_scores -= (g_out[b, rows] * out[b, rows]).sum(axis=1, keepdims=True)
            g_scores *= weights
            gemm(g_scores, k[b], gq[b, rows])
            gemm(g_scores.T, q[b, rows], gk[b], accumulate=True)
            gemm(weights.T, g_out[b, rows], gv[b], accumulate=True)

    gemm_map(item, range(len(q)))
    return gq, gk, gv
