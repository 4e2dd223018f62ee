"""The spec against the seed's graph, worked out by hand from model.py."""

import math

import numpy as np
import pytest

from common.errors import UserError
from spec.cross_conv import build_spec, get_preset, learning_rate
from spec.layer import run_graph
from spec.layout import Transpose, activation_to_chainer, activation_to_tf
from spec.tf_geometry import conv_output_size
from spec.weights import check_weights, load_weights, save_weights, variable_shapes


@pytest.fixture(scope="module")
def paper():
    return build_spec(get_preset("paper"))


def shapes(layers):
    return {layer.name: layer.shape for layer in layers}


def test_paper_motion_encoder_matches_the_seed(paper):
    s = shapes(paper)
    # 128 -> 124 -> 62 -> 58 -> 29 -> 25 -> 21 -> 10 -> 7 -> 5 (VALID, floor pooling)
    assert [s[f"motion_encoder/{n}"][0] for n in (
        "Conv", "MaxPool2D", "Conv_1", "MaxPool2D_1", "Conv_2", "Conv_3", "MaxPool2D_2",
        "Conv_4", "Conv_5")] == [124, 62, 58, 29, 25, 21, 10, 7, 5]
    assert s["motion_encoder/Conv_5"] == (5, 5, 256)
    assert s["motion_encoder/z_mean"] == (3200,)
    assert s["motion_encoder/kernel"] == (5, 5, 128)
    assert s["kernel_decoder/Conv_1"] == (5, 5, 128)


def test_paper_pyramid_encoders_and_decoder(paper):
    s = shapes(paper)
    for level, size in enumerate((32, 64, 128, 256)):
        assert s[f"image_encoder_{level}/MaxPool2D_1"] == (size // 4, size // 4, 32)
        assert s[f"cross_conv_{level}"] == (size // 4, size // 4, 32)
        assert s[f"image_decoder_{level}"] == (64, 64, 64)
    strides = [layer.attrs["stride"] for layer in paper if layer.kind == "deconv"]
    assert strides == [8, 4, 2, 1]
    assert all(isinstance(stride, int) for stride in strides)
    assert s["decoder_input"] == (64, 64, 256)
    assert s["Conv_2"] == (64, 64, 3)


def test_variable_names_follow_slim(paper):
    names = variable_shapes(paper)
    assert names["motion_encoder/Conv_5/weights"] == (3, 3, 256, 256)
    assert names["motion_encoder/Conv_4/weights"] == (4, 4, 128, 256)
    assert names["image_encoder_3/Conv_3/BatchNorm/moving_variance"] == (32,)
    assert names["image_decoder_0/weights"] == (3, 3, 64, 32)  # [h, w, out, in]
    assert names["image_decoder_0/BatchNorm/beta"] == (64,)
    assert names["Conv/weights"] == (9, 9, 256, 128)
    assert names["Conv_2/weights"] == (1, 1, 128, 3)
    # 6 + 2 + 4 * 4 + 3 convs and 4 deconvs, each weights + beta + two moving statistics.
    assert len(names) == (6 + 2 + 16 + 3 + 4) * 4
    assert not any(name.endswith(("/gamma", "/biases")) for name in names)


@pytest.mark.parametrize("preset", ["tiny", "paper"])
def test_every_layer_kind_in_every_preset(preset):
    kinds = {layer.kind for layer in build_spec(get_preset(preset))}
    assert kinds == {"resize", "pair_image", "pair_diff", "concat", "conv", "max_pool",
                     "z_split", "sample_kernel", "cross_conv", "deconv", "l2_loss", "kl_loss",
                     "add"}
    layers = build_spec(get_preset(preset))
    paddings = {layer.attrs.get("padding") for layer in layers if layer.kind == "conv"}
    assert paddings == {"SAME", "VALID"}


def test_tiny_keeps_the_topology_and_names(paper):
    tiny = build_spec(get_preset("tiny"))
    pyramid = ("resize", "pair_image", "pair_diff")
    assert [layer.name for layer in tiny if layer.kind not in pyramid] == \
        [layer.name for layer in paper if layer.kind not in pyramid]
    assert [layer.kind for layer in tiny] == [layer.kind for layer in paper]
    assert [layer.attrs["stride"] for layer in tiny if layer.kind == "deconv"] == [8, 4, 2, 1]


def test_seq_len_and_frame_size_only_change_the_frame_taps():
    a = build_spec(get_preset("tiny"))
    b = build_spec(get_preset("tiny"), frame_size=(60, 60), seq_len=3)
    for x, y in zip(a, b, strict=True):
        if x.kind == "resize":
            assert y.shape == (3, *x.shape[1:])
        else:
            assert x.shape == y.shape


def test_tf_output_size_rule():
    assert conv_output_size(21, 2, 2, "VALID") == 10
    assert conv_output_size(64, 5, 2, "SAME") == 32
    assert conv_output_size(63, 5, 2, "SAME") == 32


def test_learning_rate_closed_form():
    assert learning_rate(0) == 0.8
    assert learning_rate(10000) == pytest.approx(0.4)
    assert learning_rate(5000) == pytest.approx(0.8 / math.sqrt(2))
    assert learning_rate(10 ** 6) == 0.01


def test_layout_rules_round_trip():
    rng = np.random.default_rng(0)
    kernel = rng.standard_normal((5, 3, 6, 7))  # [kh, kw, in, out]
    assert Transpose.KERNEL.to_chainer(kernel).shape == (7, 6, 5, 3)  # (out, in, kh, kw)
    assert np.array_equal(Transpose.KERNEL.to_tf(Transpose.KERNEL.to_chainer(kernel)), kernel)
    x = rng.standard_normal((2, 4, 5, 3))  # NHWC
    assert activation_to_chainer(x).shape == (2, 3, 4, 5)
    assert np.array_equal(activation_to_chainer(x)[1, 2, 3, 4], x[1, 3, 4, 2])
    assert np.array_equal(activation_to_tf(activation_to_chainer(x)), x)
    z = rng.standard_normal((2, 9))
    assert activation_to_chainer(z) is z


def test_run_graph_applies_in_order_and_overrides():
    layers = build_spec(get_preset("tiny"))
    seen = []

    def apply(layer, inputs):
        seen.append(layer.name)
        return layer.name

    taps = run_graph(layers, apply, {"frames": 0, "epsilon": 0},
                     overrides={"motion_encoder/z_mean": "given"})
    assert list(taps) == [layer.name for layer in layers]
    assert "motion_encoder/z_mean" not in seen
    assert taps["motion_encoder/z_mean"] == "given"


def test_weights_check_reports_every_problem(tmp_path):
    layers = build_spec(get_preset("tiny"))
    weights = {name: np.zeros(shape, np.float32) for name, shape in variable_shapes(layers).items()}
    save_weights(tmp_path / "w.npz", weights)
    loaded = load_weights(tmp_path / "w.npz", layers)
    assert list(loaded) == list(variable_shapes(layers))

    broken = dict(weights)
    del broken["Conv/weights"]
    broken["extra/weights"] = np.zeros(3, np.float32)
    broken["Conv_1/weights"] = np.zeros((2, 2), np.float32)
    broken["Conv_2/BatchNorm/beta"] = np.full(3, np.nan, np.float32)
    with pytest.raises(UserError) as error:
        check_weights(broken, layers, "w.npz")
    message = str(error.value)
    assert "\n" not in message
    for fragment in ("missing Conv/weights", "unexpected extra/weights",
                     "Conv_1/weights has shape [2, 2], expected [1, 1, 16, 16]",
                     "Conv_2/BatchNorm/beta has non-finite values"):
        assert fragment in message


def test_load_weights_rejects_a_file_that_is_not_npz(tmp_path):
    path = tmp_path / "w.npz"
    path.write_bytes(b"not a zip file")
    with pytest.raises(UserError, match="not a readable .npz"):
        load_weights(path, build_spec(get_preset("tiny")))
