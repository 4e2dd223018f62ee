"""Importing a TF1 tf.train.Saver checkpoint written with the seed's variable names."""

from collections.abc import Mapping

import numpy as np
import pytest
import tensorflow as tf

from common.errors import UserError
from spec.cross_conv import build_spec, get_preset
from spec.weights import variable_shapes
from tf_reference import CrossConvModel
from tf_reference.checkpoint import import_tf1_checkpoint

LAYERS = build_spec(get_preset("tiny"))


def seed_weights() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {name: rng.standard_normal(shape).astype(np.float32)
            for name, shape in variable_shapes(LAYERS).items()}


def write_tf1_checkpoint(prefix: str, weights: Mapping[str, np.ndarray],
                         global_step: int | None = 42) -> str:
    """A graph-mode Saver checkpoint, variables created by get_variable in their scopes."""
    with tf.Graph().as_default():
        for name, value in weights.items():
            scope, _, leaf = name.rpartition("/")
            with tf.compat.v1.variable_scope(scope):
                tf.compat.v1.get_variable(leaf, initializer=tf.constant(value))
        if global_step is not None:
            tf.compat.v1.Variable(global_step, name="global_step", trainable=False)
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            return tf.compat.v1.train.Saver().save(session, prefix)


def test_import_is_bit_exact(tmp_path):
    weights = seed_weights()
    prefix = write_tf1_checkpoint(str(tmp_path / "model.ckpt"), weights)
    imported, step = import_tf1_checkpoint(prefix, LAYERS)
    assert step == 42
    assert list(imported) == list(variable_shapes(LAYERS))
    for name, value in weights.items():
        assert imported[name].dtype == np.float32
        np.testing.assert_array_equal(imported[name], value)
    model = CrossConvModel("tiny")
    model.set_weights(imported)
    np.testing.assert_array_equal(model.get_weights()["Conv_2/weights"], weights["Conv_2/weights"])
    _, step = import_tf1_checkpoint(tmp_path, LAYERS)  # the folder: its latest checkpoint
    assert step == 42


def test_without_global_step(tmp_path):
    prefix = write_tf1_checkpoint(str(tmp_path / "model.ckpt"), seed_weights(), None)
    assert import_tf1_checkpoint(prefix, LAYERS)[1] is None


def test_another_graph_names_every_difference(tmp_path):
    weights = seed_weights()
    weights["Conv_2/kernel"] = weights.pop("Conv_2/weights")
    weights["Conv_1/BatchNorm/beta"] = np.zeros((5,), np.float32)
    prefix = write_tf1_checkpoint(str(tmp_path / "model.ckpt"), weights)
    with pytest.raises(UserError) as error:
        import_tf1_checkpoint(prefix, LAYERS)
    message = str(error.value)
    assert "missing Conv_2/weights [1, 1, 16, 3]" in message
    assert "unexpected Conv_2/kernel [1, 1, 16, 3]" in message
    assert "Conv_1/BatchNorm/beta has shape [5], expected [16]" in message


def test_unreadable_checkpoint_is_one_line(tmp_path):
    garbage = tmp_path / "junk.index"
    garbage.write_bytes(b"not a checkpoint")
    for prefix in (tmp_path / "missing.ckpt", tmp_path / "junk", tmp_path):
        with pytest.raises(UserError, match="not a readable TensorFlow checkpoint") as error:
            import_tf1_checkpoint(prefix, LAYERS)
        assert "\n" not in str(error.value)
