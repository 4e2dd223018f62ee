"""chainer_port weights: TF names by rule, TF layouts, initialisers, round trips, errors."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

from chainer_port.cross_conv import CrossConvModel
from common.errors import UserError
from spec.cross_conv import PAIR
from spec.weights import trainable_names, variable_shapes

TRAINABLE = {name for preset in PAIR.presets.values()
             for name in trainable_names(PAIR.build(preset))}


@pytest.fixture(scope="module")
def tiny() -> CrossConvModel:
    """Read-only: tests that write weights build their own model."""
    return CrossConvModel("tiny", seed=0)


def _random_weights(model: CrossConvModel, seed: int) -> OrderedDict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return OrderedDict((name, rng.standard_normal(value.shape).astype(np.float32))
                       for name, value in model.get_weights().items())


def _assert_same(a: OrderedDict, b: OrderedDict) -> None:
    assert list(a) == list(b)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
        assert b[name].dtype == np.float32


def test_names_shapes_and_order_are_the_spec(tiny):
    weights = tiny.get_weights()
    expected = variable_shapes(tiny.layers)
    assert list(weights) == list(expected)
    assert {name: value.shape for name, value in weights.items()} == dict(expected)
    assert all(value.dtype == np.float32 for value in weights.values())


def test_chainer_parameter_paths_are_the_tf_names(tiny):
    paths = {path for path, _ in tiny.namedparams()}
    trainable = {name for name in variable_shapes(tiny.layers) if name in TRAINABLE}
    assert {path.lstrip("/") for path in paths} == trainable
    assert "/motion_encoder/Conv_3/BatchNorm/beta" in paths
    assert tiny["motion_encoder"]["Conv_3"].weights.shape == (16, 16, 3, 3)  # (out, in, k, k)
    assert tiny["image_decoder_0"].weights.shape == (4, 8, 3, 3)  # (in, out, k, k)


def test_initial_values_follow_slim():
    weights = CrossConvModel("paper", seed=0).get_weights()
    for name, value in weights.items():
        if name.endswith("beta") or name.endswith("moving_mean"):
            assert not value.any(), name
        elif name.endswith("moving_variance"):
            assert (value == 1).all(), name
    kernel = weights["Conv/weights"]  # [9, 9, 256, 128]
    k, _, cin, cout = kernel.shape
    limit = np.sqrt(6 / (k * k * cin + k * k * cout))
    assert np.abs(kernel).max() <= limit
    np.testing.assert_allclose(kernel.std(), limit / np.sqrt(3), rtol=0.01)
    deconv = np.concatenate([weights[f"image_decoder_{i}/weights"].ravel() for i in range(4)])
    assert np.abs(deconv).max() <= 0.02
    np.testing.assert_allclose(deconv.std(), 0.01 * 0.8796, rtol=0.05)  # truncated at 2 sd


def test_seed_fixes_the_weights():
    a, b = (CrossConvModel("tiny", seed=4).get_weights() for _ in range(2))
    _assert_same(a, b)
    c = CrossConvModel("tiny", seed=5).get_weights()
    assert not np.array_equal(a["Conv/weights"], c["Conv/weights"])
    assert not np.array_equal(a["image_decoder_2/weights"], c["image_decoder_2/weights"])


def test_set_get_round_trip_is_bit_exact_and_copies():
    model = CrossConvModel("tiny", seed=0)
    weights = _random_weights(model, 1)
    model.set_weights(weights)
    got = model.get_weights()
    _assert_same(weights, got)
    weights["Conv/weights"][...] = 0
    got["Conv_1/weights"][...] = 0
    assert model.get_weights()["Conv/weights"].any()
    assert model.get_weights()["Conv_1/weights"].any()


def test_set_weights_reaches_the_chainer_layout():
    model = CrossConvModel("tiny", seed=0)
    weights = _random_weights(model, 2)
    model.set_weights(weights)
    np.testing.assert_array_equal(model["Conv"].weights.array,
                                  weights["Conv/weights"].transpose(3, 2, 0, 1))
    np.testing.assert_array_equal(model["image_decoder_3"].BatchNorm.moving_variance,
                                  weights["image_decoder_3/BatchNorm/moving_variance"])


def test_save_load_round_trip_is_bit_exact(tmp_path):
    source = CrossConvModel("tiny", seed=0)
    source.set_weights(_random_weights(source, 3))
    path = tmp_path / "weights.npz"
    source.save(path)
    with np.load(path) as archive:
        assert sorted(archive.files) == sorted(variable_shapes(source.layers))
    target = CrossConvModel("tiny", seed=9)
    target.load(path)
    _assert_same(source.get_weights(), target.get_weights())


def test_bad_weights_raise_one_user_error(tiny):
    weights = tiny.get_weights()
    del weights["kernel_decoder/Conv/weights"]
    weights["Conv_1/BatchNorm/beta"] = np.zeros(5, np.float32)
    weights["extra"] = np.zeros(1, np.float32)
    with pytest.raises(UserError) as error:
        tiny.set_weights(weights)
    message = str(error.value)
    assert "missing kernel_decoder/Conv/weights" in message
    assert "Conv_1/BatchNorm/beta has shape [5]" in message
    assert "unexpected extra" in message


def test_load_missing_file_is_a_user_error(tiny, tmp_path):
    with pytest.raises(UserError, match="no such file"):
        tiny.load(tmp_path / "absent.npz")
