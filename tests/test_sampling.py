"""Sampling parity (`parity.sampling`) and `twinport sample` of the VPN: the draws against
closed forms, the per-pixel chain against the whole forward, both backends on one run."""

from __future__ import annotations

import numpy as np
import pytest

from parity.sampling import PixelChain, chain_names, draw, generate, softmax, tie_gap
from spec.vpn import PAIR


def test_the_draws_are_the_inverse_cdf_and_the_argmax():
    rng = np.random.default_rng(0)
    probabilities = softmax(rng.normal(size=(50, 256)) * 3)
    uniforms = rng.random(50)
    expected = [np.searchsorted(np.cumsum(p), u, side="right") for p, u in
                zip(probabilities, uniforms, strict=True)]
    assert draw(probabilities, uniforms, greedy=False).tolist() == expected
    assert draw(probabilities, uniforms, greedy=True).tolist() == \
        probabilities.argmax(axis=1).tolist()
    assert draw(np.array([[0.5, 0.5]]), np.array([0.9999999]), False).tolist() == [1]


def test_a_tie_is_where_the_two_cdfs_bracket_the_draw():
    reference, port = np.array([0.5, 0.3, 0.2]), np.array([0.4, 0.35, 0.25])
    # u = 0.45 lies between the CDFs at class 0 (0.5 and 0.4): 0 (TF) and 1 (port)
    assert draw(np.stack([reference, port]), np.array([0.45, 0.45]), False).tolist() == [0, 1]
    assert tie_gap(reference, port, (0, 1), greedy=False) == pytest.approx(0.1)
    # drawn two classes apart: the boundaries between them, the larger gap
    assert tie_gap(reference, np.array([0.2, 0.3, 0.5]), (0, 2), False) == pytest.approx(0.3)
    assert tie_gap(reference, port, (0, 1), greedy=True) == pytest.approx(0.2)


def test_the_chain_is_the_masked_decoder_given_the_encoder_state():
    preset = PAIR.get_preset("tiny")
    layers = PAIR.build(preset)
    first, second = PAIR.autoregressive(preset)
    assert chain_names(layers, first) == ["decoder_0/rmb_1", "decoder_0/logits"]
    assert chain_names(layers, second) == ["decoder_1/rmb_1", "decoder_1/logits"]
    import dataclasses

    everything = chain_names(layers, dataclasses.replace(first, given=()))
    assert "encoder_0/input_conv" in everything and "decoder_0/rmb_00" in everything
    assert "decoder_1/logits" not in everything  # does not reach the tap


@pytest.mark.parametrize("backend", ["tf", "chainer"])
def test_the_chain_computes_the_forwards_tap(backend):
    """Run once a pixel on the given taps, the chain gives what the whole graph gives."""
    preset = PAIR.get_preset("tiny")
    model = PAIR.twin_class(backend)(preset, seed=3)
    frames = np.random.default_rng(1).integers(0, 256, (2, *PAIR.inputs(preset)[0].shape))
    inputs = {"frames": frames.astype(np.float32)}
    check = PAIR.autoregressive(preset)[1]
    chain = PixelChain.prepare(model, check, inputs, {})
    whole = model.forward(inputs, training=False).taps[check.tap]
    expected = chain.to_tf(check.tap, model.to_numpy(whole))
    np.testing.assert_allclose(chain.logits(inputs), expected, rtol=1e-5, atol=1e-5)


def test_generation_writes_the_first_chains_draws_in_raster_order():
    preset = PAIR.get_preset("tiny")
    model = PAIR.twin_class("chainer")(preset, seed=0)
    inputs = {"frames": np.zeros((1, *PAIR.inputs(preset)[0].shape), np.float32)}
    check = PAIR.autoregressive(preset)[0]
    chain = PixelChain.prepare(model, check, inputs, {})
    uniforms = np.random.default_rng(0).random((1, 16, 16))
    seen = [(pixel, int(draws[0][0])) for pixel, _, draws in
            generate([chain], inputs, uniforms, greedy=False, limit=20)]
    assert [pixel for pixel, _ in seen] == [(r, c) for r in range(2) for c in range(16)][:20]
    plane = inputs["frames"][0, check.index[0], ..., 0]
    assert [plane[pixel] for pixel, _ in seen] == [value for _, value in seen]
    assert not plane.reshape(-1)[20:].any()  # the rest not drawn yet


def test_train_sample_and_eval_of_the_vpn_on_both_backends(cli, moving_mnist_dir, tmp_path):
    """The seed's overfitting run (train[:1], batch 1) on TF, then its futures drawn on
    both backends from the same checkpoint and uniforms: the same frames."""
    run = tmp_path / "run"
    status, out, err = cli("train", "--model", "vpn", "--backend", "tf", "--preset", "tiny",
                           "--data", str(moving_mnist_dir), "--split", "train[:1]",
                           "--batch-size", "1", "--steps", "3", "--quiet", "--out", str(run))
    assert status == 0, err
    frames = {}
    for backend in ("tf", "chainer"):
        out_png = tmp_path / f"{backend}.png"
        status, out, err = cli("sample", "--run", str(run), "--backend", backend, "--n", "2",
                               "--quiet", "-o", str(out_png))
        assert status == 0 and out_png.exists(), err
        frames[backend] = np.load(out_png.with_suffix(".npy"))
    assert frames["tf"].shape == (2, 2, 16, 16, 1)
    assert np.array_equal(frames["tf"], frames["chainer"])
    assert set(np.unique(frames["tf"])) <= set(range(256))
    status, out, err = cli("sample", "--run", str(run), "--sequence", "99", "-o",
                           str(tmp_path / "x.png"))
    assert status == 2 and "--sequence 99" in err and "Traceback" not in err
    status, out, err = cli("eval", "--run", str(run), "--backend", "chainer", "--batches", "2",
                           "--batch-size", "2")
    assert status == 0 and "test loss" in out, err


def test_a_split_of_its_first_sequences(moving_mnist_dir):
    from common.errors import UserError
    from data import Dataset

    whole, first = Dataset(moving_mnist_dir, "train"), Dataset(moving_mnist_dir, "train[:3]")
    assert len(first) == 3 and np.array_equal(first.get([0, 1, 2]), whole.get([0, 1, 2]))
    batches = list(first.batches(1, seed=0, epochs=2))
    assert len(batches) == 6 and all(any(np.array_equal(b[0], s) for s in whole.get([0, 1, 2]))
                                     for b in batches)
    with pytest.raises(UserError, match="N at least 1"):
        Dataset(moving_mnist_dir, "train[:0]")


def test_a_negative_pixel_count_is_one_line(cli):
    status, _, err = cli("parity", "--model", "vpn", "--preset", "tiny", "--sample-pixels", "-1")
    assert status == 2 and "--sample-pixels -1" in err and "Traceback" not in err
