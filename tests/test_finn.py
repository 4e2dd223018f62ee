"""Finn et al.'s predictor (seed 001), CDNA / DNA / STP: the TF code's variables on both
twins, the TF ops the port mirrors against TF or a closed form, parity on the tiny presets,
scheduled sampling's shared choice, its data check, and train / eval / predict."""

from __future__ import annotations

import numpy as np
import pytest

from spec.finn import CDNA_PAIR, DNA_PAIR, STP_PAIR
from spec.layout import activation_to_tf
from spec.registry import get_pair
from tests.backend_runs import assert_backends_agree, passing_parity, train_eval_predict

PAIRS = {"cdna": CDNA_PAIR, "dna": DNA_PAIR, "stp": STP_PAIR}


def tf_code_variables(model: str, state: int = 2, action: int = 2
                      ) -> list[tuple[str, tuple[int, ...]]]:
    """The variables prediction_model.py's construct_model makes in the `model` scope, in
    creation order, for the paper's flags (read from the TF code, written out by hand)."""
    def conv(scope: str, shape: tuple[int, ...], bias: bool = True) -> list:
        out = [(f"model/{scope}/weights", shape)]
        return out + [(f"model/{scope}/biases", (shape[-1] if "convt" not in scope
                                                 else shape[2],))] * bias

    def norm(scope: str, width: int) -> list:
        return [(f"model/{scope}/beta", (width,)), (f"model/{scope}/gamma", (width,))]

    def cell(n: int, cin: int, width: int) -> list:
        return [(f"model/state{n}/Gates/weights", (5, 5, cin + width, 4 * width)),
                (f"model/state{n}/Gates/biases", (4 * width,))]

    masks = 1 if model == "dna" else 10
    out = (conv("scale1_conv1", (5, 5, 3, 32), bias=False) + norm("scale1_conv1/layer_norm1", 32)
           + cell(1, 32, 32) + norm("layer_norm2", 32) + cell(2, 32, 32) + norm("layer_norm3", 32)
           + conv("conv2", (3, 3, 32, 32)) + cell(3, 32, 64) + norm("layer_norm4", 64)
           + cell(4, 64, 64) + norm("layer_norm5", 64) + conv("conv3", (3, 3, 64, 64))
           + conv("conv4", (1, 1, 64 + state + action, 64)) + cell(5, 64, 128)
           + norm("layer_norm6", 128) + conv("convt1", (3, 3, 128, 128)) + cell(6, 128, 64)
           + norm("layer_norm7", 64) + conv("convt2", (3, 3, 96, 96)) + cell(7, 96, 32)
           + norm("layer_norm8", 32) + conv("convt3", (3, 3, 64, 64), bias=False)
           + norm("convt3/layer_norm9", 64)
           + conv("convt4", (1, 1, 25 if model == "dna" else 3, 64)))
    if model == "cdna":
        out += [("model/cdna_params/weights", (8 * 8 * 128, 250)),
                ("model/cdna_params/biases", (250,))]
    if model == "stp":
        out += [("model/fc_stp/weights", (8 * 8 * 128, 100)), ("model/fc_stp/biases", (100,))]
        for i in range(masks - 1):
            out += [(f"model/stp_params{i}/weights", (100, 6)),
                    (f"model/stp_params{i}/biases", (6,))]
    out += conv("convt7", (1, 1, masks + 1, 64))
    return out + [("model/state_pred/weights", (state + action, state)),
                  ("model/state_pred/biases", (state,))]


@pytest.mark.parametrize("backend", ["tf", "chainer"])
@pytest.mark.parametrize("model", list(PAIRS))
def test_both_twins_hold_the_tf_codes_variables(model, backend):
    weights = PAIRS[model].twin_class(backend)("paper").get_weights()
    assert [(name, value.shape) for name, value in weights.items()] == tf_code_variables(model)
    push = PAIRS[model].twin_class(backend)("push").get_weights()
    assert [(n, v.shape) for n, v in push.items()] == tf_code_variables(model, 5, 5)


def test_the_ports_spatial_transformer_is_tfs():
    """tensorflow/models' transformer at random affine maps (some reaching outside the
    image) on both twins, values and gradients; its identity is a stretch with a black last
    row and column (closed form), Chainer's own sampler an exact identity."""
    import chainer

    from chainer_port.tf_video_ops import tf_spatial_transformer
    from common.tf_startup import import_tensorflow
    from tf_reference.finn import transformer

    tf = import_tensorflow()
    rng = np.random.default_rng(0)
    image = rng.random((3, 8, 10, 2), dtype=np.float32)
    theta = (np.array([1, 0, 0, 0, 1, 0], np.float32)
             + rng.normal(0, 0.3, (3, 6)).astype(np.float32))
    x, t = tf.constant(image), tf.constant(theta)
    with tf.GradientTape() as tape:
        tape.watch([x, t])
        want = transformer(x, t)
        loss = tf.reduce_sum(want * want)
    want_grads = tape.gradient(loss, [x, t])
    cx = chainer.Variable(image.transpose(0, 3, 1, 2))
    ct = chainer.Variable(theta)
    got = tf_spatial_transformer(cx, ct)
    chainer.functions.sum(got * got).backward()
    np.testing.assert_allclose(got.array.transpose(0, 2, 3, 1), want.numpy(), atol=1e-5)
    np.testing.assert_allclose(cx.grad.transpose(0, 2, 3, 1), want_grads[0].numpy(),
                               atol=1e-4)
    np.testing.assert_allclose(ct.grad, want_grads[1].numpy(), rtol=1e-4, atol=1e-4)

    # The harness's float64 copy (parity.ties), several maps per sample.
    from parity.ties import transformer_float64

    np.testing.assert_allclose(transformer_float64(image, theta[:, None]), want.numpy()[:, None],
                               atol=1e-5)

    identity = np.tile(np.array([1, 0, 0, 0, 1, 0], np.float32), (3, 1))
    stretched = tf_spatial_transformer(image.transpose(0, 3, 1, 2), identity).array
    # The weights of the clipped neighbours cancel (to rounding) on the last row and column.
    assert np.abs(stretched[:, :, -1]).max() < 1e-6 > np.abs(stretched[:, :, :, -1]).max()
    np.testing.assert_allclose(stretched[:, :, 0, 0], image[:, 0, 0])
    exact = tf_spatial_transformer(image.transpose(0, 3, 1, 2), identity, "chainer").array
    np.testing.assert_allclose(exact, image.transpose(0, 3, 1, 2), atol=1e-6)


def test_the_ports_layer_norm_is_tfs_and_chainers_is_not():
    import chainer

    from chainer_port.tf_video_ops import tf_layer_norm

    rng = np.random.default_rng(1)
    x = rng.normal(3.0, 2.0, (2, 4, 5, 6)).astype(np.float64)
    beta, gamma = rng.normal(size=4), rng.normal(size=4)
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    variance = x.var(axis=(1, 2, 3), keepdims=True)
    want = (x - mean) / np.sqrt(variance + 1e-12) * gamma[:, None, None] + beta[:, None, None]
    got = tf_layer_norm(x.astype(np.float32), beta.astype(np.float32), gamma.astype(np.float32))
    np.testing.assert_allclose(got.array, want, rtol=1e-5, atol=1e-5)
    naive = tf_layer_norm(chainer.Variable(x.astype(np.float32)), beta.astype(np.float32),
                          gamma.astype(np.float32), "chainer")
    assert np.abs(naive.array - want).max() > 0.1


@pytest.mark.parametrize(("model", "preset"), [(model, "tiny") for model in PAIRS]
                         + [("cdna", "tiny-8699e3b")])
def test_the_twins_pass_every_section_on_the_tiny_preset(model, preset, pushing_dir):
    run = passing_parity(model, preset, pushing_dir)
    verdict = run.ensure_verdict()
    taps = {d.name for d in run.sections["forward/isolated/training"]}
    # Every layer at every step is its own tap, the sampled steps' inputs included.
    assert {"model/state1_3", "model/state7_4/h", "model/prev_image_3", "model/masks_4",
            "model/output_4", "model/state_pred_4"} <= taps
    transform = {"cdna": "model/cdna_4", "dna": "model/dna_4", "stp": "model/stp_4"}[model]
    assert transform in taps
    assert {"backward/isolated", "gradients", "training_losses",
            "after_training"} <= set(verdict.sections)


@pytest.mark.parametrize("backend", ["tf", "chainer"])
def test_the_code_versions_on_both_twins(backend, pushing_dir):
    """slim applies a normalised conv's relu after its layer norm only (both versions); the
    older prediction_model.py (69cc9e9) keeps slim's relu after convt3's layer norm and on
    convt4 and convt7, the newer (8699e3b) has none of the three: on each twin the newer's
    taps there take negative values, the older's are their relu (same weights)."""
    pair = CDNA_PAIR
    batch = next(pair.batches(str(pushing_dir), "train", 2, 0))
    schedule = np.full((2, 3), 0.5, np.float32)
    found, weights = {}, pair.twin_class(backend)("tiny", seed=0).get_weights()
    for preset in ("tiny", "tiny-8699e3b"):
        twin = pair.twin_class(backend)(preset, seed=1)
        twin.set_weights(weights)
        normalised = [layer for layer in twin.layers if not layer.attrs.get("bias", True)]
        assert {layer.name.rsplit("_", 1)[0] for layer in normalised} == {
            "model/scale1_conv1", "model/convt3"}
        assert not any(layer.attrs["relu"] for layer in normalised)
        taps = twin.forward(batch, {"schedule": schedule}).taps
        found[preset] = {name: activation_to_tf(twin.to_numpy(value)) if backend == "chainer"
                         else twin.to_numpy(value) for name, value in taps.items()}
    older, newer = found["tiny"], found["tiny-8699e3b"]
    np.testing.assert_allclose(older["model/convt3_0"], newer["model/convt3_0"], rtol=1e-6)
    for tap in ("model/convt3/layer_norm9_0", "model/convt4_0", "model/convt7_0"):
        assert newer[tap].min() < 0 <= older[tap].min(), tap
    np.testing.assert_allclose(older["model/convt3/layer_norm9_0"],
                               np.maximum(newer["model/convt3/layer_norm9_0"], 0), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("backend", ["tf", "chainer"])
def test_scheduled_sampling_takes_the_shared_choice(backend, pushing_dir):
    """Tiny preset (k = 2), batch 2, iteration 0: round(2 * 2 / 3) = 1 sample of the two
    gets the ground truth at each sampled step, the one whose noise is smaller (first in
    the shuffle); inference feeds the prediction to both."""
    pair = CDNA_PAIR
    twin = pair.twin_class(backend)("tiny")
    batch = next(pair.batches(str(pushing_dir), "train", 2, 0))
    schedule = np.array([[0.9, 0.1, 0.5], [0.2, 0.7, 0.6]], np.float32)
    for training in (True, False):
        taps = twin.forward(batch, {"schedule": schedule}, training=training).taps
        tf_layout = {name: activation_to_tf(twin.to_numpy(value)) if backend == "chainer"
                     else twin.to_numpy(value) for name, value in taps.items()}
        frames = tf_layout["model/frames"]
        for column, t in enumerate((2, 3, 4)):
            prev, generated = tf_layout[f"model/prev_image_{t}"], tf_layout[f"model/output_{t - 1}"]
            truth = int(np.argmin(schedule[:, column]))
            for sample in (0, 1):
                want = frames[sample, t] if training and sample == truth else generated[sample]
                np.testing.assert_array_equal(prev[sample], want)


def test_data_without_actions_is_one_line(cli, moving_mnist_dir, tmp_path):
    status, out, err = cli("parity", "--model", "cdna", "--preset", "tiny", "--data",
                           moving_mnist_dir, "--out", tmp_path / "r", "--quiet")
    assert status == 2
    assert "does not fit preset tiny: 1 channels, the model takes 3" in err


def test_the_presets_refuse_what_the_tf_code_refuses():
    import dataclasses

    from common.errors import UserError

    with pytest.raises(UserError, match="DNA supports one mask only"):
        dataclasses.replace(DNA_PAIR.get_preset("paper"), num_masks=10)
    assert get_pair("stp") is STP_PAIR


def test_train_eval_predict_on_both_backends(cli, pushing_dir, tmp_path):
    from data import Dataset

    arrays = Dataset(pushing_dir, "test").get_arrays([0, 1])
    np.savez(tmp_path / "x.npz", **arrays)
    found = train_eval_predict(cli, "cdna", pushing_dir, tmp_path / "x.npz", tmp_path)
    assert_backends_agree(found, (2, 4, 16, 16, 3))
    del arrays["states"]
    np.savez(tmp_path / "bad.npz", **arrays)
    status, out, err = cli("predict", "--model", "cdna", "--backend", "tf", "--preset", "tiny",
                           "--weights", tmp_path / "w.npz", "--input", tmp_path / "bad.npz",
                           "-o", tmp_path / "bad.npy")
    assert status == 2 and "no states (the model reads images, actions, states, iter_num)" in err
    np.save(tmp_path / "frame.npy", arrays["images"][0, 0])
    status, out, err = cli("sample", "--run", tmp_path / "tf", "--frame", tmp_path / "frame.npy",
                           "-o", tmp_path / "s.png")
    assert status == 2 and "a cdna run; sample draws futures from the cross conv's" in err


def test_the_transformers_edge_crossings_and_cancelling_edges():
    """A sampling coordinate a rounding step either side of the last column is a flip
    (only that pixel); the edges are the first and last rows and columns."""
    from parity.ties import transformer_edges, transformer_flips, transformer_grid

    height, width = 4, 5
    ref = np.array([[[1, 0, 0, 0, 1, 0]]], np.float64)  # x of the last column: exactly W
    x, _ = transformer_grid(ref, height, width)
    # Shift x by a constant so that pixel column 3 lands on W - 1 on one side, just below on
    # the other.
    shift = (width - 1 - x[0, 0, 3]) / (width / 2.0)
    ref_shifted, port = ref.copy(), ref.copy()
    ref_shifted[..., 2] = shift + 1e-9
    port[..., 2] = shift - 1e-9
    flips = transformer_flips(ref_shifted, port, (1, 1, height, width, 2))
    assert flips[0, 0, :, 3].all() and flips.sum() == height * 2
    assert not transformer_flips(ref, ref, (1, 1, height, width, 2)).any()
    edges = transformer_edges((1, height, width, 3))
    assert edges[0, 0].all() and edges[0, -1].all() and edges[0, :, 0].all()
    assert not edges[0, 1:-1, 1:-1].any()


@pytest.mark.parametrize(("preset", "convt7", "message"), [
    ("tiny", "scope='convt7', activation_fn=None)", "holds the 8699e3b version of "
     "tensorflow/models research/video_prediction"),
    ("tiny-8699e3b", "scope='convt7')", "holds the 69cc9e9 version of tensorflow/models"),
])
def test_original_code_of_another_version_than_the_preset_is_one_line(
        cli, pushing_dir, tmp_path, preset, convt7, message):
    """`twinport parity original` tells the code's version from prediction_model.py's convt7
    (the newer passes activation_fn=None) and names the preset to use."""
    for name in ("lstm_ops.py", "spatial_transformer.py"):
        (tmp_path / name).write_text("")
    (tmp_path / "prediction_model.py").write_text(f"masks = conv2d_transpose({convt7}\n")
    status, _, err = cli("parity", "original", "--model", "cdna", "--preset", preset,
                         "--code", tmp_path, "--data", pushing_dir, "--quiet")
    assert status == 2
    assert message in err and "(pick a preset of" in err, err
    assert len(err.strip().splitlines()) == 1
