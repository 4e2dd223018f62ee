"""The CPU fast path (`chainer_port.fast_cpu`) against Chainer's own functions.

Values and gradients on the shapes the model uses (odd / even kernels, TF's asymmetric SAME
pads, VALID, 1x1, stride 1/2/4/8 deconvs, B * C depthwise groups), `check_backward` in float64
on small shapes, and the dispatch: NumPy inputs go through the fast nodes unless
TWINPORT_FAST_CPU=0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import chainer
import chainer.functions as F
import numpy as np
import pytest
from chainer import gradient_check

from chainer_port import fast_cpu
from chainer_port.fast_cpu import config, dnnl, kernels, nodes, norm, pool
from chainer_port.tf_compat import (
    batched_cross_conv,
    conv2d_transpose_same,
    tf_batch_norm_inference,
    tf_batch_norm_training,
    tf_conv2d,
    tf_max_pool,
    tf_moments,
)

TOL32 = dict(rtol=1e-4, atol=1e-4)


def _normal(shape: tuple[int, ...], seed: int, dtype=np.float32) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _grads(fn, x: np.ndarray, w: np.ndarray, gy_seed: int = 9):
    """fn(x, w) and its gradients for a random output gradient, as NumPy arrays."""
    xv, wv = chainer.Variable(x.copy()), chainer.Variable(w.copy())
    y = fn(xv, wv)
    y.grad = _normal(y.shape, gy_seed, y.dtype)
    y.backward()
    return y.array, xv.grad, wv.grad


def _assert_same(fast, stock):
    for got, want in zip(fast, stock, strict=True):
        scale = max(np.abs(want).max(), 1.0)
        np.testing.assert_allclose(got / scale, want / scale, **TOL32)


def _stock_conv(pads, stride):
    (top, bottom), (left, right) = pads

    def run(x, w):
        x = F.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), "constant")
        return F.convolution_2d(x, w, stride=stride)
    return run


@pytest.mark.parametrize("n, c, size, out, k, pads, stride", [
    (2, 6, 17, 8, 5, ((0, 0), (0, 0)), 1),       # VALID, odd kernel
    (2, 5, 12, 7, 4, ((1, 2), (1, 2)), 1),       # SAME even kernel: asymmetric
    (2, 4, 10, 6, 5, ((2, 2), (2, 2)), 1),       # SAME odd kernel
    (3, 8, 9, 4, 9, ((4, 4), (4, 4)), 1),        # the decoder's 9x9 on a small map
    (2, 16, 7, 3, 1, ((0, 0), (0, 0)), 1),       # 1x1: a plain GEMM
    (2, 3, 11, 5, 3, ((0, 1), (1, 1)), 2),       # stride 2, asymmetric
    (2, 3, 5, 4, 3, ((1, 1), (1, 1)), 1),        # kernel_decoder-like 5x5 map
    (4, 3, 64, 16, 5, ((2, 2), (2, 2)), 1),      # a map larger than one column block
])
def test_conv2d_matches_chainer(n, c, size, out, k, pads, stride):
    x, w = _normal((n, c, size, size), 1), _normal((out, c, k, k), 2)
    fast = _grads(lambda x, w: fast_cpu.conv2d(x, w, pads, stride), x, w)
    _assert_same(fast, _grads(_stock_conv(pads, stride), x, w))


@pytest.mark.parametrize("n, c_in, c_out, size, k, stride", [
    (2, 4, 6, 8, 3, 1), (2, 4, 6, 8, 3, 2), (2, 3, 5, 4, 3, 4), (2, 3, 5, 2, 3, 8),
    (2, 3, 4, 5, 4, 2), (2, 3, 4, 6, 5, 1), (2, 3, 4, 5, 5, 2),
])
def test_conv2d_transpose_matches_chainer(n, c_in, c_out, size, k, stride):
    x, w = _normal((n, c_in, size, size), 3), _normal((c_in, c_out, k, k), 4)
    out = size * stride
    pad = max((size - 1) * stride + k - out, 0) // 2
    fast = _grads(lambda x, w: fast_cpu.conv2d_transpose(x, w, stride, pad, out), x, w)
    stock = _grads(lambda x, w: F.deconvolution_2d(x, w, stride=stride, pad=pad,
                                                   outsize=(out, out)), x, w)
    _assert_same(fast, stock)


@pytest.mark.parametrize("batch, channels, size, k, pads", [
    (4, 3, 8, 5, ((2, 2), (2, 2))), (2, 5, 7, 4, ((1, 2), (1, 2))), (3, 2, 6, 3, ((1, 1), (1, 1))),
    (2, 4, 16, 5, ((2, 2), (2, 2))),
])
def test_depthwise_matches_grouped_convolution(batch, channels, size, k, pads):
    x, w = _normal((batch, channels, size, size), 5), _normal((batch, channels, k, k), 6)
    (top, bottom), (left, right) = pads
    groups = batch * channels

    def stock(x, w):
        planes = F.reshape(x, (1, groups, size, size))
        planes = F.pad(planes, ((0, 0), (0, 0), (top, bottom), (left, right)), "constant")
        y = F.convolution_2d(planes, F.reshape(w, (groups, 1, k, k)), groups=groups)
        return F.reshape(y, x.shape)

    fast = _grads(lambda x, w: fast_cpu.depthwise_conv2d(x, w, pads), x, w)
    _assert_same(fast, _grads(stock, x, w))


@pytest.mark.parametrize("op, x_shape, w_shape", [
    (lambda x, w: fast_cpu.conv2d(x, w, ((1, 2), (0, 1)), 1), (2, 3, 6, 5), (4, 3, 4, 4)),
    (lambda x, w: fast_cpu.conv2d(x, w, ((1, 1), (1, 0)), 2), (1, 2, 7, 6), (3, 2, 3, 3)),
    (lambda x, w: fast_cpu.conv2d_transpose(x, w, 2, 0, 8), (2, 3, 4, 4), (3, 2, 3, 3)),
    (lambda x, w: fast_cpu.conv2d_transpose(x, w, 1, 1, 5), (1, 2, 5, 5), (2, 3, 3, 3)),
    (lambda x, w: fast_cpu.depthwise_conv2d(x, w, ((1, 2), (1, 2))), (2, 3, 5, 5), (2, 3, 4, 4)),
])
def test_check_backward_float64(op, x_shape, w_shape):
    x, w = _normal(x_shape, 7, np.float64), _normal(w_shape, 8, np.float64)
    gy = _normal(op(x, w).shape, 10, np.float64)
    gradient_check.check_backward(op, (x, w), gy, dtype=np.float64, atol=1e-6, rtol=1e-5)


def _shim_outputs():
    """Each tf_compat shim on small NumPy inputs: (name, output Variable)."""
    x, w = chainer.Variable(_normal((2, 3, 8, 8), 11)), chainer.Variable(_normal((4, 3, 5, 5), 12))
    deconv_w = chainer.Variable(_normal((3, 4, 3, 3), 13))
    kernel = chainer.Variable(_normal((2, 3, 5, 5), 14))
    return [("conv", tf_conv2d(x, w, "SAME")),
            ("deconv", conv2d_transpose_same(x, deconv_w, 2, 16)),
            ("cross", batched_cross_conv(x, kernel)),
            ("pool", tf_max_pool(x, 5, 2, "SAME"))]


def test_shims_use_the_fast_nodes_for_numpy(monkeypatch):
    monkeypatch.delenv(config.ENV_FAST_CPU, raising=False)
    expected = {"conv": nodes.Conv2D, "deconv": nodes.Conv2DTranspose,
                "cross": nodes.DepthwiseConv2D, "pool": nodes.MaxPool2D}
    for name, y in _shim_outputs():
        assert isinstance(y.creator, expected[name]), name


def _graph_modules(y: chainer.Variable) -> set[str]:
    """The modules of every function node in the graph that produced y."""
    modules, stack = set(), [y.creator_node]
    while stack:
        node = stack.pop()
        if node is not None:
            modules.add(type(node).__module__)
            stack.extend(variable.creator_node for variable in node.inputs)
    return modules


def test_switch_turns_the_fast_path_off(monkeypatch):
    monkeypatch.setenv(config.ENV_FAST_CPU, "0")
    assert not config.fast_path_enabled()
    for name, y in _shim_outputs():
        modules = _graph_modules(y)
        assert nodes.__name__ not in modules, name
        assert any(module.startswith(("chainer.functions.connection",
                                      "chainer.functions.pooling")) for module in modules), name


def test_shims_agree_on_and_off(monkeypatch):
    on = [y.array for _, y in _shim_outputs()]
    monkeypatch.setenv(config.ENV_FAST_CPU, "0")
    for (name, y), fast in zip(_shim_outputs(), on, strict=True):
        np.testing.assert_allclose(fast, y.array, **TOL32, err_msg=name)


def test_only_numpy_float_arrays_apply(monkeypatch):
    monkeypatch.delenv(config.ENV_FAST_CPU, raising=False)
    x32, x64 = np.zeros((1, 1, 2, 2), np.float32), np.zeros((1, 1, 2, 2), np.float64)
    assert fast_cpu.applies(x32, chainer.Variable(x32))
    assert not fast_cpu.applies(x32, x64)
    assert not fast_cpu.applies(x32.astype(np.float16))
    assert not fast_cpu.applies(x32.tolist())


def test_double_backprop_raises():
    x = chainer.Variable(_normal((1, 2, 5, 5), 15))
    w = chainer.Variable(_normal((3, 2, 3, 3), 16))
    y = fast_cpu.conv2d(x, w, ((1, 1), (1, 1)))
    gx, = chainer.grad([F.sum(y * y)], [x], enable_double_backprop=True)
    with pytest.raises(NotImplementedError, match="double backprop"):
        chainer.grad([F.sum(gx)], [w])


def test_bench_help(cli, capsys):
    with pytest.raises(SystemExit) as stop:
        cli("bench", "--help")
    assert stop.value.code == 0
    assert "--preset" in capsys.readouterr().out


def test_bench_gemm_help(cli, capsys):
    with pytest.raises(SystemExit) as stop:
        cli("bench", "gemm", "--help")
    assert stop.value.code == 0
    assert "--min-gflop" in capsys.readouterr().out


@pytest.mark.parametrize("size, kernel, stride, pads, ties", [
    (21, 2, 2, ((0, 0), (0, 0)), False),    # VALID floors 21 -> 10
    (16, 5, 2, ((1, 2), (1, 2)), False),    # SAME 5x5 stride 2: asymmetric -inf pads
    (8, 2, 2, ((0, 0), (0, 0)), True),      # ReLU zeros: ties go to the first maximum
    (9, 5, 2, ((2, 2), (2, 2)), True),
])
def test_max_pool_matches_chainer(size, kernel, stride, pads, ties):
    x = _normal((2, 3, size, size), 17)
    if ties:
        x = np.maximum(np.round(x), 0)
    (top, bottom), (left, right) = pads

    def stock(x, _):
        x = F.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), "constant",
                  constant_values=-np.inf)
        return F.max_pooling_2d(x, kernel, stride, cover_all=False)

    (y, gx), (y_stock, gx_stock) = (_grads(fn, x, x)[:2] for fn in (
        lambda x, _: fast_cpu.max_pool2d(x, kernel, stride, pads), stock))
    np.testing.assert_array_equal(y, y_stock)
    with chainer.no_backprop_mode():  # no arg maxes kept
        np.testing.assert_array_equal(fast_cpu.max_pool2d(x, kernel, stride, pads).array, y)
    # Same arg maxes; overlapping windows sum in another order (1 ulp).
    np.testing.assert_allclose(gx, gx_stock, rtol=1e-6, atol=1e-6)


def test_max_pool_check_backward_float64():
    x = np.random.default_rng(18).permutation(2 * 3 * 7 * 7).reshape(2, 3, 7, 7) / 10.0
    gy = _normal((2, 3, 4, 4), 19, np.float64)
    gradient_check.check_backward(lambda x: fast_cpu.max_pool2d(x, 3, 2, ((1, 1), (1, 1))),
                                  x, gy, dtype=np.float64, eps=1e-3, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("op, w_shape", [
    (lambda x, w: fast_cpu.conv2d(x, w, ((2, 2), (2, 2))), (5, 4, 5, 5)),
    (lambda x, w: fast_cpu.conv2d_transpose(x, w, 2, 0, 16), (4, 3, 3, 3)),
    (lambda x, w: fast_cpu.depthwise_conv2d(x, w, ((1, 2), (1, 2))), (2, 4, 4, 4)),
    (lambda x, _: fast_cpu.max_pool2d(x, 5, 2, ((1, 2), (1, 2))), (1,)),
])
def test_nhwc_memory_gives_the_same_results(op, w_shape):
    """The nodes hand NCHW-shaped views of NHWC memory to Chainer and get them back."""
    x, w = _normal((2, 4, 8, 8), 20), _normal(w_shape, 21)
    nhwc_memory = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    results = []
    for value in (x, nhwc_memory):
        xv, wv = chainer.Variable(value), chainer.Variable(w)
        y = op(xv, wv)
        gy = _normal(y.shape, 22)
        y.grad = np.ascontiguousarray(gy.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2) \
            if value is x else gy
        y.backward()
        results.append((y.array, xv.grad, wv.grad))
    for got, want in zip(*results, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("nhwc_memory", [False, True])
def test_batch_norm_matches_the_float64_chainer_path(monkeypatch, nhwc_memory, relu):
    """The fused ReLU too: the stock path is F.relu after Chainer's BatchNorm."""
    x = _normal((3, 5, 6, 7), 23) * 3 + 1
    if nhwc_memory:
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    beta = _normal((5,), 24)

    mean, var = np.abs(_normal((2, 5), 29))

    def run():
        results = [*tf_moments(x)]
        for training in (True, False):
            xv, bv = chainer.Variable(x.copy()), chainer.Variable(beta.copy())
            y = (tf_batch_norm_training(xv, bv, 1e-3, relu) if training
                 else tf_batch_norm_inference(xv, bv, mean, var, 1e-3, relu))
            y.grad = _normal(y.shape, 25)
            y.backward()
            results += [y.array, xv.grad, bv.grad]
        return results

    fast = run()
    if relu:
        assert (fast[2] == 0).any() and (fast[2] > 0).any()  # the ReLU cuts some, not all
    assert isinstance(tf_batch_norm_training(x, beta, 1e-3).creator,
                      nodes.BatchNormTraining)
    assert isinstance(tf_batch_norm_inference(x, beta, mean, var, 1e-3).creator,
                      nodes.FixedBatchNorm)
    monkeypatch.setenv(config.ENV_FAST_CPU, "0")
    for got, want in zip(fast, run(), strict=True):
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("relu", [False, True])
def test_batch_norm_check_backward_float64(relu):
    x, beta = _normal((2, 3, 4, 5), 26, np.float64), _normal((3,), 27, np.float64)
    gy = _normal(x.shape, 28, np.float64)
    gradient_check.check_backward(lambda x, b: fast_cpu.batch_norm_training(x, b, 1e-3, relu),
                                  (x, beta), gy, dtype=np.float64, atol=1e-6, rtol=1e-5,
                                  eps=1e-6)


def test_blocking_does_not_change_results(monkeypatch):
    """Tiny blocks: convolution row bands, pooling bands sharing input rows, BatchNorm blocks."""
    x, w = _normal((2, 4, 12, 12), 30), _normal((3, 4, 5, 5), 31)
    beta = _normal((3,), 32)

    def run():
        xv, wv, bv = (chainer.Variable(a.copy()) for a in (x, w, beta))
        y = fast_cpu.conv2d(xv, wv, ((2, 2), (2, 2)))
        y = fast_cpu.max_pool2d(fast_cpu.batch_norm_training(y, bv, 1e-3), 5, 2,
                                ((1, 2), (1, 2)))
        y.grad = _normal(y.shape, 33)
        y.backward()
        return y.array, xv.grad, wv.grad, bv.grad

    default = run()
    monkeypatch.setattr(kernels, "CHUNK_BYTES", 64)
    monkeypatch.setattr(kernels, "MIN_PIXELS", 1)
    monkeypatch.setattr(kernels, "MIN_GRAD_PIXELS", 1)
    monkeypatch.setattr(pool, "BLOCK_BYTES", 64)
    monkeypatch.setattr(norm, "BLOCK_BYTES", 64)
    for got, want in zip(run(), default, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.skipif("openblas" not in str(np.__config__.CONFIG.get("Build Dependencies", {})
                                          .get("blas", {}).get("name", "")),
                    reason="NumPy's BLAS is not OpenBLAS")
def test_numpy_openblas_is_found_whatever_its_symbol_prefix():
    """NumPy 2's scipy-openblas prefixes its symbols: the kernels must still be read and the
    thread count set (else the fast path's GEMMs oversubscribe the cores)."""
    from chainer_port.fast_cpu import blas

    assert blas.openblas_core()
    assert blas.can_set_threads()
    get = blas._function(*blas._names("get_num_threads"))
    with blas.single_threaded():
        assert get() == 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_cross_entropy_is_chainers(dtype):
    """Values and gradients against `F.softmax_cross_entropy`, classes on axis 1."""
    rng = np.random.default_rng(0)
    logits = (rng.standard_normal((3, 256, 2, 5, 7)) * 4).astype(dtype)
    labels = rng.integers(0, 256, (3, 2, 5, 7)).astype(np.int32)
    x_fast, x_stock = chainer.Variable(logits.copy()), chainer.Variable(logits.copy())
    fast = fast_cpu.softmax_cross_entropy(x_fast, labels)
    stock = F.softmax_cross_entropy(x_stock, labels)
    assert fast.dtype == stock.dtype and fast.shape == stock.shape == ()
    np.testing.assert_allclose(fast.array, stock.array, rtol=1e-6 if dtype == np.float32
                               else 1e-12)
    (fast * 3).backward()
    (stock * 3).backward()
    # float32: Chainer's log-softmax rounds in float32, the fast path's in float64
    np.testing.assert_allclose(x_fast.grad, x_stock.grad,
                               rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-15)


def test_softmax_cross_entropy_backward_numerically():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((2, 5, 3, 4))
    labels = rng.integers(0, 5, (2, 3, 4)).astype(np.int32)
    gradient_check.check_backward(lambda x: fast_cpu.softmax_cross_entropy(x, labels),
                                  logits, rng.standard_normal(()), dtype=np.float64)


def test_the_shim_takes_the_fast_path_only_where_it_applies(monkeypatch):
    from chainer_port.tf_compat import tf_softmax_cross_entropy

    def fast(labels: np.ndarray) -> bool:
        logits = chainer.Variable(np.zeros((1, 3, 2), np.float32))
        return isinstance(tf_softmax_cross_entropy(logits, labels).creator,
                          nodes.SoftmaxCrossEntropy)

    labels = np.array([[0, 2]], np.int32)
    assert fast(labels)
    assert not fast(np.array([[0, -1]], np.int32))  # Chainer's ignore_label: its own function
    monkeypatch.setenv(config.ENV_FAST_CPU, "0")
    assert not fast(labels)


def test_onednns_openmp_threads_sleep_unless_told_otherwise():
    """libgomp reads OMP_WAIT_POLICY once, when oneDNN loads: the fast path sets PASSIVE
    before that, and leaves a value the environment gives."""
    import os
    import subprocess
    import sys

    script = ("import os; from chainer_port.fast_cpu import dnnl; dnnl.available(); "
              "print(os.environ['OMP_WAIT_POLICY'])")
    env = {k: v for k, v in os.environ.items() if k != config.ENV_OMP_WAIT}
    for given, expected in ((None, "PASSIVE"), ("ACTIVE", "ACTIVE")):
        run_env = env if given is None else {**env, config.ENV_OMP_WAIT: given}
        done = subprocess.run([sys.executable, "-c", script], env=run_env, text=True,
                              capture_output=True, check=True)
        assert done.stdout.strip() == expected


def test_the_fast_path_puts_numpys_blas_on_one_thread_unless_told_otherwise():
    """Its first use sets NumPy's OpenBLAS to one thread (idle OpenBLAS workers spin beside
    oneDNN's); OPENBLAS_NUM_THREADS keeps the user's count; the stock path changes nothing."""
    import os
    import subprocess
    import sys

    from chainer_port.fast_cpu import blas

    if not blas.can_set_threads():
        pytest.skip("NumPy's BLAS thread count cannot be read here")
    script = ("from chainer_port import tf_compat; import chainer, numpy as np; "
              "from chainer_port.fast_cpu import blas; "
              "tf_compat.tf_softmax_cross_entropy(chainer.Variable(np.zeros((1, 3, 2), "
              "np.float32)), np.zeros((1, 2), np.int32)); "
              "print(blas._function(*blas._names('get_num_threads'))())")
    env = {k: v for k, v in os.environ.items()
           if k not in (config.ENV_OPENBLAS_THREADS, "OMP_NUM_THREADS")}
    cores = len(os.sched_getaffinity(0))
    for given, expected in (({}, 1), ({config.ENV_OPENBLAS_THREADS: "2"}, 2),
                            ({config.ENV_FAST_CPU: "0"}, cores)):
        done = subprocess.run([sys.executable, "-c", script], env={**env, **given}, text=True,
                              capture_output=True, check=True)
        assert int(done.stdout.strip().splitlines()[-1]) == expected, given


def _softmax_against_chainers(dtype: type, compare: Callable[[np.ndarray, np.ndarray], None]
                              ) -> None:
    """The fast softmax's values and gradients against F.softmax's, by `compare` (rows longer
    than a block, and blocks of many rows)."""
    rng = np.random.default_rng(2)
    for shape in ((3, 5, 70_000), (4, 300, 257)):
        x = (rng.standard_normal(shape) * 5).astype(dtype)
        gy = rng.standard_normal(shape).astype(dtype)
        x_fast, x_stock = chainer.Variable(x.copy()), chainer.Variable(x.copy())
        fast, stock = fast_cpu.last_axis_softmax(x_fast), F.softmax(x_stock, axis=2)
        compare(fast.array, stock.array)
        fast.grad, stock.grad = gy.copy(), gy.copy()
        fast.backward()
        stock.backward()
        compare(x_fast.grad, x_stock.grad)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_over_the_last_axis_without_onednn_is_chainers_bit_for_bit(dtype, monkeypatch):
    """Chainer's arithmetic on blocks of rows (float64, or oneDNN off): the same values and
    gradients, bit for bit."""
    monkeypatch.setenv(config.ENV_CONV, "im2col")
    _softmax_against_chainers(dtype, np.testing.assert_array_equal)


@pytest.mark.skipif(not dnnl.available(), reason="oneDNN is not installed")
def test_float32_softmax_on_onednn_is_chainers_within_rounding():
    """oneDNN's softmax (float32, large enough to pay for its threads): the values and gradients
    within float32 rounding of Chainer's (the gradient's row sums over 70,000 terms are added in
    another order: an absolute error of the array's scale where gy - sum(gy * y) cancels)."""
    assert dnnl.softmax_rows(np.zeros((4, 1 << 14), np.float32)) is not None

    def close(fast: np.ndarray, stock: np.ndarray) -> None:
        np.testing.assert_allclose(fast, stock, rtol=1e-5, atol=1e-5 * np.abs(stock).max())

    _softmax_against_chainers(np.float32, close)


def test_softmax_backward_numerically():
    rng = np.random.default_rng(3)
    gradient_check.check_backward(fast_cpu.last_axis_softmax, rng.standard_normal((2, 3, 6)),
                                  rng.standard_normal((2, 3, 6)), dtype=np.float64)


def test_the_softmax_shim_takes_the_fast_path_over_the_last_axis_only(monkeypatch):
    from chainer_port.tf_compat import tf_softmax

    x = chainer.Variable(np.zeros((2, 3, 4), np.float32))
    assert isinstance(tf_softmax(x, axis=2).creator, nodes.Softmax)
    assert isinstance(tf_softmax(x).creator, nodes.Softmax)
    assert not isinstance(tf_softmax(x, axis=1).creator, nodes.Softmax)
    monkeypatch.setenv(config.ENV_FAST_CPU, "0")
    assert not isinstance(tf_softmax(x, axis=2).creator, nodes.Softmax)


@pytest.mark.parametrize("transa, transb", [(False, False), (False, True), (True, False),
                                            (True, True)])
@pytest.mark.parametrize("batch", [1, 3])
def test_batched_matmul_is_chainers(transa, transb, batch):
    """Values and both gradients against `F.matmul`, every transpose, a batch of one (the
    rows split over the cores) and of three."""
    rng = np.random.default_rng(4)
    m, k, n = 7, 5, 6
    a = rng.standard_normal((batch, k, m) if transa else (batch, m, k)).astype(np.float32)
    b = rng.standard_normal((batch, n, k) if transb else (batch, k, n)).astype(np.float32)
    gy = rng.standard_normal((batch, m, n)).astype(np.float32)
    results = []
    for matmul in (fast_cpu.batched_matmul, F.matmul):
        av, bv = chainer.Variable(a.copy()), chainer.Variable(b.copy())
        y = matmul(av, bv, transa, transb)
        y.grad = gy.copy()
        y.backward()
        results.append((y.array, av.grad, bv.grad))
    for got, want in zip(*results, strict=True):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_batched_matmul_backward_numerically():
    rng = np.random.default_rng(5)
    gradient_check.check_backward(
        lambda a, b: fast_cpu.batched_matmul(a, b, transb=True),
        (rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4))),
        rng.standard_normal((2, 3, 5)), dtype=np.float64)


def test_the_matmul_shim_takes_the_fast_path_for_batches_of_matrices(monkeypatch):
    from chainer_port.tf_compat import tf_matmul

    a, b = np.ones((2, 3, 4), np.float32), np.ones((2, 4, 5), np.float32)
    assert isinstance(tf_matmul(a, b).creator, nodes.BatchedMatMul)
    assert not isinstance(tf_matmul(a[0], b[0]).creator, nodes.BatchedMatMul)
    monkeypatch.setenv(config.ENV_FAST_CPU, "0")
    assert not isinstance(tf_matmul(a, b).creator, nodes.BatchedMatMul)


def _fast_and_stock(apply: Callable[..., chainer.Variable], arrays: Sequence[np.ndarray],
                    gy: np.ndarray, node: type | tuple[type, ...]
                    ) -> list[tuple[np.ndarray | None, ...]]:
    """`apply` on Variables of `arrays` (their memory order kept) with the fast path on, then
    off (Chainer's own functions): each time (y, every array's gradient). The fast run builds
    `node`, the other does not."""
    results = []
    for fast in ("1", "0"):
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(config.ENV_FAST_CPU, fast)
            variables = [chainer.Variable(array.copy(order="K")) for array in arrays]
            y = apply(*variables)
            assert isinstance(y.creator, node) == (fast == "1")
            y.grad = gy.copy()
            y.backward()
            results.append((y.array, *(variable.grad for variable in variables)))
    return results


def _close(fast: Sequence[np.ndarray | None], stock: Sequence[np.ndarray | None],
           dtype: type, rtol: float | None = None) -> None:
    """Each fast array within rounding of the stock one: `rtol` (default 1e-5 in float32, 1e-12
    in float64) and as much of the array's largest value (sums over a map in another order)."""
    tolerance = rtol or (1e-5 if dtype == np.float32 else 1e-12)
    for got, want in zip(fast, stock, strict=True):
        if want is None:
            assert got is None
            continue
        np.testing.assert_allclose(got, want, rtol=tolerance,
                                   atol=tolerance * np.abs(want).max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", [("i", "j", "f", "o"), ("j", "i", "f", "o")])
def test_the_lstm_cell_is_chainers_functions(dtype, order):
    """`tf_lstm_cell` on the fast path against the same update in Chainer's functions (the
    shim with the fast path off): the state and the gradients of the gates and of c, whose
    memory is a channel slice of an earlier state (as a cell's step reads it)."""
    from chainer_port.tf_compat import tf_lstm_cell

    rng = np.random.default_rng(6)
    gates = (rng.standard_normal((2, 12, 5, 4)) * 2).astype(dtype)
    state = rng.standard_normal((2, 5, 4, 6)).astype(dtype).transpose(0, 3, 1, 2)  # NHWC
    g_state = rng.standard_normal((2, 6, 5, 4)).astype(dtype)
    _close(*_fast_and_stock(
        lambda g, s: tf_lstm_cell(g, F.split_axis(s, 2, axis=1)[0], 1.0, order),
        (gates, state), g_state, nodes.LSTMCell), dtype)


def test_the_lstm_cell_backward_numerically():
    rng = np.random.default_rng(7)
    gradient_check.check_backward(
        lambda g, c: fast_cpu.lstm_cell(g, c, 1.0, (0, 1, 2, 3)),
        (rng.standard_normal((1, 8, 3, 2)), rng.standard_normal((1, 2, 3, 2))),
        rng.standard_normal((1, 4, 3, 2)), dtype=np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("output_sees_new", [True, False])
@pytest.mark.parametrize("samples, order", [(1, ("i", "j", "f", "o")), (3, ("j", "i", "o", "f"))])
def test_the_peephole_lstm_cell_is_chainers_functions(dtype, output_sees_new, samples, order):
    """`tf_peephole_lstm_cell` on the fast path against the same update in Chainer's functions
    (the shim with the fast path off): the state and the gradients of the joined gates, of c
    (a channel slice of an earlier channels-last state, as a cell's step reads it) and of the
    per-position peephole weights (summed over the samples)."""
    from chainer_port.tf_compat import tf_peephole_lstm_cell

    rng = np.random.default_rng(8)
    gates = (rng.standard_normal((samples, 5, 6, 16)) * 2).astype(dtype).transpose(0, 3, 1, 2)
    state = rng.standard_normal((samples, 5, 6, 8)).astype(dtype).transpose(0, 3, 1, 2)
    peepholes = [rng.standard_normal((1, 4, 5, 6)).astype(dtype) for _ in range(3)]
    g_state = rng.standard_normal((samples, 8, 5, 6)).astype(dtype)

    def cell(g, s, w_i, w_f, w_o):
        return tf_peephole_lstm_cell(g, F.split_axis(s, 2, axis=1)[0], [w_i, w_f, w_o], 1.0,
                                     output_sees_new, order)

    fast, stock = _fast_and_stock(cell, (gates, state, *peepholes), g_state,
                                  nodes.PeepholeLSTMCell)
    _close(fast, stock, dtype)


@pytest.mark.parametrize("output_sees_new", [True, False])
def test_the_peephole_lstm_cell_backward_numerically(output_sees_new):
    rng = np.random.default_rng(9)
    gradient_check.check_backward(
        lambda g, c, w_i, w_f, w_o: fast_cpu.peephole_lstm_cell(
            g, c, [w_i, w_f, w_o], 0.5, output_sees_new, (0, 1, 2, 3)),
        (rng.standard_normal((2, 8, 3, 2)), rng.standard_normal((2, 2, 3, 2)),
         *(rng.standard_normal((1, 2, 3, 2)) for _ in range(3))),
        rng.standard_normal((2, 4, 3, 2)), dtype=np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel, dilation, memory", [(3, 1, "nhwc"), (5, 1, "nchw"),
                                                      (3, 2, "nhwc")])
def test_gate_convolutions_are_the_per_gate_sums(dtype, kernel, dilation, memory):
    """`tf_gate_convs` on the fast path (one convolution of the joined inputs, for dilation 1)
    against the TF code's per-gate convolutions and sums (the fast path off): the joined
    gates and the gradients of the inputs, kernels and biases."""
    from chainer_port.tf_compat import tf_gate_convs

    rng = np.random.default_rng(10)
    x = rng.standard_normal((2, 3, 7, 6)).astype(dtype)
    h = rng.standard_normal((2, 7, 6, 5)).astype(dtype).transpose(0, 3, 1, 2)
    if memory == "nchw":
        h = np.ascontiguousarray(h)
    kernels = [rng.standard_normal((4, c, kernel, kernel)).astype(dtype)
               for _ in range(3) for c in (5, 3)]
    biases = [rng.standard_normal(4).astype(dtype) for _ in range(3)]
    gy = rng.standard_normal((2, 12, 7, 6)).astype(dtype)

    def gates(h, x, *weights):
        kernels, biases = weights[:6], weights[6:]
        return tf_gate_convs([h, x], [kernels[2 * g:2 * g + 2] for g in range(3)], "SAME",
                             biases=biases, dilation=dilation)

    node = nodes.Conv2D if dilation == 1 else nodes.ConcatChannels  # per gate, then joined
    fast, stock = _fast_and_stock(gates, (h, x, *kernels, *biases), gy, node)
    _close(fast, stock, dtype, rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, memory", [((3, 6, 5, 4), "nchw"), ((3, 6, 5, 4), "nhwc"),
                                           ((2, 5, 3, 4, 6), "nhwc"),
                                           ((4, 16, 72, 64), "nhwc")])
def test_the_layer_norm_is_chainers_functions(dtype, shape, memory):
    """`tf_layer_norm` ("tf") on the fast path against the same composite in Chainer's functions
    (the shim with the fast path off): y and the gradients of x, gamma and beta, NCHW and
    channels-last memory, 4-D and 5-D, a map large enough to run on the pool."""
    from chainer_port.tf_video_ops import tf_layer_norm

    rng = np.random.default_rng(8)
    moved = (shape[0], *shape[2:], shape[1])
    x = (rng.standard_normal(moved if memory == "nhwc" else shape) * 3 + 2).astype(dtype)
    x = np.moveaxis(x, -1, 1) if memory == "nhwc" else x
    gamma, beta = (rng.standard_normal(shape[1]).astype(dtype) for _ in range(2))
    gy = rng.standard_normal(shape).astype(dtype)
    _close(*_fast_and_stock(lambda x, g, b: tf_layer_norm(x, b, g), (x, gamma, beta), gy,
                            nodes.LayerNorm), dtype)


def test_the_layer_norm_backward_numerically():
    rng = np.random.default_rng(9)
    gradient_check.check_backward(
        lambda x, g, b: fast_cpu.layer_norm(x, g, b, 1e-12),
        (rng.standard_normal((2, 3, 4, 5)), rng.standard_normal(3), rng.standard_normal(3)),
        rng.standard_normal((2, 3, 4, 5)), dtype=np.float64)


def test_the_layer_norm_shim_takes_the_fast_path_for_tfs_layer_norm_only(monkeypatch):
    from chainer_port.tf_video_ops import tf_layer_norm

    x, gamma = np.ones((2, 3, 4, 4), np.float32), np.ones(3, np.float32)
    assert isinstance(tf_layer_norm(x, gamma, gamma).creator, nodes.LayerNorm)
    assert not isinstance(tf_layer_norm(x, gamma, gamma, "chainer").creator, nodes.LayerNorm)
    monkeypatch.setenv(config.ENV_FAST_CPU, "0")
    assert not isinstance(tf_layer_norm(x, gamma, gamma).creator, nodes.LayerNorm)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_spatial_transformer_samples_as_chainers_functions(dtype):
    """`tf_spatial_transformer` ("tf") with the fast path's sampler against the same gathers in
    Chainer's functions (the fast path off): the output bit for bit, the gradients of the image
    and of theta, for transforms that reach beyond the image (clipped neighbours)."""
    from chainer_port.tf_video_ops import tf_spatial_transformer

    rng = np.random.default_rng(10)
    image = rng.standard_normal((3, 2, 7, 9)).astype(dtype)
    theta = (np.tile(np.array([1, 0, 0, 0, 1, 0], dtype), (3, 1))
             + rng.standard_normal((3, 6)).astype(dtype) * 0.4)
    gy = rng.standard_normal(image.shape).astype(dtype)
    fast, stock = _fast_and_stock(tf_spatial_transformer, (image, theta), gy,
                                  nodes.BilinearSample)
    np.testing.assert_array_equal(fast[0], stock[0])
    _close(fast, stock, dtype)


def test_the_bilinear_sampler_backward_numerically():
    """Away from the integer grid lines, where the bilinear weights are smooth."""
    rng = np.random.default_rng(11)
    xs = rng.uniform(-1.5, 6.5, (2, 20)) + 0.0
    xs += 0.5 - (xs % 1.0 - 0.5) * 0.2 - xs % 1.0  # each point 0.4 to 0.6 past a grid line
    ys = rng.uniform(-1.5, 4.5, (2, 20))
    ys += 0.5 - (ys % 1.0 - 0.5) * 0.2 - ys % 1.0
    gradient_check.check_backward(
        fast_cpu.bilinear_sample,
        (rng.standard_normal((2, 3, 4, 5)), xs.reshape(-1), ys.reshape(-1)),
        rng.standard_normal((2, 3, 4, 5)), dtype=np.float64, eps=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("pads", [((2, 2), (2, 2)), ((0, 4), (0, 4)), ((1, 3), (4, 0))])
def test_per_pixel_kernels_are_chainers_functions(dtype, pads):
    """`tf_compat.per_pixel_kernels` on the fast path against the windows of the padded image
    stacked, weighted and summed in Chainer's functions (the fast path off): the output bit for
    bit, the gradients of the image and of the kernels; DNA's pads and its re-padding
    mutant's."""
    from chainer_port.tf_compat import per_pixel_kernels

    rng = np.random.default_rng(12)
    image = rng.standard_normal((3, 2, 7, 6)).astype(dtype)
    kernels = rng.standard_normal((3, 25, 7, 6)).astype(dtype)
    gy = rng.standard_normal(image.shape).astype(dtype)
    fast, stock = _fast_and_stock(lambda x, k: per_pixel_kernels(x, k, pads), (image, kernels),
                                  gy, nodes.PerPixelKernels)
    np.testing.assert_array_equal(fast[0], stock[0])
    _close(fast, stock, dtype)


def test_per_pixel_kernels_backward_numerically():
    rng = np.random.default_rng(13)
    gradient_check.check_backward(
        lambda image, kernels: fast_cpu.per_pixel_kernels(image, kernels, ((1, 1), (1, 1))),
        (rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 9, 4, 5))),
        rng.standard_normal((2, 3, 4, 5)), dtype=np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("with_h", [True, False])
def test_the_multiplicative_unit_is_chainers_functions(dtype, with_h):
    """`tf_compat.multiplicative_unit` on the fast path against the same unit in Chainer's
    functions (the fast path off): the output and the gradients of the joined pre-activations
    and of h, which is a channel slice of a channels-last map (as a state's half)."""
    from chainer_port.tf_compat import multiplicative_unit

    rng = np.random.default_rng(14)
    gates = (rng.standard_normal((2, 5, 6, 16)) * 2).astype(dtype).transpose(0, 3, 1, 2)
    state = rng.standard_normal((2, 5, 6, 8)).astype(dtype).transpose(0, 3, 1, 2)
    gy = rng.standard_normal((2, 4, 5, 6)).astype(dtype)

    def unit(g, s):
        return multiplicative_unit(g, F.split_axis(s, 2, axis=1)[1] if with_h else None)

    fast, stock = _fast_and_stock(unit, (gates, state), gy, nodes.MultiplicativeUnit)
    _close(fast, stock, dtype, rtol=1e-6 if dtype == np.float32 else 1e-14)


def test_the_multiplicative_unit_backward_numerically():
    rng = np.random.default_rng(15)
    gradient_check.check_backward(
        fast_cpu.multiplicative_unit,
        (rng.standard_normal((2, 12, 4, 2)), rng.standard_normal((2, 3, 4, 2))),
        rng.standard_normal((2, 3, 4, 2)), dtype=np.float64)


@pytest.mark.parametrize("rank", [4, 5])
def test_concat_over_channels_is_chainers_in_channels_last_memory(rank):
    """`tf_concat(axis=1)` on the fast path: Chainer's values and gradients, the output in
    channels-last memory whatever its inputs' (NCHW, channels-last, a channel slice)."""
    from chainer_port.tf_compat import tf_concat

    rng = np.random.default_rng(16)
    spatial = (3, 4, 5)[:rank - 2]
    nchw = rng.standard_normal((2, 3, *spatial)).astype(np.float32)
    wide = np.moveaxis(rng.standard_normal((2, *spatial, 6)).astype(np.float32), -1, 1)
    gy = rng.standard_normal((2, 11, *spatial)).astype(np.float32)
    fast, stock = _fast_and_stock(lambda a, b: tf_concat([a, b, b[:, 2:4]], axis=1),
                                  (nchw, wide), gy, nodes.ConcatChannels)
    assert np.moveaxis(fast[0], 1, -1).flags.c_contiguous
    for got, want in zip(fast, stock, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("memory", ["nchw", "nhwc"])
def test_split_over_channels_is_chainers_and_keeps_the_memory_order(memory):
    """`tf_split(axis=1)` on the fast path: Chainer's views and gradients (an output without
    a gradient counts as zeros), the gradient in x's memory order."""
    from chainer_port.tf_compat import tf_split

    rng = np.random.default_rng(17)
    x = rng.standard_normal((2, 6, 3, 4)).astype(np.float32)
    if memory == "nhwc":
        x = np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 1, -1)), -1, 1)
    g_first = rng.standard_normal((2, 2, 3, 4)).astype(np.float32)
    g_last = rng.standard_normal((2, 1, 3, 4)).astype(np.float32)
    grads = []
    for fast in ("1", "0"):
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(config.ENV_FAST_CPU, fast)
            v = chainer.Variable(x.copy(order="K"))
            first, _, last = tf_split(v, [2, 5], axis=1)
            assert isinstance(first.creator, nodes.SplitChannels) == (fast == "1")
            np.testing.assert_array_equal(first.array, x[:, :2])
            (F.sum(first * g_first) + F.sum(last * g_last)).backward()
            grads.append(v.grad)
    np.testing.assert_array_equal(*grads)
    layout = np.moveaxis(grads[0], 1, -1) if memory == "nhwc" else grads[0]
    assert layout.flags.c_contiguous
    with pytest.raises(ValueError, match="equal"):  # as Chainer's split_axis
        tf_split(chainer.Variable(x), 4, axis=1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("queries, keys", [(5, 7), (300, 2000)])
def test_attention_is_tfs_three_ops(dtype, queries, keys):
    """`tf_compat.tf_attention` on the fast path (by blocks of query rows: one block, and many
    with rows of keys longer than a block's share) against q k^T, the softmax and the product
    with v in Chainer's functions (the fast path off): the output and the gradients of q, k
    and v, k passed as v too (the E3D-LSTM's recall)."""
    from chainer_port.tf_compat import tf_attention

    rng = np.random.default_rng(18)
    q = (rng.standard_normal((2, queries, 4)) * 2).astype(dtype)
    k = rng.standard_normal((2, keys, 4)).astype(dtype)
    gy = rng.standard_normal((2, queries, 4)).astype(dtype)
    _close(*_fast_and_stock(lambda q, k: tf_attention(q, k, k), (q, k), gy, nodes.Attention),
           dtype, rtol=1e-4 if dtype == np.float32 else 1e-11)


def test_attention_backward_numerically():
    rng = np.random.default_rng(19)
    gradient_check.check_backward(
        fast_cpu.attention,
        (rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 6, 3)),
         rng.standard_normal((2, 6, 4))),
        rng.standard_normal((2, 5, 4)), dtype=np.float64)


@pytest.mark.parametrize("shape, conv", [((2, 3, 9, 8), "onednn"), ((2, 3, 9, 8), "im2col"),
                                         ((2, 3, 4, 9, 8), "onednn")])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_convolution_with_its_bias_is_the_conv_then_the_bias(shape, conv, dtype, monkeypatch):
    """`tf_conv(..., bias=b)` on the fast path (one node: oneDNN's bias, or the im2col kernels
    and an add) against the convolution then `F.bias` in Chainer's functions: y and the
    gradients of x, W and b."""
    from chainer_port.tf_compat import tf_conv

    if conv == "im2col":
        monkeypatch.setenv(config.ENV_CONV, "im2col")
    if len(shape) == 5 and (dtype == np.float64 or not dnnl.available()):
        pytest.skip("3-D convolutions take the fast path in float32 on oneDNN only")
    rng = np.random.default_rng(20)
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((5, shape[1], *(3,) * (len(shape) - 2))).astype(dtype)
    b = rng.standard_normal(5).astype(dtype)
    gy = rng.standard_normal((shape[0], 5, *shape[2:])).astype(dtype)
    _close(*_fast_and_stock(lambda x, w, b: tf_conv(x, w, "SAME", bias=b), (x, w, b), gy,
                            (nodes.Conv2D, nodes.Conv3D)), dtype)


@pytest.mark.parametrize("conv", ["onednn", "im2col"])
def test_channels_last_copies_any_layout_exactly(conv, monkeypatch):
    """`conv.channels_last`: a view of channels-last memory as it is, any other memory (NCHW,
    a channel slice of it, a crop, NCDHW) copied exactly, small or large, on oneDNN's reorder or
    without it."""
    from chainer_port.fast_cpu.conv import channels_last

    if conv == "im2col":
        monkeypatch.setenv(config.ENV_CONV, "im2col")
    rng = np.random.default_rng(4)
    nhwc = rng.standard_normal((2, 9, 10, 24)).astype(np.float32)
    assert np.shares_memory(channels_last(nhwc.transpose(0, 3, 1, 2)), nhwc)
    big = rng.standard_normal((3, 40, 36, 34)).astype(np.float32)
    for x in (big, big[:, 5:29], big[:, :, 2:30, 1:], rng.standard_normal((2, 3, 5, 6, 7)),
              rng.standard_normal((2, 8, 4, 60, 60)).astype(np.float32), nhwc[:, 1:3]):
        copy = channels_last(x)
        assert copy.flags.c_contiguous and copy.dtype == x.dtype
        np.testing.assert_array_equal(copy, np.moveaxis(x, 1, -1))
