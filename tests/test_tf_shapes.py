"""The TF reference returns one tap per spec layer, in graph order, with the spec's shapes."""

import numpy as np
import pytest

from common.errors import UserError
from spec.cross_conv import build_spec, get_preset
from spec.cross_conv.graph import Z_MEAN
from spec.layer import Layer
from tf_reference import CrossConvModel
from tf_reference.device import tf_device


def expected_shape(layer: Layer, batch: int, seq_len: int) -> tuple[int, ...]:
    if layer.batch is None:
        return ()
    rows = batch if layer.batch == "B" else batch * (seq_len - 1)
    return (rows, *layer.shape)


def check_taps(preset: str, batch: int, seq_len: int, frame: int = 64) -> dict:
    model = CrossConvModel(preset)
    frames = np.random.default_rng(0).random((batch, seq_len, frame, frame, 3), np.float32)
    result = model.forward(frames)
    layers = build_spec(get_preset(preset), (frame, frame), seq_len)
    assert list(result.taps) == [layer.name for layer in layers]
    for layer in layers:
        shape = tuple(result.taps[layer.name].shape)
        assert shape == expected_shape(layer, batch, seq_len), layer.name
    assert result.output is result.taps["Conv_2"]
    assert result.kernel is result.taps["motion_encoder/kernel"]
    assert np.isfinite(model.to_numpy(result.loss))
    return {name: model.to_numpy(value) for name, value in result.taps.items()}


def test_tiny_taps_seq_len_2():
    taps = check_taps("tiny", batch=2, seq_len=2)
    assert taps["Conv_2"].min() >= 0  # the last conv has BatchNorm + ReLU too
    assert taps["motion_encoder/z_stddev_log"].min() >= 0


def test_tiny_taps_seq_len_3_stack_pairs_pair_major():
    taps = check_taps("tiny", batch=2, seq_len=3)
    frames = taps["frames_32"]
    np.testing.assert_array_equal(taps["image_32"], np.concatenate([frames[:, 0], frames[:, 1]]))
    diffs = np.concatenate([frames[:, 1] - frames[:, 0], frames[:, 2] - frames[:, 1]])
    np.testing.assert_allclose(taps["diff_32"], (diffs + 10) / 2, rtol=1e-6, atol=1e-6)


@pytest.mark.paper
def test_paper_taps():
    taps = check_taps("paper", batch=2, seq_len=2)
    assert taps["motion_encoder/z_mean"].shape == (2, 3200)


def test_model_accepts_a_preset_object():
    model = CrossConvModel(get_preset("tiny"))
    assert model.preset.name == "tiny"
    assert [layer.name for layer in model.layers] == [
        layer.name for layer in build_spec(get_preset("tiny"))]


def test_bad_inputs_are_user_errors():
    model = CrossConvModel("tiny")
    with pytest.raises(UserError, match="frames must be"):
        model.forward(np.zeros((2, 64, 64, 3), np.float32))
    with pytest.raises(UserError, match="frames must be"):
        model.forward(np.zeros((2, 1, 64, 64, 3), np.float32))
    with pytest.raises(UserError, match=r"epsilon must be \[2, 144\]"):
        model.forward(np.zeros((2, 2, 64, 64, 3), np.float32), np.zeros((2, 10), np.float32))
    with pytest.raises(UserError, match=r"motion_encoder/z_mean must be \[2, 144\]"):
        model.forward(np.zeros((2, 2, 64, 64, 3), np.float32),
                      overrides={Z_MEAN: np.zeros((2, 3))})
    with pytest.raises(UserError, match="no layer named 'nope'"):
        model.run_layer("nope", [])
    with pytest.raises(UserError, match="unknown preset"):
        CrossConvModel("huge")


def test_device_names():
    assert tf_device("cpu") == "/CPU:0"
    assert tf_device(" CPU ") == "/CPU:0"
    with pytest.raises(UserError, match="use 'cpu' or a GPU id"):
        tf_device("tpu")
    with pytest.raises(UserError, match="GPU"):
        tf_device("gpu:99")
