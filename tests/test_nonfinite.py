"""Training stops at the first non-finite loss or weight, naming the step and the first tap,
gradient or parameter that went non-finite, and keeps the last good checkpoint."""

from __future__ import annotations

import math
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from spec.cross_conv import build_spec, get_preset
from spec.weights import load_weights, save_weights, variable_shapes
from twinport.nonfinite import culprit

TINY = build_spec(get_preset("tiny"))
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflows are the point
FIRST = next(iter(variable_shapes(TINY)))  # motion_encoder/Conv/weights


def train(cli, backend: str, data: Path, out: Path, steps: int, *extra: str):
    return cli("train", "--backend", backend, "--data", data, "--preset", "tiny", "--steps",
               str(steps), "--batch-size", "4", "--checkpoint-every", "3", "--out", out,
               "--quiet", *extra)


@pytest.mark.parametrize("backend", ["tf", "chainer"])
def test_an_overflowing_weight_names_the_first_non_finite_tap(cli, moving_objects_dir,
                                                              tmp_path, backend):
    from twinport.backends import create_model

    weights = create_model(backend, "tiny").get_weights()
    weights[FIRST] = np.full_like(weights[FIRST], 3e38)  # finite, but its conv overflows
    save_weights(tmp_path / "huge.npz", weights)
    status, _, err = train(cli, backend, moving_objects_dir, tmp_path / "run", 3,
                           "--init", tmp_path / "huge.npz")
    assert status == 2 and err.count("\n") == 1, err
    assert "step 0: the loss is not finite (loss nan" in err
    assert "the first non-finite tap is motion_encoder/Conv;" in err
    assert err.rstrip().endswith("training stopped, no checkpoint yet")
    assert not (tmp_path / "run" / "checkpoints" / "latest").exists()


@pytest.fixture
def exploding_lr(monkeypatch):
    """A mutant: the learning rate is inf at step 4, so the update ruins the weights while
    that step's loss and gradients are finite."""
    import twinport.train

    real = twinport.train.create_model

    def create(*args, **kwargs):
        model = real(*args, **kwargs)
        step_fn = model.train_step
        model.train_step = lambda frames, epsilon, step, lr=None: step_fn(
            frames, epsilon, step, math.inf if step == 4 else lr)
        return model

    monkeypatch.setattr(twinport.train, "create_model", create)


@pytest.mark.parametrize("backend, check_every", [("chainer", "1"), ("tf", "10")])
def test_a_ruinous_update_is_named_and_the_last_good_checkpoint_kept(
        cli, moving_objects_dir, tmp_path, exploding_lr, backend, check_every):
    """With --check-every 10 the weights of step 4 are not checked: step 5's loss is NaN, and
    replaying from the checkpoint of step 3 finds step 4."""
    run = tmp_path / "run"
    status, _, err = train(cli, backend, moving_objects_dir, run, 9, "--check-every", check_every)
    assert status == 2 and err.count("\n") == 1, err
    assert "step 4: the updated weights are not finite (loss " in err
    assert f"every tap and gradient is finite; the update made parameter {FIRST} non-finite" in err
    assert err.rstrip().endswith(f"training stopped, kept {run}/checkpoints/step-00000003")
    assert (run / "checkpoints" / "latest").read_text() == "step-00000003\n"
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["latest", "step-00000003"]
    kept = load_weights(run / "checkpoints" / "step-00000003" / "weights.npz", TINY)
    assert all(np.isfinite(value).all() for value in kept.values())


class NaNGradientModel:
    """Finite forward pass, a NaN in one gradient: what `culprit` must report."""

    def set_weights(self, weights) -> None:
        pass

    def forward(self, frames, epsilon, training):
        from types import SimpleNamespace

        return SimpleNamespace(taps=OrderedDict(a=np.ones(2), b=np.zeros(2)))

    def gradients(self, frames, epsilon, training):
        return None, OrderedDict(w1=np.ones(2), w2=np.array([1.0, np.nan])), None

    @staticmethod
    def to_numpy(value):
        return np.asarray(value)


def test_a_non_finite_gradient_behind_a_finite_forward_is_named():
    message = culprit(NaNGradientModel(), {}, None, None, {"w2": np.array([np.nan])})
    assert message == "every tap is finite; the first non-finite gradient is that of w2"
