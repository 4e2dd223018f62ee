"""`twinport parity original`: a pair's TF reference against the TF1 code it re-implements.

The original here is a small TF1-style graph this test writes itself (slim convs, a layer norm
by hand, a slim dense head, FLAGS, `tensorflow.contrib` imports) for tests/outside_pair.py's
network; `ORIGINAL_PAIR` is that pair with the map to it.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

from parity.original import OriginalSettings, check_original
from spec.original import OriginalCode, Patch
from spec.pitfall import SharedMistake
from tests.outside_pair import PAIR, tf

ORIGINAL_CODE = '''\
import tensorflow as tf

import tensorflow.contrib.slim as slim
from tensorflow.python.platform import flags

FLAGS = flags.FLAGS
flags.DEFINE_integer('width', 4, 'channels of both convs')


def layer_norm(x, scope):
  with tf.variable_scope(scope):
    gamma = tf.get_variable('gamma', [x.get_shape()[-1]], initializer=tf.ones_initializer())
    beta = tf.get_variable('beta', [x.get_shape()[-1]], initializer=tf.zeros_initializer())
    mean, variance = tf.nn.moments(x, AXES, keep_dims=True)
    return tf.identity((x - mean) * tf.rsqrt(variance + 1e-3) * gamma + beta, name='normed')


def regressor(image):
  net = slim.conv2d(image, FLAGS.width, [3, 3], scope='conv1')
  net = layer_norm(net, 'norm1')
  net = slim.conv2d(net, FLAGS.width, [3, 3], stride=2, scope='conv2')
  net = tf.reshape(net, [int(image.get_shape()[0]), -1])
  return slim.fully_connected(net, 3, activation_fn=None, scope='dense')
'''
RIGHT = ORIGINAL_CODE.replace("AXES", "[1, 2, 3]")
PER_PIXEL = ORIGINAL_CODE.replace("AXES", "[3]")  # the norm over each pixel's channels


def build(tf, load, inputs, preset, training):
    output = load("regressor").regressor(inputs["image"])
    return {"loss": tf.reduce_mean(tf.square(output - inputs["target"]))}


def tensors(preset, training):
    return {"conv1": "conv1/Relu:0", "norm1": "norm1/normed:0", "conv2": "conv2/Relu:0",
            "dense": "dense/BiasAdd:0"}


MAP = OriginalCode(
    source="the test's regressor.py", files=("regressor.py",), flags=lambda p, t: {},
    build=build, tensors=tensors,
    variable=lambda name: name.replace("/kernel", "/weights").replace("/bias", "/biases"))
ORIGINAL_PAIR = dataclasses.replace(PAIR, original=MAP)
PATCHED = dataclasses.replace(PAIR, original=dataclasses.replace(MAP, patches=lambda p: (
    Patch("regressor.py", "scope='conv9'", "scope='conv1'", "a scope renamed"),)))


def write_code(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "regressor.py").write_text(text)
    return folder


def check(folder: Path, data: Path, pair: str = "tests.test_original:ORIGINAL_PAIR",
          reference_class: type | None = None):
    settings = OriginalSettings(pair, "small", str(folder), str(data), batch_size=3)
    return check_original(settings, progress=False, reference_class=reference_class)


def test_the_reference_matches_its_original(tmp_path, moving_objects_dir):
    run, notes = check(write_code(tmp_path / "code", RIGHT), moving_objects_dir)
    verdict = run.ensure_verdict()
    assert verdict.passed, verdict.summary_text()
    for diffs in run.sections.values():
        assert [d.name for d in diffs] == ["conv1", "norm1", "conv2", "dense", "loss"]
        assert all(d.max_abs < 1e-5 for d in diffs)
    assert "8 variables loaded by name, in the pair's creation order" in notes
    assert sys.modules["tensorflow"].__name__ == "tensorflow"  # TF 2 again, no stand-in
    assert "regressor" not in sys.modules


def test_a_reference_that_departs_fails_at_the_first_divergent_tap(tmp_path,
                                                                    moving_objects_dir):
    run, _ = check(write_code(tmp_path / "code", PER_PIXEL), moving_objects_dir)
    verdict = run.ensure_verdict()
    assert not verdict.passed
    assert verdict.first_divergent == "norm1"
    assert [d.name for d in run.sections[verdict.first_section] if not d.failed][:1] == [
        "conv1"]


class ExtraRelu(SharedMistake):
    """A relu after the layer norm, in the graph both twins follow."""

    @staticmethod
    def mutate(layers):
        return [dataclasses.replace(layer, kind="layer_norm_relu") if layer.name == "norm1"
                else layer for layer in layers]


def test_a_mistake_both_twins_share_is_caught_against_the_original(tmp_path,
                                                                   moving_objects_dir):
    from tests.outside_pair import TFRegressor

    class Mutated(ExtraRelu.with_twin(TFRegressor)):
        def _layer_norm_relu(self, layer, x, training):
            return tf.nn.relu(self._layer_norm(layer, x, training))

    run, _ = check(write_code(tmp_path / "code", RIGHT), moving_objects_dir,
                   reference_class=Mutated)
    assert run.ensure_verdict().first_divergent == "norm1"


@pytest.mark.parametrize(("change", "message"), [
    (lambda f: (f / "regressor.py").unlink(), "lacks regressor.py (the files of the test's "
     "regressor.py)"),
    (lambda f: (f / "regressor.py").write_text(RIGHT.replace("FLAGS.width", "FLAGS.depth")),
     "the original code reads FLAGS.depth, which the pair's map to it does not set"),
    (lambda f: (f / "regressor.py").write_text(RIGHT.replace("net = tf.reshape", "net = tfx.r")),
     "the original code raised building its graph: regressor.py:22: NameError: name 'tfx' is "
     "not defined"),
    (lambda f: (f / "regressor.py").write_text(RIGHT.replace("name='normed'", "name='out'")),
     "the original graph has no tensor norm1/normed:0 (ops under norm1/:"),
    (lambda f: (f / "regressor.py").write_text(RIGHT.replace("scope='dense'", "scope='head'")),
     "the original graph has no variable dense/weights (the pair's dense/kernel; 2 missing "
     "of 8;"),
])
def test_every_failure_of_the_original_is_one_line(cli, tmp_path, moving_objects_dir, change,
                                                   message):
    folder = write_code(tmp_path / "code", RIGHT)
    change(folder)
    status, out, err = cli("parity", "original", "--model", "tests.test_original:ORIGINAL_PAIR",
                           "--preset", "small", "--code", folder, "--data", moving_objects_dir,
                           "--quiet", "--out", tmp_path / "report")
    assert status == 2
    assert message in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert sys.modules["tensorflow"].__name__ == "tensorflow"


def test_a_patch_the_code_does_not_hold_is_one_line(cli, tmp_path, moving_objects_dir):
    status, _, err = cli("parity", "original", "--model", "tests.test_original:PATCHED",
                         "--preset", "small", "--code", write_code(tmp_path / "code", RIGHT),
                         "--data", moving_objects_dir, "--quiet", "--out", tmp_path / "r")
    assert status == 2
    assert "expected 1 occurrence(s) of \"scope='conv9'\" to patch (a scope renamed), found 0" \
        in err, err


def test_the_command_passes_and_writes_the_report(cli, tmp_path, moving_objects_dir):
    status, out, _ = cli("parity", "original", "--model", "tests.test_original:ORIGINAL_PAIR",
                         "--preset", "small", "--code", write_code(tmp_path / "code", RIGHT),
                         "--data", moving_objects_dir, "--quiet", "--out", tmp_path / "r")
    assert status == 0, out
    assert "PASS: 10 comparisons in 2 sections agree" in out
    assert (tmp_path / "r" / "report.html").exists()
    assert "8 variables loaded by name" in (tmp_path / "r" / "original.txt").read_text()


def test_a_model_without_a_map_is_one_line(cli, tmp_path):
    status, _, err = cli("parity", "original", "--model", "convlstm", "--code", tmp_path)
    assert status == 2
    assert "model convlstm has no map to its original code" in err


def test_the_check_runs_under_op_determinism(tmp_path, moving_objects_dir):
    """On a GPU twinport turns TF's op determinism on, which refuses unseeded random ops: the
    original's initialisers are seeded (their values are replaced by the pair's weights)."""
    from tensorflow.python.framework import config

    was = config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    try:
        run, _ = check(write_code(tmp_path / "code", RIGHT), moving_objects_dir)
    finally:
        if not was:
            config.disable_op_determinism()
    assert run.ensure_verdict().passed


PACKAGED_CODE = '''\
import tensorflow as tf


def net(x):
  for step in range(2):
    with tf.variable_scope('outer', reuse=step > 0):
      with tf.variable_scope('cell'):
        y = tf.layers.conv3d(x, 3, [2, 3, 3], padding='same')
        y = tf.layers.conv3d(y, 2, [1, 1, 1], padding='same')
      x = tf.layers.conv3d(y, 1, [2, 1, 1], [2, 1, 1], 'same')
  return x
'''


def test_code_in_package_folders_with_tf1s_legacy_convs(tmp_path):
    """google/e3d_lstm's layout: modules under src/... without __init__.py; its unnamed
    tf.layers.conv3d calls named conv3d, conv3d_1 in each scope, afresh at every reuse, and
    computing the conv and its bias."""
    from tf_reference.original import original_modules, tf1

    (tmp_path / "src" / "models").mkdir(parents=True)
    (tmp_path / "src" / "models" / "packaged.py").write_text(PACKAGED_CODE)
    graph = tf.Graph()
    with graph.as_default(), original_modules(tmp_path, (), {}) as load:
        tf1.set_random_seed(0)  # the suite runs under op determinism
        x = tf1.placeholder(tf.float32, [1, 2, 4, 4, 1])
        y = load("src.models.packaged").net(x)
        variables = {v.op.name: v for v in tf1.global_variables()}
        with tf1.Session(graph=graph) as session:
            session.run(tf1.global_variables_initializer())
            kernel = session.run(variables["outer/conv3d/kernel"])
            value = np.ones((1, 2, 4, 4, 1), np.float32)
            found, first, inner = session.run(
                [y, "outer/conv3d/BiasAdd:0", "outer/cell/conv3d_1/BiasAdd:0"], {x: value})
    assert list(variables) == ["outer/cell/conv3d/kernel", "outer/cell/conv3d/bias",
                     "outer/cell/conv3d_1/kernel", "outer/cell/conv3d_1/bias",
                     "outer/conv3d/kernel", "outer/conv3d/bias"]
    assert found.shape == (1, 1, 4, 4, 1)
    # the first step's [2, 1, 1] stride-2 conv: one frame, the kernel over depth and channels
    np.testing.assert_allclose(first[0, 0, :, :, 0], np.einsum(
        "dhwc,dc->hw", inner[0], kernel[:, 0, 0, :, 0]), rtol=1e-5, atol=1e-6)
    assert "src" not in sys.modules and "src.models.packaged" not in sys.modules


OFFSET = "tests.test_original:OFFSET_PAIR"


def offset_build(tf, load, inputs, preset, training):
    """The loss of the regressor plus a placeholder the pair has no input for."""
    output = load("regressor").regressor(inputs["image"])
    offset = tf.placeholder(tf.float32, [], name="offset")
    return {"loss": tf.reduce_mean(tf.square(output + offset - inputs["target"]))}


OFFSET_PAIR = dataclasses.replace(PAIR, original=dataclasses.replace(
    MAP, build=offset_build, feeds=lambda preset, inputs, taps, training: {
        "offset:0": np.float32(0)}))
OFFSET_ONE = dataclasses.replace(OFFSET_PAIR, original=dataclasses.replace(
    OFFSET_PAIR.original, feeds=lambda preset, inputs, taps, training: {
        "offset:0": np.float32(1)}))


def test_a_placeholder_the_pair_lacks_is_fed_from_the_maps_feeds(tmp_path, moving_objects_dir):
    """`OriginalCode.feeds`: the VPN's initial LSTM state is such a placeholder."""
    folder = write_code(tmp_path / "code", RIGHT)
    run, _ = check(folder, moving_objects_dir, OFFSET)
    assert run.ensure_verdict().passed
    run, _ = check(folder, moving_objects_dir, "tests.test_original:OFFSET_ONE")
    verdict = run.ensure_verdict()
    assert not verdict.passed and verdict.first_divergent == "loss"
