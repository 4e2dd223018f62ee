"""Batched matrix products for the CPU fast path (attention's q k^T and its weighted sum):
every (batch item, block of rows) one sequential GEMM (`gemm`: MKL, else NumPy's), the blocks
on both cores (`threads.gemm_map`).

Chainer's `F.matmul` on NumPy is one `numpy.matmul` over the whole batch: one core now that
the fast path puts NumPy's BLAS on one thread (`blas`), and NumPy's batched loop; on the
E3D-LSTM's attention at `small` it was 40% of the port's train step.
"""

from __future__ import annotations

import numpy as np

from chainer_port.fast_cpu.gemm import gemm
from chainer_port.fast_cpu.threads import WORKERS, gemm_map, row_blocks


def batched_gemm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for (B, M, K) and (B, K, N) arrays (any strides, transposed views included):
    a C-contiguous (B, M, N) array of their dtype."""
    batch, rows, _ = a.shape
    out = np.empty((batch, rows, b.shape[2]), a.dtype)
    # Enough blocks that both cores work at batch 1 too; whole items when the batch is large.
    parts = max(1, -(-WORKERS // batch))
    blocks = [(item, part) for item in range(batch)
              for part in row_blocks(rows, -(-rows // parts))]
    gemm_map(lambda block: gemm(a[block[0], block[1]], b[block[0]], out[block[0], block[1]]),
             blocks)
    return out


def transposed(x: np.ndarray, trans: bool) -> np.ndarray:
    """`x` with its last two axes swapped (a view) when `trans`."""
    return x.transpose(0, 2, 1) if trans else x
