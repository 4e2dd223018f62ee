"""The interchange format across the twins: tf -> npz -> chainer -> npz -> tf, bit-exact."""

import numpy as np
import pytest

from chainer_port.cross_conv import CrossConvModel as ChainerModel
from spec.cross_conv import build_spec, get_preset
from spec.weights import load_weights
from tf_reference.cross_conv import CrossConvModel as TFModel


@pytest.mark.parametrize("preset", ["tiny"])
def test_round_trip_is_bit_exact(tmp_path, preset):
    tf_model = TFModel(preset, seed=3)
    # Moving statistics are not trained: give them values so the trip carries them too.
    weights = tf_model.get_weights()
    rng = np.random.default_rng(0)
    for name in weights:
        if name.endswith("moving_variance"):
            weights[name] = rng.uniform(0.5, 2.0, weights[name].shape).astype(np.float32)
    tf_model.set_weights(weights)
    tf_model.save(tmp_path / "a.npz")

    chainer_model = ChainerModel(preset, seed=99)
    chainer_model.load(tmp_path / "a.npz")
    chainer_model.save(tmp_path / "b.npz")
    back = TFModel(preset, seed=7)
    back.load(tmp_path / "b.npz")

    layers = build_spec(get_preset(preset))
    a, b = load_weights(tmp_path / "a.npz", layers), load_weights(tmp_path / "b.npz", layers)
    final = back.get_weights()
    for name in a:
        assert a[name].tobytes() == b[name].tobytes() == final[name].tobytes(), name


def test_diff_reports_per_variable(cli, tmp_path):
    TFModel("tiny", seed=1).save(tmp_path / "a.npz")
    TFModel("tiny", seed=2).save(tmp_path / "b.npz")
    status, out, _ = cli("weights", "diff", tmp_path / "a.npz", tmp_path / "a.npz")
    assert status == 0 and "124 variables, 0 differ" in out
    status, out, _ = cli("weights", "diff", tmp_path / "a.npz", tmp_path / "b.npz")
    assert status == 1
    assert "motion_encoder/Conv/weights" in out and "differs" in out
