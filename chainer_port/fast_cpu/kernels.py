"""NumPy kernels of the CPU fast path: convolutions as cache-blocked im2col + BLAS GEMMs.

Where oneDNN is installed, float32 convolutions run there instead (`fast_cpu.conv`); these
kernels do float64 (the parity noise floor, `check_backward`), every platform without the
wheel, and the depthwise cross conv.

Why not Chainer's own CPU convolution: its im2col builds the whole (N, C, kh, kw, Ho, Wo)
column buffer (1.7 GB for the paper preset's 256 x 256 layer), then `tensordot` copies it
again into a GEMM layout. Here activations are NHWC, so one output pixel's receptive field
is `kh` runs of `kw * C` contiguous floats: a strided view of the padded input is copied,
a few MB at a time, into a contiguous (pixels, kh * kw * C) block that is multiplied by the
(kh * kw * C, out) weight matrix (`gemm`: MKL, or NumPy's BLAS), straight into the
output; the blocks run on all cores, one single-threaded GEMM each (`threads.gemm_map`).

Conventions: activations NHWC; a convolution's weights HWIO (kh, kw, in, out), both
frameworks' cross-correlation; `pads` is ((top, bottom), (left, right)) of the input.
`conv` is y = conv(x); `conv_transpose` is its adjoint with respect to x (TF's
conv2d_transpose and the input gradient); `conv_filter_grad` its adjoint with respect to the
weights. Every function works for float32 and float64 (the dtype of its inputs).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np
from numpy.lib.stride_tricks import as_strided

from chainer_port.fast_cpu.gemm import gemm
from chainer_port.fast_cpu.threads import gemm_map, parallel_map

Pads = tuple[tuple[int, int], ...]
"""A (before, after) pair per spatial axis: ((top, bottom), (left, right)) for these kernels,
which are 2-D; oneDNN's (`dnnl`) also takes 3-D ones."""

CHUNK_BYTES = 8 << 20
"""Target size of one thread's column block: the copy that fills it and the GEMM that reads it
stay in the (large) last-level cache..."""

MIN_PIXELS = 1024
"""...but at least this many output pixels (rows of the GEMM): every GEMM call packs the whole
(kh * kw * C, out) weight matrix, which for the 9x9 decoder conv (10 MB) costs as much as the
multiply itself when a block holds only one 64-pixel row. Measured on the paper preset's
largest layers, 2 cores: 130-160 GFLOP/s from 256 to 2048 pixels, best at the larger ones."""

MIN_GRAD_PIXELS = 2048
"""Pixels per block of the weight gradient (see `conv_filter_grad`)."""


NO_PADS: Pads = ((0, 0), (0, 0))


def output_hw(in_hw: tuple[int, ...], kernel: tuple[int, ...],
              stride: int | tuple[int, ...], pads: Pads) -> tuple[int, ...]:
    """(height, width) (or any spatial axes) of a convolution's or a pooling's output on
    `in_hw` padded by `pads`; one stride, or one per axis."""
    strides = stride if isinstance(stride, tuple) else (stride,) * len(in_hw)
    return tuple((size + before + after - k) // step + 1 for size, k, step, (before, after)
                 in zip(in_hw, kernel, strides, pads, strict=True))


def as_nhwc(x: np.ndarray) -> np.ndarray:
    """NCHW-shaped `x` as contiguous NHWC.

    The fast path's nodes return NCHW-shaped views of NHWC memory and Chainer's elementwise
    functions (BatchNorm, ReLU) keep that memory order, so a convolution fed by one mostly
    gets NHWC memory here, returned as a view. Other memory (true NCHW, or a crop of a
    larger map) is copied (`_padded_copy`).
    """
    view = x.transpose(0, 2, 3, 1)
    return view if view.flags.c_contiguous else _padded_copy(view, NO_PADS)


def pad_nhwc(x: np.ndarray, pads: Pads) -> np.ndarray:
    """NHWC `x` zero-padded by `pads` (negative entries crop); `x` itself when all are 0."""
    return x if pads == NO_PADS else _padded_copy(x, pads)


_POOLED_COPY_BYTES = 4 << 20


def _padded_copy(x: np.ndarray, pads: Pads) -> np.ndarray:
    """A contiguous copy of NHWC-shaped `x` (any strides) with a zero frame of `pads`.

    When the channels are not contiguous (NCHW memory) the copy goes a few channels at a time:
    NumPy's whole-array transposing copy reads with a stride of H * W floats and runs at about
    half the speed. Images are copied on all cores from `_POOLED_COPY_BYTES`: below, waking the
    pool's threads (about 0.1 ms on 2 cores) costs more than it saves.
    """
    (top, bottom), (left, right) = pads
    n, h, w, c = x.shape
    src = x[:, max(-top, 0):h - max(-bottom, 0), max(-left, 0):w - max(-right, 0)]
    top, bottom, left, right = (max(p, 0) for p in (top, bottom, left, right))
    out = np.empty((n, src.shape[1] + top + bottom, src.shape[2] + left + right, c), x.dtype)
    height, width = out.shape[1:3]
    for frame in (out[:, :top], out[:, height - bottom:], out[:, :, :left],
                  out[:, :, width - right:]):
        frame[...] = 0
    inner = out[:, top:height - bottom, left:width - right]
    step = c if src.strides[3] == src.itemsize else 16

    def copy(b: int) -> None:
        for c0 in range(0, c, step):
            inner[b, :, :, c0:c0 + step] = src[b, :, :, c0:c0 + step]

    if out.nbytes >= _POOLED_COPY_BYTES:
        parallel_map(copy, range(n))
    else:
        for b in range(n):
            copy(b)
    return out


def _windows(xp: np.ndarray, kh: int, kw: int, stride: int) -> np.ndarray:
    """The (N, Ho, Wo, kh, kw, C) view of padded NHWC `xp`: each output pixel's window."""
    n, hp, wp, c = xp.shape
    sn, sh, sw, sc = xp.strides
    out_h, out_w = (hp - kh) // stride + 1, (wp - kw) // stride + 1
    return as_strided(xp, (n, out_h, out_w, kh, kw, c),
                      (sn, sh * stride, sw * stride, sh, sw, sc), writeable=False)


def row_bands(n: int, height: int, rows: int) -> Iterator[tuple[slice, slice]]:
    """(image slice, row slice) blocks of about `rows` rows covering n images of `height`:
    whole images per block when one fits (small maps), else a band of rows of one image."""
    if rows >= height:
        images = rows // height
        for b0 in range(0, n, images):
            yield slice(b0, min(b0 + images, n)), slice(0, height)
    else:
        for b in range(n):
            for h0 in range(0, height, rows):
                yield slice(b, b + 1), slice(h0, min(h0 + rows, height))


def pixel_blocks(n: int, height: int, width: int, pixel_bytes: int,
                 min_pixels: int | None = None) -> Iterator[tuple[slice, slice]]:
    """`row_bands` of (n, height) rows of `width` pixels: CHUNK_BYTES of columns per block,
    at least `min_pixels` (MIN_PIXELS) pixels."""
    pixels = max(CHUNK_BYTES // max(pixel_bytes, 1), min_pixels or MIN_PIXELS)
    return row_bands(n, height, max(pixels // width, 1))


class _Columns(threading.local):
    """Each worker thread's column buffer for one convolution call, grown on demand."""

    def get(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        size = int(np.prod(shape))
        buffer = getattr(self, "buffer", None)
        if buffer is None or buffer.size < size or buffer.dtype != dtype:
            self.buffer = buffer = np.empty(size, dtype)
        return buffer[:size].reshape(shape)


def _columns(windows: np.ndarray, columns: _Columns) -> np.ndarray:
    """A contiguous copy of a block of windows, in this thread's buffer."""
    cols = columns.get(windows.shape, windows.dtype)
    np.copyto(cols, windows)
    return cols


def conv(xp: np.ndarray, hwio: np.ndarray, stride: int) -> np.ndarray:
    """y = conv(xp, hwio) of ALREADY PADDED NHWC `xp`: (N, Ho, Wo, out).

    Each block of output pixels is one column copy and one GEMM straight into y, the blocks
    spread over the cores (`gemm_map`).
    """
    kh, kw, c, o = hwio.shape
    windows = _windows(xp, kh, kw, stride)
    n, out_h, out_w = windows.shape[:3]
    weights = hwio.reshape(kh * kw * c, o)
    y = np.empty((n, out_h, out_w, o), xp.dtype)
    if kh == kw == 1:
        np.matmul(windows.reshape(n, out_h, out_w, c), weights, out=y)
        return y
    columns = _Columns()

    def block(where: tuple[slice, slice]) -> None:
        cols = _columns(windows[where], columns)
        gemm(cols.reshape(-1, weights.shape[0]), weights, y[where].reshape(-1, o))

    gemm_map(block, pixel_blocks(n, out_h, out_w, weights.shape[0] * xp.itemsize))
    return y


def conv_filter_grad(xp: np.ndarray, gy: np.ndarray, kh: int, kw: int, stride: int
                     ) -> np.ndarray:
    """d(sum gy * conv(xp, W)) / dW for padded NHWC `xp` and NHWC `gy`: HWIO (kh, kw, C, O).

    For each kernel row, the (pixels, kw * C) columns of a block of pixels multiplied
    transposed by the same pixels of gy, summed over the blocks. Each product is a whole
    (kw * C, O) slice of the gradient to add, so blocks are large (MIN_GRAD_PIXELS: with
    512-pixel blocks the 9x9 decoder conv spent as long adding as multiplying). The work items
    are (kernel row, half of the blocks): each sums its blocks in order and the two halves are
    added in order, whatever thread ran them.
    """
    c, o = xp.shape[3], gy.shape[3]
    windows = _windows(xp, kh, kw, stride)
    n, out_h, out_w = gy.shape[:3]
    k = kw * c
    blocks = list(pixel_blocks(n, out_h, out_w, k * xp.itemsize, MIN_GRAD_PIXELS))
    halves = [blocks[:(len(blocks) + 1) // 2], blocks[(len(blocks) + 1) // 2:]]
    columns = _Columns()

    def partial(item: tuple[int, list]) -> np.ndarray:
        i, part = item
        grad = np.zeros((k, o), xp.dtype)
        for images, rows in part:
            cols = _columns(windows[images, rows, :, i], columns)
            gemm(cols.reshape(-1, k).T, gy[images, rows].reshape(-1, o), grad, accumulate=True)
        return grad

    items = [(i, part) for i in range(kh) for part in halves if part]
    sums = gemm_map(partial, items)
    rows_of_kernel = [sum(sums[j] for j, (i, _) in enumerate(items) if i == row)
                      for row in range(kh)]
    return np.stack(rows_of_kernel).reshape(kh, kw, c, o)


def conv_transpose(y: np.ndarray, hwio: np.ndarray, stride: int, pads: Pads,
                   in_hw: tuple[int, int]) -> np.ndarray:
    """The adjoint of `conv(pad(x, pads), hwio, stride)` w.r.t. x, applied to NHWC `y`.

    Returns NHWC (N, in_h, in_w, C). Stride 1: a convolution of `y` with the flipped,
    in/out-swapped kernel, padded kernel - 1 - pad (no scatter). Larger strides: each input
    pixel's (kh, kw, C) contribution by one GEMM, then added into place tap by tap.
    """
    kh, kw = hwio.shape[:2]
    if stride == 1:
        flipped = np.ascontiguousarray(hwio[::-1, ::-1].transpose(0, 1, 3, 2))
        return conv(pad_nhwc(y, adjoint_pads((kh, kw), pads, in_hw, y.shape[1:3])), flipped, 1)
    return _scatter_transpose(y, hwio, stride, pads, in_hw)


def adjoint_pads(kernel: tuple[int, int], pads: Pads, in_hw: tuple[int, int],
                 out_hw: tuple[int, int]) -> Pads:
    """Pads of a stride-1 output gradient whose flipped-kernel convolution is the input's.

    x (size `in`) padded by (before, after) gives out = in + before + after - k + 1; the
    gradient padded by (k - 1 - before, in - out + k - 1 - (k - 1 - before)) convolves back to
    `in` positions, each summing exactly the outputs its pixel fed.
    """
    return tuple((k - 1 - before, size - out + before)
                 for k, (before, _), size, out in zip(kernel, pads, in_hw, out_hw, strict=True))


def _scatter_transpose(y: np.ndarray, hwio: np.ndarray, stride: int, pads: Pads,
                       in_hw: tuple[int, int]) -> np.ndarray:
    """`conv_transpose` for stride > 1: GEMM to per-pixel taps, then strided adds (col2im)."""
    kh, kw, c, o = hwio.shape
    n, h, w = y.shape[:3]
    (top, _), (left, _) = pads
    full_h = max((h - 1) * stride + kh, top + in_hw[0])
    full_w = max((w - 1) * stride + kw, left + in_hw[1])
    full = np.zeros((n, full_h, full_w, c), y.dtype)
    weights = hwio.transpose(3, 0, 1, 2).reshape(o, kh * kw * c)
    rows = max(CHUNK_BYTES // (w * kh * kw * c * y.itemsize), 1)
    for b in range(n):
        for h0 in range(0, h, rows):
            h1 = min(h0 + rows, h)
            taps = np.empty(((h1 - h0) * w, kh * kw * c), y.dtype)
            gemm(y[b, h0:h1].reshape(-1, o), weights, taps)
            taps = taps.reshape(h1 - h0, w, kh, kw, c)
            for i in range(kh):
                for j in range(kw):
                    full[b, h0 * stride + i:(h1 - 1) * stride + i + 1:stride,
                         j:(w - 1) * stride + j + 1:stride] += taps[:, :, i, j]
    return full[:, top:top + in_hw[0], left:left + in_hw[1]]


def depthwise(xp: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Each plane of padded `xp` (M, Hp, Wp) cross-correlated with its own kernel (M, kh, kw).

    Tap by tap over blocks of planes small enough to stay in cache: the cross conv's maps are
    a few MB, so there is no GEMM to win here, only Chainer's per-group loop to avoid.
    """
    m, kh, kw = kernel.shape
    out_h, out_w = xp.shape[1] - kh + 1, xp.shape[2] - kw + 1
    y = np.zeros((m, out_h, out_w), xp.dtype)
    planes = max(CHUNK_BYTES // 4 // max(xp[0].nbytes, 1), 1)
    for m0 in range(0, m, planes):
        block, src = y[m0:m0 + planes], xp[m0:m0 + planes]
        tap = np.empty_like(block)
        for i in range(kh):
            for j in range(kw):
                np.multiply(src[:, i:i + out_h, j:j + out_w],
                            kernel[m0:m0 + planes, i, j, None, None], out=tap)
                block += tap
    return y


def depthwise_filter_grad(xp: np.ndarray, gy: np.ndarray, kh: int, kw: int) -> np.ndarray:
    """d(sum gy * depthwise(xp, K)) / dK: (M, kh, kw), one dot product per plane and tap."""
    out_h, out_w = gy.shape[1:]
    grad = np.empty((gy.shape[0], kh, kw), xp.dtype)
    for i in range(kh):
        for j in range(kw):
            grad[:, i, j] = np.einsum("mhw,mhw->m", xp[:, i:i + out_h, j:j + out_w], gy)
    return grad


def pad_planes(x: np.ndarray, pads: Pads) -> np.ndarray:
    """(M, H, W) planes zero-padded by non-negative `pads`."""
    (top, bottom), (left, right) = pads
    out = np.zeros((x.shape[0], x.shape[1] + top + bottom, x.shape[2] + left + right), x.dtype)
    out[:, top:top + x.shape[1], left:left + x.shape[2]] = x
    return out
