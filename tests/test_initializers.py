"""TF1's initialisers (spec/initializers.py): each name's closed form against TF's own
initialiser, both twins' draws against the closed form (the initialisation check), fans from
the TF shape, and an unknown name as one line when the pair is built."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from common.errors import UserError
from common.tf_startup import import_tensorflow
from parity.init_check import expected_distribution, init_diffs, side_stats
from spec import initializers
from spec.layer import Variable
from spec.layout import Transpose

tf = import_tensorflow()
v1 = tf.compat.v1

CONV3D = (2, 3, 3, 16, 24)  # [D, H, W, in, out]
DENSE = (96, 64)
# name -> TF1's own initialiser object
TF_INITIALISERS = {
    "xavier_uniform": v1.glorot_uniform_initializer(),
    "glorot_uniform": v1.glorot_uniform_initializer(),
    "glorot_normal": v1.glorot_normal_initializer(),
    "he_uniform": v1.keras.initializers.he_uniform(),
    "he_normal": v1.keras.initializers.he_normal(),
    "lecun_uniform": v1.keras.initializers.lecun_uniform(),
    "lecun_normal": v1.keras.initializers.lecun_normal(),
    "variance_scaling:2.0,fan_out,uniform": v1.variance_scaling_initializer(
        2.0, "fan_out", "uniform"),
    "variance_scaling:0.5,fan_avg,normal": v1.variance_scaling_initializer(
        0.5, "fan_avg", "normal"),
    "variance_scaling:1.0,fan_in,untruncated_normal": v1.variance_scaling_initializer(
        1.0, "fan_in", "untruncated_normal"),
    "random_uniform:-0.3,0.5": v1.random_uniform_initializer(-0.3, 0.5),
    "random_normal:0.2,0.05": v1.random_normal_initializer(0.2, 0.05),
    "truncated_normal:0.01": v1.truncated_normal_initializer(stddev=0.01),
    "truncated_normal:-1.0,0.1": v1.truncated_normal_initializer(-1.0, 0.1),
    "constant:0.25": v1.constant_initializer(0.25),
    "ones": v1.ones_initializer(),
    "orthogonal": v1.orthogonal_initializer(),
    "orthogonal:1.5": v1.orthogonal_initializer(1.5),
}


def problems(init: str, shape: tuple[int, ...], values: np.ndarray) -> tuple[str, ...]:
    return side_stats(values, expected_distribution(Variable("v", shape, init=init))).problems


@pytest.mark.parametrize("shape", [CONV3D, DENSE, (64, 96)], ids=["conv3d", "tall", "wide"])
@pytest.mark.parametrize("init", list(TF_INITIALISERS))
def test_the_closed_form_holds_tfs_own_draw_and_both_twins(init, shape):
    with tf.device("/cpu:0"):
        tf_own = TF_INITIALISERS[init](shape, dtype=tf.float32).numpy()
    assert problems(init, shape, tf_own) == (), "TF1's own initialiser"
    distribution = initializers.parse(init, shape)
    for source in (initializers.numpy_source(np.random.default_rng(3)),
                   _tf_source(tf.random.Generator.from_seed(3))):
        drawn = initializers.draw(distribution, shape, source)
        assert drawn.shape == shape and drawn.dtype == np.float32
        assert problems(init, shape, drawn) == ()


def _tf_source(rng):
    from tf_reference.layers import tf_source

    return tf_source(rng)


@pytest.mark.parametrize(("init", "other"), [
    ("glorot_normal", "he_normal"), ("he_uniform", "lecun_uniform"),
    ("xavier_normal", "he_normal"), ("random_normal:0.2,0.05", "random_normal:0,0.05"),
    ("orthogonal", "glorot_normal"),
])
def test_the_check_tells_initialisers_apart(init, other):
    """Drawn by `other` where `init` is declared: the check fails (its teeth)."""
    drawn = initializers.draw(initializers.parse(other, CONV3D), CONV3D,
                              initializers.numpy_source(np.random.default_rng(0)))
    assert problems(init, CONV3D, drawn)


def test_fans_come_from_the_tf_shape():
    assert initializers.fans((7,)) == (7, 7)
    assert initializers.fans((5, 3)) == (5, 3)
    assert initializers.fans((2, 3, 3, 16, 24)) == (2 * 9 * 16, 2 * 9 * 24)
    # a conv2d_transpose kernel [kh, kw, out, in]: TF's fans of that very shape
    assert initializers.fans((3, 3, 8, 4)) == (72, 36)


def test_the_chainer_twin_draws_in_tf_shape_and_transposes():
    """A conv2d_transpose kernel with fans that differ by in / out: the Chainer array, taken
    back to TF's layout, is TF's distribution for the TF shape."""
    from chainer_port.initializers import spec_initializer

    variable = Variable("deconv/weights", (3, 3, 8, 64), Transpose.KERNEL, "he_normal")
    array = np.empty((64, 8, 3, 3), np.float32)
    spec_initializer(variable, np.random.default_rng(0))(array)
    assert problems("he_normal", variable.shape, Transpose.KERNEL.to_tf(array)) == ()
    wrong = Variable("deconv/weights", (3, 3, 64, 8), init="he_normal")  # fans swapped
    assert problems("he_normal", wrong.shape, Transpose.KERNEL.to_tf(array))


def test_both_twins_own_weights_pass_the_initialisation_check():
    """The outside pair with other initialisers: each twin's own draw passes."""
    from tests import outside_pair

    inits = {"conv1/kernel": "he_normal", "conv2/kernel": "orthogonal",
             "dense/kernel": "variance_scaling:1.0,fan_avg,uniform", "norm1/gamma": "ones",
             "conv1/bias": "constant:0.1"}

    def build(preset):
        return [dataclasses.replace(layer, variables=tuple(
            dataclasses.replace(v, init=inits.get(v.name, v.init)) for v in layer.variables))
            for layer in outside_pair.build(preset)]

    pair = dataclasses.replace(outside_pair.PAIR, build=build)
    layers = build(pair.presets["small"])
    twins = [type(f"Other{cls.__name__}", (cls,), {"pair": pair})("small", seed=0)
             for cls in (outside_pair.TFRegressor, outside_pair.ChainerRegressor)]
    tf_weights, chainer_weights = (twin.get_weights() for twin in twins)
    diffs = init_diffs(tf_weights, chainer_weights, layers)
    assert {d.name for d in diffs} >= set(inits)
    assert all(not d.failed for d in diffs), [d.suggestion for d in diffs if d.failed]
    np.testing.assert_array_equal(tf_weights["conv1/bias"], np.float32(0.1))


@pytest.mark.parametrize(("init", "message"), [
    ("glorot_normalx", "variable w: unknown initialiser 'glorot_normalx' (known: zeros, ones"),
    ("random_uniform:1", "variable w: initialiser 'random_uniform:1': expected 2 number(s)"),
    ("variance_scaling:2.0,fan_sideways,uniform", "expected variance_scaling:SCALE,MODE,DIST"),
    ("truncated_normal:a", "expected 1 or 2 number(s)"),
    ("he_normal:3", "unknown initialiser 'he_normal:3'"),
])
def test_an_unknown_or_malformed_initialiser_is_one_line(init, message):
    with pytest.raises(UserError) as error:
        Variable("w", (3, 3, 4, 8), init=init)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_orthogonal_needs_a_matrix():
    with pytest.raises(UserError, match="orthogonal needs a shape of rank 2"):
        Variable("b", (8,), init="orthogonal")
