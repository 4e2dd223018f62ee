"""chainer_port.cross_conv.CrossConvModel: taps, layouts and forward semantics (tiny preset)."""

from __future__ import annotations

import chainer
import numpy as np
import pytest

from chainer_port.cross_conv import CrossConvModel
from chainer_port.device import resolve_device
from chainer_port.tf_compat import nhwc_unflatten
from common.errors import UserError
from spec.cross_conv import build_spec, get_preset
from spec.cross_conv.graph import EPSILON, FRAMES, Z_MEAN, Z_STDDEV_LOG
from spec.layer import graph_order
from spec.layout import activation_to_chainer


def _frames(batch: int, seq_len: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((batch, seq_len, 64, 64, 3), dtype=np.float32)


def _epsilon(rows: int, z_dim: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((rows, z_dim), dtype=np.float32)


def _chainer_shape(layer, batch: int, seq_len: int) -> tuple[int, ...]:
    """The spec's per-sample TF shape with its batch axis, through spec.layout's rule."""
    lead = {"B": (batch,), "B'": (batch * (seq_len - 1),), None: ()}[layer.batch]
    tf_shape = (*lead, *layer.shape)
    return activation_to_chainer(np.broadcast_to(np.float32(0), tf_shape)).shape


def _check_taps(preset_name: str, batch: int, seq_len: int) -> None:
    model = CrossConvModel(preset_name, seed=0)
    result = model.forward(_frames(batch, seq_len))
    layers = build_spec(get_preset(preset_name), seq_len=seq_len)
    assert list(result.taps) == graph_order(layers)
    for layer in layers:
        assert result.taps[layer.name].shape == _chainer_shape(layer, batch, seq_len), layer.name
        assert result.taps[layer.name].dtype == np.float32, layer.name
    assert np.isfinite(model.to_numpy(result.loss))


@pytest.fixture(scope="module")
def tiny() -> CrossConvModel:
    """A tiny model used only in inference mode (its state never changes)."""
    return CrossConvModel("tiny", seed=0)


@pytest.mark.parametrize("seq_len", [2, 3])
def test_every_tap_has_the_spec_shape_tiny(seq_len):
    _check_taps("tiny", batch=2, seq_len=seq_len)


@pytest.mark.paper
def test_every_tap_has_the_spec_shape_paper():
    _check_taps("paper", batch=2, seq_len=2)


def test_named_results_are_their_taps(tiny):
    result = tiny.forward(_frames(2, 2), _epsilon(2, tiny.preset.z_dim))
    assert result.output is result.taps["Conv_2"]
    assert result.z_mean is result.taps[Z_MEAN]
    assert result.z_stddev_log is result.taps[Z_STDDEV_LOG]
    assert result.loss is result.taps["loss/loss"]
    np.testing.assert_allclose(tiny.to_numpy(result.loss),
                               tiny.to_numpy(result.l2_loss) + tiny.to_numpy(result.kl_loss))
    assert (tiny.to_numpy(result.output) >= 0).all()  # slim.conv2d's ReLU on the last conv
    assert (tiny.to_numpy(result.z_stddev_log) >= 0).all()


def test_resize_scales_first_and_is_identity_at_input_size(tiny):
    frames = _frames(2, 2)
    taps = tiny.forward(frames).taps
    np.testing.assert_array_equal(tiny.to_numpy(taps["frames_64"]),
                                  activation_to_chainer(frames * np.float32(10)))


def test_pairs_are_stacked_pair_major(tiny):
    batch, seq_len = 2, 3
    taps = tiny.forward(_frames(batch, seq_len)).taps
    frames = tiny.to_numpy(taps["frames_32"])
    images, diffs = tiny.to_numpy(taps["image_32"]), tiny.to_numpy(taps["diff_32"])
    for pair in range(seq_len - 1):
        for b in range(batch):
            np.testing.assert_array_equal(images[pair * batch + b], frames[b, pair])
            np.testing.assert_allclose(diffs[pair * batch + b],
                                       (frames[b, pair + 1] - frames[b, pair] + 10) / 2,
                                       rtol=1e-6, atol=1e-6)


def test_z_overrides_replace_the_taps(tiny):
    z_dim = tiny.preset.z_dim
    z_mean, z_log = _epsilon(2, z_dim, 5), _epsilon(2, z_dim, 6) * 0.1
    epsilon = _epsilon(2, z_dim, 7)
    result = tiny.forward(_frames(2, 2), epsilon,
                          overrides={Z_MEAN: z_mean, Z_STDDEV_LOG: z_log})
    np.testing.assert_array_equal(tiny.to_numpy(result.z_mean), z_mean)
    np.testing.assert_array_equal(tiny.to_numpy(result.taps[Z_STDDEV_LOG]), z_log)
    kernel = nhwc_unflatten(z_mean + np.exp(z_log) * epsilon, tiny.preset.kernel_size,
                            tiny.preset.kernel_channels).array
    np.testing.assert_allclose(tiny.to_numpy(result.kernel), kernel, rtol=1e-6)
    kl = 0.5 * np.mean(z_mean ** 2 + np.exp(z_log) ** 2 - 2 * z_log - 1)
    np.testing.assert_allclose(tiny.to_numpy(result.kl_loss), kl, rtol=1e-5)


def test_epsilon_is_drawn_from_the_seeded_generator():
    frames = _frames(2, 2)
    kernels = [CrossConvModel("tiny", seed=3).forward(frames).kernel.array for _ in range(2)]
    np.testing.assert_array_equal(*kernels)
    model = CrossConvModel("tiny", seed=3)
    assert not np.array_equal(model.forward(frames).kernel.array,
                              model.forward(frames).kernel.array)


def test_training_forward_updates_moving_statistics_inference_does_not():
    model = CrossConvModel("tiny", seed=0)
    before = model.get_weights()
    model.forward(_frames(2, 2), training=False)
    assert all(np.array_equal(before[name], value)
               for name, value in model.get_weights().items())
    model.forward(_frames(2, 2), training=True)
    after = model.get_weights()
    for name, value in after.items():
        changed = not np.array_equal(before[name], value)
        assert changed == name.endswith(("moving_mean", "moving_variance")), name


def test_run_layer_reproduces_every_tap(tiny):
    frames, epsilon = _frames(2, 2), _epsilon(2, tiny.preset.z_dim)
    taps = tiny.forward(frames, epsilon).taps
    values = {FRAMES: activation_to_chainer(frames), EPSILON: epsilon,
              **{name: tiny.to_numpy(tap) for name, tap in taps.items()}}
    for layer in tiny.layers:
        got = tiny.run_layer(layer.name, [values[name] for name in layer.inputs])
        np.testing.assert_allclose(tiny.to_numpy(got), values[layer.name], rtol=1e-5,
                                   atol=1e-5, err_msg=layer.name)


def test_run_layer_deconv_weight_gradient_with_constant_input(tiny):
    """Chainer 7.8.1's deconv backward bug (only W needs a gradient) is worked around."""
    link = tiny["image_decoder_1"]
    x = np.random.default_rng(0).standard_normal((2, 4, 8, 8)).astype(np.float32)
    y = tiny.run_layer("image_decoder_1", [x])
    link.cleargrads()
    chainer.functions.sum(y).backward()
    assert link.weights.grad is not None and np.abs(link.weights.grad).sum() > 0
    link.cleargrads()


def test_bad_inputs_raise_user_errors(tiny):
    with pytest.raises(UserError, match="no layer"):
        tiny.run_layer("nonsense", [])
    with pytest.raises(UserError, match="takes 1 inputs"):
        tiny.run_layer("Conv", [])
    with pytest.raises(UserError, match="frames must be"):
        tiny.forward(np.zeros((2, 64, 64, 3), np.float32))
    with pytest.raises(UserError, match="epsilon must be"):
        tiny.forward(_frames(2, 2), np.zeros((3, tiny.preset.z_dim), np.float32))
    with pytest.raises(UserError, match="unknown preset"):
        CrossConvModel("huge")


def test_devices():
    assert resolve_device("cpu").xp is np
    assert CrossConvModel("tiny").xp is np
    with pytest.raises(UserError, match="use 'cpu' or a GPU id"):
        resolve_device("tpu")
