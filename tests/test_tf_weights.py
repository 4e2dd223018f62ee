"""TF reference weights: names, layouts, initialisers, round trips and their errors."""

import math

import numpy as np
import pytest

from common.errors import UserError
from spec.weights import variable_shapes
from tf_reference import CrossConvModel


@pytest.fixture(scope="module")
def model() -> CrossConvModel:
    return CrossConvModel("tiny", seed=0)


def test_weights_are_the_spec_variables_in_graph_order(model):
    weights = model.get_weights()
    shapes = variable_shapes(model.layers)
    assert list(weights) == list(shapes) == list(model.named_variables)
    for name, value in weights.items():
        assert value.shape == shapes[name] and value.dtype == np.float32, name
    assert weights["image_decoder_0/weights"].shape == (3, 3, 8, 4)  # [k, k, out, in]
    assert weights["Conv/weights"].shape == (5, 5, 32, 16)  # HWIO


def test_get_weights_returns_copies(model):
    model.get_weights()["Conv/weights"][:] = 7
    assert not np.any(model.get_weights()["Conv/weights"] == 7)


def test_initialisers(model):
    for layer in model.layers:
        if layer.kind not in ("conv", "deconv"):
            continue
        weights = model.named_variables[f"{layer.name}/weights"].numpy()
        if layer.kind == "conv":
            k, _, cin, cout = weights.shape
            limit = math.sqrt(6 / (k * k * cin + k * k * cout))
        else:
            limit = 2 * 0.01
        assert np.abs(weights).max() <= limit, layer.name
        if weights.size >= 500:
            assert np.abs(weights).max() > 0.8 * limit, layer.name
            spread = limit / math.sqrt(3) if layer.kind == "conv" else 0.0088  # truncated std
            assert abs(weights.std() / spread - 1) < 0.2, layer.name
        prefix = f"{layer.name}/BatchNorm"
        assert np.all(model.named_variables[f"{prefix}/beta"].numpy() == 0)
        assert np.all(model.named_variables[f"{prefix}/moving_mean"].numpy() == 0)
        assert np.all(model.named_variables[f"{prefix}/moving_variance"].numpy() == 1)


def test_seeds_are_reproducible(model):
    same, other = CrossConvModel("tiny", seed=0), CrossConvModel("tiny", seed=1)
    for name, value in model.get_weights().items():
        np.testing.assert_array_equal(same.get_weights()[name], value)
        if name.endswith("/weights"):
            assert not np.array_equal(other.get_weights()[name], value), name
    draws = [CrossConvModel("tiny", seed=seed).noise_rng.standard_normal(8)
             for seed in (5, 5, 6)]
    np.testing.assert_array_equal(draws[0], draws[1])
    assert not np.array_equal(draws[0], draws[2])


def test_set_weights_round_trip_is_bit_exact(model):
    other = CrossConvModel("tiny", seed=1)
    other.set_weights(model.get_weights())
    for name, value in model.get_weights().items():
        np.testing.assert_array_equal(other.get_weights()[name], value)
    frames = np.random.default_rng(0).random((2, 2, 64, 64, 3), np.float32)
    epsilon = np.random.default_rng(1).standard_normal((2, 144)).astype(np.float32)
    np.testing.assert_array_equal(model.to_numpy(model.forward(frames, epsilon).output),
                                  other.to_numpy(other.forward(frames, epsilon).output))


def test_save_load_round_trip_is_bit_exact(model, tmp_path):
    path = tmp_path / "weights.npz"
    model.save(path)
    other = CrossConvModel("tiny", seed=2)
    other.load(path)
    for name, value in model.get_weights().items():
        np.testing.assert_array_equal(other.get_weights()[name], value)
    with np.load(path) as archive:
        assert list(archive.files) == list(variable_shapes(model.layers))


def test_set_weights_names_every_problem(model):
    weights = model.get_weights()
    del weights["Conv_2/weights"]
    weights["Conv_1/weights"] = weights["Conv_1/weights"][:, :, :, :1]
    weights["Conv_3/weights"] = np.zeros((1,), np.float32)
    with pytest.raises(UserError) as error:
        model.set_weights(weights)
    message = str(error.value)
    assert "missing Conv_2/weights [1, 1, 16, 3]" in message
    assert "Conv_1/weights has shape [1, 1, 16, 1], expected [1, 1, 16, 16]" in message
    assert "unexpected Conv_3/weights" in message
    with pytest.raises(UserError, match="no such file"):
        model.load("/nonexistent/weights.npz")
