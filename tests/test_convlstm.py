"""The ConvLSTM encoder-forecaster pair (seed 002): the dump's variables on both twins, the TF
ops the port mirrors, parity on the tiny preset, its data check."""

from __future__ import annotations

import math

import numpy as np
import pytest

from common.tf_startup import import_tensorflow
from spec.convlstm import PAIR
from tests.backend_runs import assert_backends_agree, passing_parity, train_eval_predict

# The seed's variable dump (../shared/seeds/002_*.txt), one cell's pattern and the head.
CELLS = {"enco_cl1": (16, 128), "enco_cl2": (128, 64), "enco_cl3": (64, 64),
         "fore_cl1": (64, 128), "fore_cl2": (64, 64), "fore_cl3": (64, 64)}
DUMP_VARIABLES, DUMP_PARAMETERS = 92, 8_386_576


def dump() -> dict[str, tuple[int, ...]]:
    shapes = {}
    for cell, (cin, width) in CELLS.items():
        for peephole in ("inputc", "forgetc", "outputc"):
            shapes[f"CL/{cell}/{peephole}"] = (1, 16, 16, width)
        for gate in ("input", "forget", "cell", "output"):
            shapes[f"CL/{cell}/{gate}x2state/kernel"] = (5, 5, cin, width)
            shapes[f"CL/{cell}/{gate}h2state/kernel"] = (5, 5, width, width)
            shapes[f"CL/{cell}/{gate}h2state/bias"] = (width,)
    shapes["CL/finl_predict/kernel"] = (1, 1, 256, 16)
    shapes["CL/finl_predict/bias"] = (16,)
    return shapes


@pytest.mark.parametrize("backend", ["tf", "chainer"])
def test_both_twins_hold_the_dumps_variables(backend):
    weights = PAIR.twin_class(backend)("seed").get_weights()
    assert {name: value.shape for name, value in weights.items()} == dump()
    assert len(weights) == DUMP_VARIABLES
    assert sum(math.prod(v.shape) for v in weights.values()) == DUMP_PARAMETERS


def test_the_ports_space_to_depth_is_tfs():
    import chainer.functions as F

    from chainer_port.tf_compat import tf_space_to_depth

    tf = import_tensorflow()
    frame = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype(np.float32)
    want = tf.nn.space_to_depth(frame, 4).numpy()
    nchw = frame.transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(tf_space_to_depth(nchw, 4).array.transpose(0, 2, 3, 1), want)
    back = F.depth2space(want.transpose(0, 3, 1, 2), 4).array.transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(back, tf.nn.depth_to_space(want, 4).numpy())
    assert not np.array_equal(
        tf_space_to_depth(nchw, 4, "nchw_reshape").array.transpose(0, 2, 3, 1), want)


def test_the_twins_pass_every_section_on_the_tiny_preset(moving_mnist_dir):
    run = passing_parity("convlstm", "tiny", moving_mnist_dir)
    verdict = run.ensure_verdict()
    taps = [d.name for d in run.sections["forward/isolated/training"]]
    # Every cell at every step is its own tap, the forecaster's fed the encoder's states.
    assert {"CL/enco_cl1_2", "CL/fore_cl3_0", "CL/fore_cl1_2/h", "CL/prediction_2"} <= set(taps)
    assert {"backward/isolated", "gradients", "training_losses"} <= set(verdict.sections)


def test_data_that_does_not_fit_is_one_line(cli, moving_objects_dir, tmp_path):
    status, out, err = cli("parity", "--model", "convlstm", "--preset", "tiny", "--data",
                           moving_objects_dir, "--out", tmp_path / "r", "--quiet")
    assert status == 2
    assert "does not fit preset tiny: 3 channels, the model takes 1" in err


def test_train_eval_and_predict_on_both_backends(cli, moving_mnist_dir, tmp_path):
    from data import Dataset

    np.save(tmp_path / "x.npy", Dataset(moving_mnist_dir, "test").get([0, 1]))
    found = train_eval_predict(cli, "convlstm", moving_mnist_dir, tmp_path / "x.npy", tmp_path)
    assert_backends_agree(found, (2, 3, 16, 16, 1))


def test_the_open_choices_are_preset_fields_both_twins_follow():
    """Shi et al.'s input-free forecaster and a sigmoid output on [0, 1] pixels: the other
    values of two choices the dump leaves open; both twins compute the same."""
    import dataclasses

    from common.errors import UserError
    from data.moving_mnist import draw, render

    preset = dataclasses.replace(PAIR.get_preset("tiny"), forecaster_input="zeros",
                                 output="sigmoid", pixel_scale=1.0)
    frames = render(draw(0, 0, 2), 20).astype(np.float32) / 255
    twins = {backend: PAIR.twin_class(backend)(preset) for backend in ("tf", "chainer")}
    twins["chainer"].set_weights(twins["tf"].get_weights())
    taps = {backend: twin.forward(frames).taps for backend, twin in twins.items()}
    tf_frames = np.asarray(taps["tf"]["CL/prediction_2"])
    chainer_frames = taps["chainer"]["CL/prediction_2"].array.transpose(0, 2, 3, 1)
    assert 0 < tf_frames.min() and tf_frames.max() < 1  # the sigmoid
    np.testing.assert_allclose(chainer_frames, tf_frames, rtol=1e-4, atol=1e-5)
    with pytest.raises(UserError, match="forecaster_input 'nothing'"):
        dataclasses.replace(preset, forecaster_input="nothing")
