"""TF reference gradients and SGD steps: every variable, the seed's update rule, no retracing."""

import numpy as np
import pytest
import tensorflow as tf

from spec.cross_conv import PAIR, learning_rate
from spec.weights import trainable_names, variable_shapes
from tf_reference import CrossConvModel

TRAINABLE = {name for preset in PAIR.presets.values()
             for name in trainable_names(PAIR.build(preset))}


def moving_squares(batch: int = 2, seq_len: int = 2, size: int = 64, seed: int = 0
                   ) -> np.ndarray:
    """Black frames with one 12x12 square per sample moving 6 pixels right per frame."""
    rng = np.random.default_rng(seed)
    frames = np.zeros((batch, seq_len, size, size, 3), np.float32)
    for b in range(batch):
        y, x = rng.integers(4, 30, 2)
        for t in range(seq_len):
            frames[b, t, y:y + 12, x + 6 * t:x + 6 * t + 12, b % 3] = 1
    return frames


def noise(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((2, 144)).astype(np.float32)


@pytest.fixture(scope="module")
def trained() -> tuple[CrossConvModel, list[dict]]:
    model = CrossConvModel("tiny", seed=0)
    frames, epsilon = moving_squares(), noise()
    return model, [model.train_step(frames, epsilon, step) for step in range(30)]


def test_training_lowers_the_loss(trained):
    _, history = trained
    losses = [entry["loss"] for entry in history]
    assert np.mean(losses[-5:]) < 0.1 * losses[0]
    assert history[0]["lr"] == learning_rate(0) == 0.8
    assert all(isinstance(history[-1][key], float) for key in ("loss", "l2", "kl"))
    assert history[-1]["z_mean"].shape == history[-1]["z_stddev_log"].shape == (2, 144)


def test_train_step_traces_once(trained):
    model, _ = trained
    assert model._train.experimental_get_tracing_count() == 1
    model.train_step(moving_squares(seed=9), noise(9), tf.constant(12345.0))
    assert model._train.experimental_get_tracing_count() == 1
    model.forward(moving_squares(seed=1))
    model.forward(moving_squares(seed=2))
    assert model._taps.experimental_get_tracing_count() == 1


def test_gradients_cover_every_variable():
    model = CrossConvModel("tiny", seed=0)
    frames = moving_squares()
    result, grads, input_grads = model.gradients(frames, noise())
    frames_grad = input_grads["frames"]
    assert list(grads) == list(variable_shapes(model.layers))
    for name, grad in grads.items():
        assert grad.shape == tuple(model.named_variables[name].shape), name
        assert grad.dtype == np.float32, name
        if name not in TRAINABLE or name.startswith("image_decoder_") and "BatchNorm" in name:
            assert not np.any(grad), name  # moving statistics; the discarded BatchNorm
        elif name.endswith("/weights"):
            assert np.any(grad), name
    assert frames_grad.shape == frames.shape and frames_grad.dtype == np.float32
    assert np.any(frames_grad)
    assert np.isfinite(model.to_numpy(result.loss))


def test_gradient_matches_a_finite_difference():
    model = CrossConvModel("tiny", seed=0)
    frames, epsilon = moving_squares(), noise()
    _, grads, _ = model.gradients(frames, epsilon, training=False)
    name = "Conv_1/weights"
    direction = grads[name] / np.linalg.norm(grads[name])
    variable, start = model.named_variables[name], model.named_variables[name].numpy()
    losses = []
    for sign in (1, -1):
        variable.assign(start + sign * 1e-2 * direction)
        losses.append(float(model.forward(frames, epsilon).loss))
    slope = (losses[0] - losses[1]) / 2e-2
    np.testing.assert_allclose(slope, np.linalg.norm(grads[name]), rtol=0.05)


def test_train_step_is_sgd_on_the_training_gradient():
    model, twin = CrossConvModel("tiny", seed=0), CrossConvModel("tiny", seed=0)
    frames, epsilon, step = moving_squares(), noise(), 20000
    _, grads, _ = twin.gradients(frames, epsilon, training=True)
    before = model.get_weights()
    model.train_step(frames, epsilon, step)
    lr = np.float32(learning_rate(step))
    after, twin_after = model.get_weights(), twin.get_weights()
    for name, value in after.items():
        if name in TRAINABLE:
            np.testing.assert_allclose(value, before[name] - lr * grads[name], rtol=1e-5,
                                       atol=1e-6, err_msg=name)
        else:  # one training forward each: the same moving-average update
            np.testing.assert_allclose(value, twin_after[name], rtol=1e-6, err_msg=name)
            assert not np.array_equal(value, before[name]), name
    discarded = "image_decoder_0/BatchNorm/beta"
    np.testing.assert_array_equal(after[discarded], before[discarded])
