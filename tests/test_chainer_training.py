"""chainer_port gradients and SGD training (tiny preset)."""

from __future__ import annotations

import numpy as np
import pytest

from chainer_port.cross_conv import CrossConvModel
from spec.cross_conv import PAIR, learning_rate
from spec.weights import trainable_names, variable_shapes

TRAINABLE = {name for preset in PAIR.presets.values()
             for name in trainable_names(PAIR.build(preset))}


def _moving_squares(batch: int) -> np.ndarray:
    """A fixed batch: a bright square moving 4 pixels right between the two frames."""
    frames = np.zeros((batch, 2, 64, 64, 3), np.float32)
    for b in range(batch):
        top = 10 + 12 * b
        frames[b, 0, top:top + 12, 20:32, b % 3] = 1
        frames[b, 1, top:top + 12, 24:36, b % 3] = 1
    return frames


def _epsilon(rows: int, z_dim: int) -> np.ndarray:
    return np.random.default_rng(1).standard_normal((rows, z_dim), dtype=np.float32)


def _unconnected(name: str) -> bool:
    """Moving statistics and the discarded deconv BatchNorm's beta never reach the loss."""
    return name not in TRAINABLE or name.startswith("image_decoder_") and "/BatchNorm/" in name


def _statistics(weights: dict) -> dict:
    return {name: value for name, value in weights.items() if name not in TRAINABLE}


@pytest.fixture(scope="module")
def gradient_run():
    model = CrossConvModel("tiny", seed=0)
    before = model.get_weights()
    # Random frames: no ties in the max pools, so the loss is differentiable where probed.
    frames = np.random.default_rng(5).random((2, 2, 64, 64, 3), dtype=np.float32)
    epsilon = _epsilon(2, model.preset.z_dim)
    result, grads, input_grads = model.gradients(frames, epsilon)
    frames_grad = input_grads["frames"]
    return model, before, frames, epsilon, result, grads, frames_grad


def test_gradients_cover_every_variable_in_tf_layout(gradient_run):
    model, _, frames, _, result, grads, frames_grad = gradient_run
    assert list(grads) == list(variable_shapes(model.layers))
    for name, shape in variable_shapes(model.layers).items():
        assert grads[name].shape == shape and grads[name].dtype == np.float32, name
        assert np.isfinite(grads[name]).all(), name
        assert (not grads[name].any()) == _unconnected(name), name
    assert frames_grad.shape == frames.shape and frames_grad.dtype == np.float32
    assert np.abs(frames_grad).sum() > 0
    assert np.isfinite(model.to_numpy(result.loss))


def _unit(values: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], float]:
    norm = float(np.sqrt(sum((value.astype(np.float64) ** 2).sum() for value in values.values())))
    return {name: value / norm for name, value in values.items()}, norm


def test_gradients_match_a_finite_difference(gradient_run):
    """Central differences of the training-mode loss along the unit gradient directions: the
    directional derivative there is the gradient's norm."""
    _, before, frames, epsilon, _, grads, frames_grad = gradient_run
    probe, step = CrossConvModel("tiny", seed=0), 1e-3

    def slope(weights_direction: dict, frames_direction: np.ndarray) -> float:
        losses = []
        for sign in (1, -1):
            probe.set_weights({name: value + sign * step * weights_direction[name]
                               if name in weights_direction else value
                               for name, value in before.items()})
            shifted = frames + sign * step * frames_direction
            result = probe.forward(shifted, epsilon, training=True)
            losses.append(float(probe.to_numpy(result.loss)))
        return (losses[0] - losses[1]) / (2 * step)

    weights_direction, weights_norm = _unit(
        {name: value for name, value in grads.items() if name in TRAINABLE})
    assert slope(weights_direction, np.zeros_like(frames)) == pytest.approx(weights_norm,
                                                                            rel=1e-2)
    frames_direction, frames_norm = _unit({"frames": frames_grad})
    assert slope({}, frames_direction["frames"]) == pytest.approx(frames_norm, rel=1e-2)


def test_gradients_update_moving_statistics_like_a_training_forward(gradient_run):
    model, before, *_ = gradient_run
    after = _statistics(model.get_weights())
    assert all(not np.array_equal(before[name], value) for name, value in after.items())


def test_train_step_is_sgd_on_the_gradients():
    frames, step = _moving_squares(2), 12345
    reference, stepped = CrossConvModel("tiny", seed=0), CrossConvModel("tiny", seed=0)
    epsilon = _epsilon(2, reference.preset.z_dim)
    before = reference.get_weights()
    result, grads, _ = reference.gradients(frames, epsilon)
    report = stepped.train_step(frames, epsilon, step)
    lr = learning_rate(step)
    assert report["lr"] == lr
    assert report["loss"] == pytest.approx(float(reference.to_numpy(result.loss)), rel=1e-6)
    assert report["l2"] + report["kl"] == pytest.approx(report["loss"], rel=1e-6)
    after = stepped.get_weights()
    for name, value in after.items():
        expected = before[name] - np.float32(lr) * grads[name] if name in TRAINABLE \
            else reference.get_weights()[name]
        np.testing.assert_allclose(value, expected, rtol=1e-6, atol=1e-7, err_msg=name)


def test_training_lowers_the_loss_and_leaves_the_discarded_beta_alone():
    model = CrossConvModel("tiny", seed=0)
    frames, epsilon = _moving_squares(1), _epsilon(1, model.preset.z_dim)
    losses = [model.train_step(frames, epsilon, step)["loss"] for step in range(30)]
    assert np.isfinite(losses).all()
    assert np.mean(losses[-5:]) < 0.5 * losses[0], losses
    weights = model.get_weights()
    for level in range(4):
        scope = f"image_decoder_{level}/BatchNorm"
        assert not weights[f"{scope}/beta"].any(), scope
        assert weights[f"{scope}/moving_mean"].any(), scope
        assert not (weights[f"{scope}/moving_variance"] == 1).all(), scope


def test_train_step_frees_the_taps_it_does_not_return_before_the_backward(monkeypatch):
    """As TF's step, which returns the losses and step outputs only: the other taps but the
    loss are not held through the backward (on the VPN at `micro` they were a gigabyte of its
    peak). Every pair's train step runs in its own tests (the E3D-LSTM's loss tap is none of
    its losses)."""
    import gc
    import weakref

    import chainer

    model = CrossConvModel("tiny", seed=0)
    frames, epsilon = _moving_squares(1), _epsilon(1, model.preset.z_dim)
    refs: dict[str, weakref.ref] = {}
    run = model._run

    def run_and_watch(*args, **kwargs):
        taps = run(*args, **kwargs)
        refs.update((name, weakref.ref(tap)) for name, tap in taps.items())
        return taps

    held: list[set[str]] = []
    backward = chainer.Variable.backward

    def watched_backward(self, *args, **kwargs):
        gc.collect()
        held.append({name for name, ref in refs.items() if ref() is not None})
        return backward(self, *args, **kwargs)

    monkeypatch.setattr(model, "_run", run_and_watch)
    monkeypatch.setattr(chainer.Variable, "backward", watched_backward)
    model.train_step(frames, epsilon, 0)
    wanted = {PAIR.loss, *PAIR.losses.values(), *PAIR.step_outputs.values()}
    assert len(refs) > len(wanted) and held == [wanted & set(refs)], held
