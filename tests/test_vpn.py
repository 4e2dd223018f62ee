"""The VPN pair (seed 004), first steps: the code's variables on both twins, the PixelCNN mask
as the code builds it, the labels, the warm-up state as a constant of the training pass,
parity on the tiny preset."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spec.tf_geometry import pixelcnn_mask
from spec.vpn import PAIR
from spec.vpn.data import intensities
from tests.backend_runs import passing_parity

ENC = "vpn_encoder/resolution_preserving_cnn_encoders"
DEC = "vpn_decoder/pixel_cnn_decoders"


def code_variables(c, encoder_rmbs, decoder_rmbs, filters):
    """Every trainable variable model.py creates, in its order, with its shape."""
    shapes = {f"{ENC}/input_conv/kernel": (1, 1, 1, 2 * c), f"{ENC}/input_conv/bias": (2 * c,)}

    def rmb(scope, cin, cout, masked, h1_out):
        names = ("weights", "biases") if masked else ("kernel", "bias")
        unit = "multiplicative_unit_with_mask" if masked else "multiplicative_unit_without_mask"
        shapes[f"{scope}/h1/kernel"], shapes[f"{scope}/h1/bias"] = (1, 1, cin, h1_out), (h1_out,)
        for number in (1, 2):
            for gate in ("g1", "g2", "g3", "u"):
                shapes[f"{scope}/{unit}_{number}/{gate}/{names[0]}"] = (3, 3, c, c)
                shapes[f"{scope}/{unit}_{number}/{gate}/{names[1]}"] = (c,)
        shapes[f"{scope}/h4/kernel"], shapes[f"{scope}/h4/bias"] = (1, 1, c, cout), (cout,)

    for i in range(encoder_rmbs):
        rmb(f"{ENC}/residual_multiplicative_block_without_mask_{i}", 2 * c, 2 * c, False, c)
    shapes["vpn_encoder/Conv_LSTM/Matrix"] = (3, 3, 2 * c + filters, 4 * filters)
    shapes["vpn_encoder/Conv_LSTM/Bias"] = (4 * filters,)
    rmb(f"{DEC}/residual_multiplicative_block_without_mask_00", filters, 2 * c, False, c)
    for k in range(1, decoder_rmbs):
        rmb(f"{DEC}/residual_multiplicative_block_with_mask_{k}", 2 * c,
            256 if k == decoder_rmbs - 1 else 2 * c, True, c - 1 if k == 1 else c)
    return shapes


@pytest.mark.parametrize(("preset", "sizes", "count"), [
    ("full", (128, 8, 12, 256), 29_651_711), ("mini", (32, 4, 6, 64), 1_083_327),
    ("micro", (32, 2, 3, 64), 692_447)])
def test_the_architectures_hold_the_codes_variables(preset, sizes, count):
    layers = PAIR.build(PAIR.get_preset(preset))
    shapes = {v.name: v.shape for layer in layers for v in layer.variables}
    assert list(shapes.items()) == list(code_variables(*sizes).items())
    assert sum(math.prod(s) for s in shapes.values()) == count


@pytest.mark.parametrize("backend", ["tf", "chainer"])
def test_both_twins_hold_the_codes_variables(backend):
    weights = PAIR.twin_class(backend)("micro").get_weights()
    assert [(n, v.shape) for n, v in weights.items()] == list(
        code_variables(32, 2, 3, 64).items())


def test_the_mask_is_the_codes():
    """layers.masked_conv2d: B zeroes right of the centre and the rows below; A also the
    centre of the first `channels_masked` input channels."""
    b = pixelcnn_mask(3, 2, 1, "B", 2)[..., 0]
    assert (b[..., 0] == [[1, 1, 1], [1, 1, 0], [0, 0, 0]]).all()
    a = pixelcnn_mask(3, 2, 1, "A", 1)[..., 0]
    assert a[1, 1, 0] == 0 and a[1, 1, 1] == 1 and (a[..., 1] == b[..., 1]).all()


def test_the_frames_are_exact_integer_intensities():
    """uint8 frames come back as their values; tiny's 4x4 means are rounded to integers."""
    values = np.arange(256, dtype=np.float32) / np.float32(255)
    frames = np.broadcast_to(values[None, None, :, None, None], (1, 5, 256, 64, 1))
    found = intensities(frames[:, :, :64], PAIR.get_preset("micro_t2"))
    np.testing.assert_array_equal(found[0, 0, :, 0, 0], np.arange(64))
    pooled = intensities(np.full((1, 5, 64, 64, 1), 0.5, np.float32), PAIR.get_preset("tiny"))
    assert pooled.shape == (1, 5, 16, 16, 1) and (pooled == 128).all()


@pytest.mark.parametrize("backend", ["tf", "chainer"])
def test_the_warm_up_state_is_a_constant_of_the_training_pass(backend):
    """Its gradient is not the loss's: the warm-up encoder's variables get gradient only
    through the training pass (one set, shared), the frames of the warm-up none."""
    twin = PAIR.twin_class(backend)("tiny")
    frames = np.random.default_rng(0).integers(0, 256, (2, 5, 16, 16, 1)).astype(np.float32)
    _, _, input_grads = twin.gradients({"frames": frames})
    grad = input_grads["frames"]
    assert not np.any(grad[:, :2])  # frames 0, 1 feed only the warm-up
    assert all(np.any(grad[:, t]) for t in (2, 3, 4))


def test_the_twins_pass_every_section_on_the_tiny_preset(moving_mnist_dir):
    run = passing_parity("vpn", "tiny", moving_mnist_dir)
    taps = {d.name for d in run.sections["forward/isolated/training"]}
    assert {"warmup/lstm_1/state", "lstm_1", "decoder_1/rmb_1", "decoder_1/logits"} <= taps
    [sampled] = run.sections["sampling"]
    assert sampled.status == "pass" and sampled.n_elements == 2 * 16 * 16  # the whole frame


def test_the_twins_pass_with_chainers_own_functions(moving_mnist_dir, monkeypatch):
    """The fast path off (its convolutions and softmax cross-entropy): parity still passes."""
    monkeypatch.setenv("TWINPORT_FAST_CPU", "0")
    passing_parity("vpn", "tiny", moving_mnist_dir)


@pytest.mark.parametrize(("changes", "leaks"), [
    ({}, False), ({"mask_a_gate": "g2_h"}, True), ({"first_mask": "B"}, True)])
def test_the_causality_section_finds_the_leak_on_both_twins(moving_mnist_dir, changes, leaks):
    """The code since 4f59fe2 is causal; g2 * h before it, or a mask B on the frame, lets
    each pixel's logits see the pixel itself: a finding of the model on both twins, which
    agree, so the section passes."""
    import dataclasses

    preset = dataclasses.replace(PAIR.get_preset("tiny"), name="tiny_changed", **changes)
    run = causality_run(preset, moving_mnist_dir)
    items = run.sections["causality"]
    assert items and all(not d.failed for d in items)
    found = [d.note.startswith("finding of the model") for d in items]
    assert all(found) if leaks else not any(found)


def causality_run(preset, data, port=None):
    """Parity without training steps or isolated sections, for the causality section
    (`preset`: a name or a preset object)."""
    from parity.harness import check_port, prepare_reference
    from parity.settings import ParitySettings

    settings = ParitySettings(model="vpn", preset=preset, data=str(data), batch_size=1,
                              steps=0, mode="end-to-end")
    reference = prepare_reference(settings, progress=False)
    return check_port(reference, (port or PAIR.twin_class("chainer"))(reference.preset),
                      "NCHW", progress=False)


def test_a_port_whose_mask_is_shifted_fails_the_causality_section(moving_mnist_dir):
    from chainer_port.mutants.vpn import MaskRowsBelowKept

    run = causality_run("tiny", moving_mnist_dir, MaskRowsBelowKept)
    failed = [d for d in run.sections["causality"] if d.failed]
    assert failed and failed[0].hint == "causality" and "the port sees" in failed[0].suggestion
    [sampled] = run.sections["sampling"]  # its logits see the rows not yet drawn
    assert sampled.failed and sampled.hint == "sampling" and sampled.headroom > 1
