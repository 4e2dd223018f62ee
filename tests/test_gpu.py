"""The port on a GPU (marker `gpu`; skipped where CuPy sees none): every layer against the same
port on the CPU, the shims' backward on the GPU against numerical gradients, and the numerics
switches in force. `scripts/gpu_check.sh` runs these on the lent GPU (docs/gpu.md)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from chainer_port.device import gpu_count

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(gpu_count() == 0, reason="no GPU that CuPy sees")]
TINY_BATCH = 2


@pytest.fixture(scope="module")
def twins():
    from chainer_port.cross_conv import CrossConvModel

    cpu = CrossConvModel("tiny", seed=0)
    gpu = CrossConvModel("tiny", seed=0, device="0")
    gpu.set_weights(cpu.get_weights())
    return cpu, gpu


def frames_and_noise(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from spec.cross_conv import get_preset

    preset = get_preset("tiny")
    rng = np.random.default_rng(seed)
    frames = rng.random((TINY_BATCH, 2, 64, 64, preset.channels), dtype=np.float32)
    return frames, rng.standard_normal((TINY_BATCH, preset.z_dim)).astype(np.float32)


@pytest.mark.parametrize("training", [False, True])
def test_every_tap_on_the_gpu_matches_the_cpu(twins, training):
    cpu, gpu = twins
    frames, epsilon = frames_and_noise()
    on_cpu = cpu.forward(frames, epsilon, training=training).taps
    on_gpu = gpu.forward(frames, epsilon, training=training).taps
    for name, tap in on_cpu.items():
        ref, got = cpu.to_numpy(tap), gpu.to_numpy(on_gpu[name])
        scale = float(np.abs(ref).max()) or 1.0
        assert np.abs(got - ref).max() <= 1e-4 * scale, name


def test_gradients_on_the_gpu_match_the_cpu(twins):
    cpu, gpu = twins
    frames, epsilon = frames_and_noise(1)
    _, cpu_grads, cpu_inputs = cpu.gradients(frames, epsilon)
    _, gpu_grads, gpu_inputs = gpu.gradients(frames, epsilon)
    cpu_frames, gpu_frames = cpu_inputs["frames"], gpu_inputs["frames"]
    for name, grad in cpu_grads.items():
        scale = float(np.abs(grad).max()) or 1.0
        assert np.abs(gpu_grads[name] - grad).max() <= 1e-3 * scale, name
    assert np.abs(gpu_frames - cpu_frames).max() <= 1e-3 * float(np.abs(cpu_frames).max())


def test_the_shims_backward_on_the_gpu():
    import cupy

    from chainer_port.tf_compat import tf1_bilinear_resize, tf_conv2d, tf_max_pool

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
        from chainer import gradient_check
    rng = np.random.default_rng(0)
    x = cupy.asarray(rng.standard_normal((2, 3, 9, 9)))
    w = cupy.asarray(rng.standard_normal((4, 3, 3, 3)))
    cases = [(lambda v: tf1_bilinear_resize(v, 5), (x,), (2, 3, 5, 5)),
             (lambda v, k: tf_conv2d(v, k, "SAME"), (x, w), (2, 4, 9, 9)),
             (lambda v: tf_max_pool(v, 3, 2, "SAME"), (x,), (2, 3, 5, 5))]
    for func, inputs, out_shape in cases:
        gy = cupy.asarray(rng.standard_normal(out_shape))
        gradient_check.check_backward(func, inputs, gy, dtype=np.float64, atol=1e-5,
                                      rtol=1e-4)


def test_the_gpu_runs_in_full_float32_and_deterministically(twins):
    import chainer

    from common.numerics import tf32_allowed

    assert not tf32_allowed()
    assert chainer.config.cudnn_deterministic
