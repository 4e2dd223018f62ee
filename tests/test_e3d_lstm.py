"""The E3D-LSTM pair (seed 003): the code's variables on both twins, its reshape_patch and
scheduled sampling, its quirks as preset fields both twins follow both ways, parity on the
tiny preset, train / eval / predict on both backends."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from spec.e3d_lstm import PAIR, metrics, reshape_patch_back
from spec.e3d_lstm.data import batches
from spec.e3d_lstm.graph import ETA, FRAMES, IMAGES, input_frame, tap, x_gen
from tests.backend_runs import assert_backends_agree, passing_parity, train_eval_predict

SCOPE = "generator/e3d-lstm"


def code_variables(num_hidden=(64,) * 4, patch_channels=16, kernel=(2, 5, 5)):
    """Every trainable variable google/e3d_lstm creates, in its order, with its shape: per
    cell the hidden conv and norm, the input conv and norm, self_attn, the memory conv and
    norm, o_c, o_m, the 1x1x1 conv; then x_gen's conv."""
    shapes = {}
    for i, width in enumerate(num_hidden):
        cin = patch_channels if i == 0 else num_hidden[i - 1]
        scope = f"{SCOPE}/e3d{i}"
        for conv, norm, n_in, n_out in (("conv3d", "hidden", width, 4 * width),
                                        ("conv3d_1", "inputs", cin, 7 * width),
                                        (None, "self_attn", 0, width),
                                        ("conv3d_2", "global_memory", width, 4 * width)):
            if conv:
                shapes[f"{scope}/{conv}/kernel"] = (*kernel, n_in, n_out)
                shapes[f"{scope}/{conv}/bias"] = (n_out,)
            shapes[f"{scope}/{norm}/gamma"] = shapes[f"{scope}/{norm}/beta"] = (n_out,)
        for conv, size, n_in in (("conv3d_3", kernel, width), ("conv3d_4", kernel, width),
                                 ("conv3d_5", (1, 1, 1), 2 * width)):
            shapes[f"{scope}/{conv}/kernel"] = (*size, n_in, width)
            shapes[f"{scope}/{conv}/bias"] = (width,)
    shapes[f"{SCOPE}/conv3d/kernel"] = (2, 1, 1, num_hidden[-1], patch_channels)
    shapes[f"{SCOPE}/conv3d/bias"] = (patch_channels,)
    return shapes


@pytest.mark.parametrize("backend", ["tf", "chainer"])
def test_both_twins_hold_the_codes_variables_in_its_order(backend):
    weights = PAIR.twin_class(backend)("paper").get_weights()
    assert [(n, v.shape) for n, v in weights.items()] == list(code_variables().items())
    assert len(weights) == 82
    assert sum(math.prod(v.shape) for v in weights.values()) == 12_898_832


def test_the_kth_preset_is_the_kth_scripts_sizes():
    """128x128 frames in patches of 8: 64 channels into the first cell and out of x_gen."""
    layers = PAIR.build(PAIR.get_preset("kth"))
    shapes = {v.name: v.shape for layer in layers for v in layer.variables}
    assert shapes == code_variables(patch_channels=64)
    assert sum(math.prod(shape) for shape in shapes.values()) == 13_980_224


def test_reshape_patch_is_the_codes_and_goes_back():
    """preprocess.reshape_patch written out as the code does it, against both twins'
    `images` tap; reshape_patch_back inverts it."""
    frames = np.random.default_rng(0).random((2, 5, 16, 16, 1), dtype=np.float32)
    p = 4
    a = frames.reshape(2, 5, 4, p, 4, p, 1).transpose(0, 1, 2, 4, 3, 5, 6)
    want = a.reshape(2, 5, 4, 4, p * p)
    inputs = {FRAMES: frames, ETA: np.zeros((2, 1), np.float32)}
    tf_twin = PAIR.twin_class("tf")("tiny")
    chainer_twin = PAIR.twin_class("chainer")("tiny")
    np.testing.assert_array_equal(np.asarray(tf_twin.forward(inputs).taps[IMAGES]), want)
    port = chainer_twin.forward(inputs).taps[IMAGES].array.transpose(0, 1, 3, 4, 2)
    np.testing.assert_array_equal(port, want)
    np.testing.assert_array_equal(reshape_patch_back(want, p), frames)


def test_eta_follows_run_pys_schedule_and_resumes(moving_mnist_dir):
    preset = PAIR.get_preset("paper")
    assert preset.eta(1) == pytest.approx(1.0 - 0.00002)
    assert preset.eta(49_999) == pytest.approx(0.00002) and preset.eta(50_000) == 0.0
    tiny = PAIR.get_preset("tiny")
    fresh = batches(str(moving_mnist_dir), "train", 2, 0, preset=tiny)
    first = [next(fresh) for _ in range(4)]
    resumed = next(batches(str(moving_mnist_dir), "train", 2, 0, start_step=3, preset=tiny))
    np.testing.assert_array_equal(resumed[ETA], first[3][ETA])
    np.testing.assert_array_equal(resumed[FRAMES], first[3][FRAMES])
    assert first[0][ETA][0, 0] == pytest.approx(tiny.sampling_start - tiny.sampling_rate)
    assert first[0][FRAMES].shape == (2, 5, 16, 16, 1)  # 20 frames of 64^2 -> 5 of 16^2
    test = next(batches(str(moving_mnist_dir), "test", 2, 0, preset=tiny))
    assert not test[ETA].any()  # trainer.test's all-zero real_input_flag


@pytest.mark.parametrize("backend", ["tf", "chainer"])
def test_the_coins_choose_the_true_or_the_generated_frame(backend):
    """eta 1: every frame after the input is the true one; eta 0: the previous step's x_gen."""
    twin = PAIR.twin_class(backend)("tiny")
    frames = np.random.default_rng(1).random((2, 5, 16, 16, 1), dtype=np.float32)
    coins = {"sampling_coins": np.full((2, 1), 0.5, np.float32)}
    t = twin.preset.input_length
    for eta, want in ((1.0, IMAGES), (0.0, x_gen(t - 1))):
        taps = twin.forward({FRAMES: frames, ETA: np.full((2, 1), eta, np.float32)},
                            coins).taps
        got = twin.to_numpy(taps[input_frame(t)])
        expected = twin.to_numpy(taps[want])
        expected = expected[:, t] if want == IMAGES else expected
        np.testing.assert_array_equal(got, expected)


def tiny_twins(**changes):
    preset = dataclasses.replace(PAIR.get_preset("tiny"), name="tiny_changed", **changes)
    twins = {backend: PAIR.twin_class(backend)(preset) for backend in ("tf", "chainer")}
    twins["chainer"].set_weights(twins["tf"].get_weights())
    frames = np.random.default_rng(2).random((2, 5, 16, 16, 1), dtype=np.float32)
    inputs = {FRAMES: frames, ETA: np.full((2, 1), 0.5, np.float32)}
    noise = {"sampling_coins": np.array([[0.2], [0.8]], np.float32)}
    return {backend: twin.forward(inputs, noise).taps for backend, twin in twins.items()}


def tf_layout(taps, name):
    from parity.capture import layout_converters

    to_tf, _ = layout_converters("NCHW", PAIR.build(PAIR.get_preset("tiny")))
    return to_tf(name, taps[name].array)


@pytest.mark.parametrize("changes", [
    {}, {"global_memory": "new"}, {"output_gate": "sigmoid"}, {"layer_norm": False},
    {"global_memory": "new", "output_gate": "sigmoid", "forget_bias": 0.0}])
def test_the_codes_quirks_are_preset_fields_both_twins_follow(changes):
    """Each quirk the code's way and the paper's; both twins agree at every cell's output."""
    taps = tiny_twins(**changes)
    for name in (tap(0, 0), tap(1, 3), tap(1, 3, "memory"), x_gen(3), "loss"):
        np.testing.assert_allclose(tf_layout(taps["chainer"], name) if name != "loss" else
                                   float(taps["chainer"][name].array),
                                   np.asarray(taps["tf"][name]), rtol=1e-4, atol=1e-5)


def test_the_code_never_passes_its_global_memory_on():
    """The code's cell returns the memory it was given (zeros): every cell's memory conv sees
    zeros at every step, so its taps are equal; the paper's passes the new one on."""
    for memory, equal in (("old", True), ("new", False)):
        taps = tiny_twins(global_memory=memory)["tf"]
        first, later = (np.asarray(taps[tap(1, t, "global_memory")]) for t in (0, 3))
        assert np.array_equal(first, later) == equal


@pytest.mark.parametrize("backend", ["tf", "chainer"])
def test_a_batch_of_one_is_the_first_sample_of_two(backend):
    """tf.squeeze(x_gen) would drop the batch axis at batch 1 (the code cannot build its graph
    there); the reference squeezes the depth axis only, so batch 1 works and each sample is
    computed on its own."""
    twin = PAIR.twin_class(backend)("tiny")
    frames = np.random.default_rng(3).random((2, 5, 16, 16, 1), dtype=np.float32)
    eta, coins = np.zeros((2, 1), np.float32), {"sampling_coins": np.zeros((2, 1), np.float32)}
    both = twin.to_numpy(twin.forward({FRAMES: frames, ETA: eta}, coins).taps[x_gen(3)])
    one = twin.to_numpy(twin.forward({FRAMES: frames[:1], ETA: eta[:1]},
                                     {"sampling_coins": coins["sampling_coins"][:1]}
                                     ).taps[x_gen(3)])
    np.testing.assert_allclose(one, both[:1], rtol=1e-5, atol=1e-6)


def test_metrics_are_trainer_tests():
    """Per frame: the squared error of the clipped prediction summed over pixels, averaged
    over the batch; PSNR of uint8 frames (inf where equal, 20 log10(255) - 10 log10(mse))."""
    preset = PAIR.get_preset("tiny")
    target = np.zeros((2, 5, 16, 16, 1), np.float32)
    predicted = np.zeros((2, 2, 16, 16, 1), np.float32)
    predicted[0, 0, 0, 0, 0] = 2.0  # clipped to 1: one pixel off by 1 (255 in uint8)
    found = metrics(preset, {FRAMES: target}, predicted)
    np.testing.assert_allclose(found["mse_per_frame"], [0.5, 0.0])
    mse = 255.0 ** 2 / 256
    assert found["psnr_per_frame"][0] == np.inf  # sample 1 is exact: the mean is inf
    predicted[1, 0] = 1.0 / 255 + 1e-6  # every pixel of sample 1 one level off
    found = metrics(preset, {FRAMES: target}, predicted)
    want = np.mean([20 * np.log10(255) - 10 * np.log10(mse), 20 * np.log10(255)])
    assert found["psnr_per_frame"][0] == pytest.approx(want, rel=1e-6)


def test_the_twins_pass_every_section_on_the_tiny_preset(moving_mnist_dir):
    run = passing_parity("e3d_lstm", "tiny", moving_mnist_dir)
    verdict = run.ensure_verdict()
    taps = {d.name for d in run.sections["forward/isolated/training"]}
    # every part of every cell at every step is its own tap, the attention's recall included
    assert {tap(1, 3, "recall"), tap(0, 2, "cell"), tap(1, 0, "memory"), x_gen(3)} <= taps
    assert {"backward/isolated", "gradients", "training_losses"} <= set(verdict.sections)


def test_train_eval_and_predict_on_both_backends(cli, moving_mnist_dir, tmp_path):
    from data import Dataset
    from spec.e3d_lstm.data import pooled

    frames = pooled(Dataset(moving_mnist_dir, "test").get([0, 1]), PAIR.get_preset("tiny"))
    np.save(tmp_path / "x.npy", frames)
    found = train_eval_predict(cli, "e3d_lstm", moving_mnist_dir, tmp_path / "x.npy", tmp_path)
    assert_backends_agree(found, (2, 2, 16, 16, 1))
    evaluated = {backend: json.loads((tmp_path / backend / "eval.json").read_text())
                 for backend in found}
    np.testing.assert_allclose(evaluated["chainer"]["mse_per_frame"],
                               evaluated["tf"]["mse_per_frame"], rtol=1e-3)
    assert len(evaluated["tf"]["psnr_per_frame"]) == 2


def test_data_that_does_not_fit_is_one_line(cli, moving_objects_dir, tmp_path):
    status, out, err = cli("parity", "--model", "e3d_lstm", "--preset", "tiny", "--data",
                           moving_objects_dir, "--out", tmp_path / "r", "--quiet")
    assert status == 2
    assert "does not fit preset tiny: 3 channels, the model takes 1" in err
