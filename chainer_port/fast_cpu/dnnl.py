"""The fast path's float32 convolutions (with their bias), softmax and layout copies on
oneDNN, the library TF's own CPU kernels run on.

Why: the im2col kernels (`kernels`) copy every pixel's kh * kw * C window before
each GEMM; oneDNN's direct convolutions ("brgconv") read the NHWC maps in place. Measured on
2 cores (AVX-512), the paper preset's 5x5, 64 -> 64 conv on 4 x 256 x 256: 0.18 s against
0.30 s for im2col + MKL. It is what Chainer itself used on CPUs through iDeep (ideep4py,
which has no build for Python 3.11).

The binding calls oneDNN's C API (v3) through ctypes: no compiler needed. The library comes
from the `onednn-cpu-gomp` wheel (x86-64 Linux, GNU OpenMP; `requirements-intel.txt`); where
it is not installed, where the environment variable TWINPORT_CONV is "im2col" (`config`, read
at every call), for float64, or for a problem oneDNN does not take (`None` from `conv`, ...),
callers fall back to the im2col kernels (`fast_cpu.conv`). Activations are contiguous NHWC (N,
H, W, C); weights HWIO (kh, kw, in, out) of any strides; `pads` ((top, bottom), (left, right)),
non-negative. The same functions take 3-D convolutions (E3D-LSTM's): NDHWC activations, DHWIO
weights, a pair of pads and a stride per spatial axis. Primitives are made once per problem
(`_primitive`), run on oneDNN's OpenMP threads (one per core), and give the same bits on every
run with the same thread count. The softmax (`softmax_rows`) and the layout copies
(`contiguous_copy`) are oneDNN's softmax and reorder primitives, for arrays large enough to
pay for waking its threads (`THREADS_PAY_FROM`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chainer_port.fast_cpu.config import im2col_forced, sleeping_openmp_threads
from chainer_port.fast_cpu.kernels import Pads, output_hw

_LIBRARY = "libdnnl.so.3"

# oneDNN v3 C API constants (oneapi/dnnl/dnnl_types.h, dnnl_common_types.h).
_F32, _FORMAT_ANY, _CPU, _IN_ORDER = 3, 1, 1, 1
_FORWARD_TRAINING, _BACKWARD_DATA, _BACKWARD_WEIGHTS = 64, 160, 192
_CONVOLUTION_DIRECT = 1
_ARG_SRC, _ARG_DST, _ARG_WEIGHTS, _ARG_BIAS = 1, 17, 33, 41
_ARG_DIFF_SRC, _ARG_DIFF_DST, _ARG_DIFF_WEIGHTS, _ARG_DIFF_BIAS = 129, 145, 161, 169
_QUERY_WEIGHTS_MD, _QUERY_DIFF_WEIGHTS_MD = 131, 132
_SOFTMAX_ACCURATE = 0x30000
_MAX_NDIMS = 12

_Dims = ctypes.c_int64 * _MAX_NDIMS
_Handle = ctypes.c_void_p


class _ExecArg(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_int), ("memory", _Handle)]


class DnnlError(RuntimeError):
    """A oneDNN call failed where it should not (after the problem was accepted)."""


def _check(status: int, call: str) -> None:
    if status != 0:
        raise DnnlError(f"oneDNN {call} failed with status {status}")


@dataclass(frozen=True)
class _Runtime:
    library: ctypes.CDLL
    engine: _Handle
    stream: _Handle


def _candidates() -> list[str]:
    """libdnnl in this environment's lib/ (where the wheel puts it), then the system's."""
    local = [str(path) for path in (Path(sys.prefix, "lib", _LIBRARY),) if path.exists()]
    system = ctypes.util.find_library("dnnl")
    return local + ([system] if system else [])


@functools.cache
def _runtime() -> _Runtime | None:
    """oneDNN with a CPU engine and an in-order stream, or None when not installed; its
    OpenMP threads sleep when idle (`config.sleeping_openmp_threads`)."""
    sleeping_openmp_threads()
    for path in _candidates():
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        library.dnnl_primitive_desc_query_md.restype = _Handle
        library.dnnl_primitive_desc_query_md.argtypes = [_Handle, ctypes.c_int, ctypes.c_int]
        library.dnnl_memory_desc_get_size.restype = ctypes.c_size_t
        library.dnnl_memory_desc_get_size.argtypes = [_Handle]
        engine, stream = _Handle(), _Handle()
        _check(library.dnnl_engine_create(ctypes.byref(engine), _CPU, ctypes.c_size_t(0)),
               "engine_create")
        _check(library.dnnl_stream_create(ctypes.byref(stream), engine, _IN_ORDER),
               "stream_create")
        return _Runtime(library, engine, stream)
    return None


def available() -> bool:
    """Whether `conv` and friends use oneDNN now: installed, and TWINPORT_CONV is not
    "im2col"."""
    return not im2col_forced() and _runtime() is not None


def _desc(dims: tuple[int, ...], strides: tuple[int, ...] | None) -> _Handle:
    """A float32 memory descriptor of logical `dims` with element `strides` (None: any
    layout, oneDNN's choice)."""
    library = _runtime().library
    md = _Handle()
    if strides is None:
        status = library.dnnl_memory_desc_create_with_tag(
            ctypes.byref(md), len(dims), _Dims(*dims), _F32, _FORMAT_ANY)
    else:
        status = library.dnnl_memory_desc_create_with_strides(
            ctypes.byref(md), len(dims), _Dims(*dims), _F32, _Dims(*strides))
    _check(status, "memory_desc_create")
    return md


def _nhwc_desc(shape: tuple[int, ...]) -> _Handle:
    """Contiguous channels-last memory (N, *spatial, C) as oneDNN's logical (N, C, *spatial)."""
    n, *spatial, c = shape
    steps = [c]
    for size in reversed(spatial[1:]):
        steps.insert(0, steps[0] * size)
    return _desc((n, c, *spatial), (steps[0] * spatial[0], 1, *steps))


def _hwio_desc(shape: tuple[int, ...], strides: tuple[int, ...]) -> _Handle:
    """(*kernel, I, O) weights (element `strides`) as oneDNN's logical (O, I, *kernel)."""
    *kernel, i, o = shape
    return _desc((o, i, *kernel), (strides[-1], strides[-2], *strides[:-2]))


def _primitive_of(pd: _Handle) -> _Handle:
    primitive = _Handle()
    _check(_runtime().library.dnnl_primitive_create(ctypes.byref(primitive), pd),
           "primitive_create")
    return primitive


def _reorder(source: _Handle, target: _Handle) -> _Handle:
    runtime = _runtime()
    pd = _Handle()
    _check(runtime.library.dnnl_reorder_primitive_desc_create(
        ctypes.byref(pd), source, runtime.engine, target, runtime.engine, None),
        "reorder_primitive_desc_create")
    return _primitive_of(pd)


Strides = int | tuple[int, ...]
"""One stride for every spatial axis, or one per axis."""


@dataclass(frozen=True)
class _Problem:
    """One convolution: `kind`, channels-last shapes of x and y, (*kernel, I, O) shape and
    element strides of the user's weights, a stride and a pair of pads per spatial axis, and
    whether it adds a bias (forward) or gives the bias's gradient (backward weights)."""
    kind: int
    x_shape: tuple[int, ...]
    y_shape: tuple[int, ...]
    w_shape: tuple[int, ...]
    w_strides: tuple[int, ...]
    stride: tuple[int, ...]
    pads: tuple[tuple[int, int], ...]
    bias: bool = False


@dataclass(frozen=True)
class _Primitive:
    """A convolution primitive with the descriptors of its NHWC x and y, of its weights'
    layout and of the user's HWIO weights, and the reorder between the two (into the
    primitive's for forward and backward data, out of it for backward weights)."""
    convolution: _Handle
    x_desc: _Handle
    y_desc: _Handle
    weights_desc: _Handle
    weights_floats: int
    user_desc: _Handle
    reorder: _Handle
    bias_desc: _Handle | None


@functools.lru_cache(maxsize=512)
def _primitive(problem: _Problem) -> _Primitive | None:
    """The oneDNN primitive for `problem`, or None when oneDNN does not take it."""
    runtime = _runtime()
    library = runtime.library
    x, y = _nhwc_desc(problem.x_shape), _nhwc_desc(problem.y_shape)
    *kernel, i, o = problem.w_shape
    weights_any = _desc((o, i, *kernel), None)
    user_weights = _hwio_desc(problem.w_shape, problem.w_strides)
    bias = _desc((o,), (1,)) if problem.bias else None
    geometry = (_Dims(*problem.stride), _Dims(*(0 for _ in kernel)),
                _Dims(*(before for before, _ in problem.pads)),
                _Dims(*(after for _, after in problem.pads)))
    forward = _Handle()
    status = library.dnnl_convolution_forward_primitive_desc_create(
        ctypes.byref(forward), runtime.engine, _FORWARD_TRAINING, _CONVOLUTION_DIRECT, x,
        weights_any, bias, y, *geometry, None)
    if status != 0:
        return None
    pd, query = forward, _QUERY_WEIGHTS_MD
    if problem.kind == _BACKWARD_DATA:
        pd = _Handle()
        status = library.dnnl_convolution_backward_data_primitive_desc_create(
            ctypes.byref(pd), runtime.engine, _CONVOLUTION_DIRECT, x, weights_any, y,
            *geometry, forward, None)
    elif problem.kind == _BACKWARD_WEIGHTS:
        pd, query = _Handle(), _QUERY_DIFF_WEIGHTS_MD
        status = library.dnnl_convolution_backward_weights_primitive_desc_create(
            ctypes.byref(pd), runtime.engine, _CONVOLUTION_DIRECT, x, weights_any, bias, y,
            *geometry, forward, None)
    if status != 0:
        return None
    weights = _Handle(library.dnnl_primitive_desc_query_md(pd, query, 0))
    reorder = (_reorder(weights, user_weights) if problem.kind == _BACKWARD_WEIGHTS
               else _reorder(user_weights, weights))
    floats = library.dnnl_memory_desc_get_size(weights) // 4
    return _Primitive(_primitive_of(pd), x, y, weights, floats, user_weights, reorder, bias)


def _execute(primitive: _Handle, args: list[tuple[int, _Handle, np.ndarray]]) -> None:
    """Run `primitive` on (argument, descriptor, array) triples, then wait for it."""
    library = _runtime().library
    engine = _runtime().engine
    memories = []
    try:
        for _, desc, array in args:
            memory = _Handle()
            _check(library.dnnl_memory_create(ctypes.byref(memory), desc, engine,
                                              _Handle(array.ctypes.data)), "memory_create")
            memories.append(memory)
        exec_args = (_ExecArg * len(args))(*(_ExecArg(arg, memory) for (arg, _, _), memory
                                             in zip(args, memories, strict=True)))
        _check(library.dnnl_primitive_execute(primitive, _runtime().stream, len(args),
                                              exec_args), "primitive_execute")
        _check(library.dnnl_stream_wait(_runtime().stream), "stream_wait")
    finally:
        for memory in memories:
            library.dnnl_memory_destroy(memory)


def _problem(kind: int, x_shape: tuple[int, ...], y_shape: tuple[int, ...], hwio: np.ndarray,
             stride: Strides, pads: Pads, *arrays: np.ndarray, bias: bool = False
             ) -> _Primitive | None:
    """The primitive of a problem oneDNN takes: installed and switched on, float32 `arrays`,
    non-negative pads, weights of non-negative strides (a flipped view has negative ones, which
    oneDNN's memory descriptors refuse), y of the size the convolution gives; else None."""
    strides = _per_axis(stride, len(x_shape) - 2)
    if not (available() and all(array.dtype == np.float32 for array in arrays)
            and min(min(pair) for pair in pads) >= 0 and min(_strides(hwio)) >= 0
            and output_hw(x_shape[1:-1], hwio.shape[:-2], strides, pads)
            == tuple(y_shape[1:-1])):
        return None
    return _primitive(_Problem(kind, tuple(x_shape), tuple(y_shape), hwio.shape,
                               _strides(hwio), strides, tuple(map(tuple, pads)), bias))


def _per_axis(stride: Strides, axes: int) -> tuple[int, ...]:
    return tuple(stride) if isinstance(stride, tuple) else (stride,) * axes


def _strides(array: np.ndarray) -> tuple[int, ...]:
    return tuple(step // array.itemsize for step in array.strides)


def _data_pass(kind: int, x_shape: tuple[int, ...], y_shape: tuple[int, ...],
               hwio: np.ndarray, stride: Strides, pads: Pads, given: np.ndarray,
               bias: np.ndarray | None = None) -> np.ndarray | None:
    """The forward (`given` x, returns y, plus `bias` when given) or the backward data pass
    (`given` gy, returns gx), the user's weights reordered into the primitive's layout first;
    None when oneDNN does not take the problem."""
    arrays = (given, hwio) if bias is None else (given, hwio, bias)
    primitive = _problem(kind, x_shape, y_shape, hwio, stride, pads, *arrays,
                         bias=bias is not None)
    if primitive is None:
        return None
    x_side = (primitive.x_desc, x_shape)
    y_side = (primitive.y_desc, y_shape)
    (given_desc, _), (out_desc, out_shape) = ((x_side, y_side) if kind == _FORWARD_TRAINING
                                              else (y_side, x_side))
    given_arg, out_arg = ((_ARG_SRC, _ARG_DST) if kind == _FORWARD_TRAINING
                          else (_ARG_DIFF_DST, _ARG_DIFF_SRC))
    weights = np.empty(primitive.weights_floats, np.float32)
    _execute(primitive.reorder, [(_ARG_SRC, primitive.user_desc, hwio),
                                 (_ARG_DST, primitive.weights_desc, weights)])
    out = np.empty(out_shape, np.float32)
    added = [] if bias is None else [(_ARG_BIAS, primitive.bias_desc,
                                      np.ascontiguousarray(bias))]
    _execute(primitive.convolution, [(given_arg, given_desc, np.ascontiguousarray(given)),
                                     (_ARG_WEIGHTS, primitive.weights_desc, weights),
                                     (out_arg, out_desc, out), *added])
    return out


THREADS_PAY_FROM = 1 << 15
"""Elements from which an elementwise primitive (a layout copy, a softmax) goes to oneDNN:
below, NumPy on one core (a few microseconds) costs less than waking oneDNN's threads (about
0.05 ms on 2 cores)."""


@functools.lru_cache(maxsize=256)
def _layout_reorder(shape: tuple[int, ...], strides: tuple[int, ...]
                    ) -> tuple[_Handle, _Handle, _Handle]:
    """Source and target descriptors of channels-last `shape` with element `strides` and its
    contiguous copy, and the reorder between them."""
    axes = (0, len(shape) - 1, *range(1, len(shape) - 1))
    source = _desc(tuple(shape[axis] for axis in axes), tuple(strides[axis] for axis in axes))
    target = _nhwc_desc(shape)
    return source, target, _reorder(source, target)


def contiguous_copy(x: np.ndarray) -> np.ndarray | None:
    """A C-contiguous copy of float32 `x` (channels-last shaped, N, *spatial, C, of any
    non-negative strides: typically a transposed view of NCHW memory) by oneDNN's reorder, on
    all cores; None when oneDNN is off or does not take it."""
    if not (available() and x.dtype == np.float32 and x.ndim >= 3 and min(_strides(x)) >= 0):
        return None
    source, target, reorder = _layout_reorder(x.shape, _strides(x))
    out = np.empty(x.shape, np.float32)
    _execute(reorder, [(_ARG_SRC, source, x), (_ARG_DST, target, out)])
    return out


@functools.lru_cache(maxsize=256)
def _softmax_primitives(shape: tuple[int, int]) -> tuple[_Handle, _Handle, _Handle]:
    """The descriptor of contiguous (rows, length) memory, and the primitives of the softmax
    over its last axis and of that softmax's backward."""
    runtime = _runtime()
    library = runtime.library
    rows = _desc(shape, (shape[1], 1))
    forward, backward = _Handle(), _Handle()
    _check(library.dnnl_softmax_forward_primitive_desc_create(
        ctypes.byref(forward), runtime.engine, _FORWARD_TRAINING, _SOFTMAX_ACCURATE, rows, rows,
        1, None), "softmax_forward_primitive_desc_create")
    _check(library.dnnl_softmax_backward_primitive_desc_create(
        ctypes.byref(backward), runtime.engine, _SOFTMAX_ACCURATE, rows, rows, rows, 1,
        forward, None), "softmax_backward_primitive_desc_create")
    return rows, _primitive_of(forward), _primitive_of(backward)


def _softmax_takes(*arrays: np.ndarray) -> bool:
    return (available() and arrays[0].size >= THREADS_PAY_FROM
            and all(array.dtype == np.float32 for array in arrays))


def softmax_rows(x: np.ndarray) -> np.ndarray | None:
    """softmax over the last axis of contiguous float32 (rows, length) `x` (exp(x - max) / sum,
    the arithmetic TF's own CPU softmax runs on oneDNN); None when oneDNN is off, for float64
    and for arrays too small to pay for the threads (`THREADS_PAY_FROM`)."""
    if not _softmax_takes(x):
        return None
    rows, forward, _ = _softmax_primitives(x.shape)
    y = np.empty_like(x)
    _execute(forward, [(_ARG_SRC, rows, x), (_ARG_DST, rows, y)])
    return y


def softmax_rows_grad(y: np.ndarray, gy: np.ndarray) -> np.ndarray | None:
    """The gradient of `softmax_rows` given its output y, (gy - sum(gy * y)) * y; None where
    `softmax_rows` is."""
    if not _softmax_takes(y, gy):
        return None
    rows, _, backward = _softmax_primitives(y.shape)
    gx = np.empty_like(y)
    _execute(backward, [(_ARG_DST, rows, y), (_ARG_DIFF_DST, rows, gy),
                        (_ARG_DIFF_SRC, rows, gx)])
    return gx


def conv(x: np.ndarray, hwio: np.ndarray, stride: Strides, pads: Pads,
         bias: np.ndarray | None = None) -> np.ndarray | None:
    """y = conv(pad(x, pads), hwio, stride) (+ bias, per output channel), NHWC (or NDHWC);
    None when oneDNN cannot do it."""
    y_shape = (x.shape[0], *output_hw(x.shape[1:-1], hwio.shape[:-2], stride, pads),
               hwio.shape[-1])
    return _data_pass(_FORWARD_TRAINING, x.shape, y_shape, hwio, stride, pads, x, bias)


def conv_transpose(gy: np.ndarray, hwio: np.ndarray, stride: Strides, pads: Pads,
                   in_hw: tuple[int, ...]) -> np.ndarray | None:
    """The adjoint of `conv` w.r.t. x applied to NHWC `gy`: (N, *in_hw, C); None when oneDNN
    cannot do it."""
    x_shape = (gy.shape[0], *in_hw, hwio.shape[-2])
    return _data_pass(_BACKWARD_DATA, x_shape, gy.shape, hwio, stride, pads, gy)


def conv_filter_grad(x: np.ndarray, gy: np.ndarray, kernel: tuple[int, ...], stride: Strides,
                     pads: Pads, bias: bool = False
                     ) -> tuple[np.ndarray, np.ndarray | None] | None:
    """d(sum gy * conv(pad(x, pads), W)) / dW, (*kernel, I, O) (a view of (O, I, *kernel)
    memory, the layout of Chainer's weights), and with `bias` the bias's gradient (the sum of
    gy per channel) from the same pass, else None; None when oneDNN cannot do it."""
    axes = len(kernel)
    grad = np.empty((gy.shape[-1], x.shape[-1], *kernel), np.float32).transpose(
        *range(2, 2 + axes), 1, 0)
    primitive = _problem(_BACKWARD_WEIGHTS, x.shape, gy.shape, grad, stride, pads, x, gy,
                         bias=bias)
    if primitive is None:
        return None
    x, gy = np.ascontiguousarray(x), np.ascontiguousarray(gy)
    weights = np.empty(primitive.weights_floats, np.float32)
    g_bias = np.empty(gy.shape[-1], np.float32) if bias else None
    added = [] if g_bias is None else [(_ARG_DIFF_BIAS, primitive.bias_desc, g_bias)]
    _execute(primitive.convolution, [(_ARG_SRC, primitive.x_desc, x),
                                     (_ARG_DIFF_DST, primitive.y_desc, gy),
                                     (_ARG_DIFF_WEIGHTS, primitive.weights_desc, weights),
                                     *added])
    _execute(primitive.reorder, [(_ARG_SRC, primitive.weights_desc, weights),
                                 (_ARG_DST, primitive.user_desc, grad)])
    return grad, g_bias

