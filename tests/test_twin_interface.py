"""The port interface's checks live once, in spec.twin.TwinModel: both twins refuse the same
bad arguments with the same one-line message; the pair record's pieces."""

from __future__ import annotations

import numpy as np
import pytest

from common.errors import UserError
from parity.sections import BY_KEY, SECTIONS
from parity.tolerances import Tolerances
from spec.cross_conv import PAIR
from spec.layout import Transpose
from spec.pair import noise_at
from spec.registry import MODELS, get_pair

FRAMES = np.zeros((2, 2, 64, 64, 3), np.float32)


@pytest.fixture(scope="module", params=["tf", "chainer"])
def twin(request):
    return PAIR.twin_class(request.param)("tiny")


@pytest.mark.parametrize("call, message", [
    (lambda m: m.forward({"frames": FRAMES, "actions": FRAMES}), "unexpected actions"),
    (lambda m: m.forward({}), "missing frames"),
    (lambda m: m.forward(FRAMES, {"eps": np.zeros((2, 144))}), "missing epsilon"),
    (lambda m: m.forward(FRAMES, overrides={"nope": np.zeros(1)}), "override 'nope'"),
    (lambda m: m.gradients(np.zeros((2, 2, 64, 64, 4), np.float32)),
     r"frames must be \[batch, seq_len >= 2, height >= 16, width >= 16, 3\], got "
     r"\[2, 2, 64, 64, 4\]"),
    (lambda m: m.train_step(FRAMES, np.zeros((3, 144), np.float32), 0),
     r"epsilon must be \[2, 144\], got \[3, 144\]"),
    (lambda m: m.run_layer("image_encoder_0/Conv", []), "takes 1 inputs"),
    (lambda m: m.run_layer("nope", []), "no layer named 'nope' in the cross_conv graph"),
])
def test_both_twins_refuse_bad_arguments_alike(twin, call, message):
    with pytest.raises(UserError, match=message):
        call(twin)


def test_forward_names_the_pairs_taps(twin):
    result = twin.forward(FRAMES)
    assert result.loss is result.taps["loss/loss"] and result.output is result.taps["Conv_2"]
    with pytest.raises(AttributeError, match="named taps: output"):
        result.nothing  # noqa: B018


def test_noise_is_a_function_of_seed_and_step():
    shapes = {"frames": (2, 3, 64, 64, 3)}
    preset = PAIR.get_preset("tiny")
    first = noise_at(PAIR.noise(preset), preset, shapes, 7, 4)
    assert first["epsilon"].shape == (4, 144) and first["epsilon"].dtype == np.float32
    np.testing.assert_array_equal(first["epsilon"],
                                  noise_at(PAIR.noise(preset), preset, shapes, 7, 4)["epsilon"])
    assert not np.array_equal(first["epsilon"],
                              noise_at(PAIR.noise(preset), preset, shapes, 7, 5)["epsilon"])


def test_transposes_round_trip():
    rng = np.random.default_rng(0)
    kernel, matrix = rng.random((3, 5, 7, 2)), rng.random((6, 4))
    assert Transpose.KERNEL.to_chainer(kernel).shape == (2, 7, 3, 5)
    assert Transpose.MATRIX.to_chainer(matrix).shape == (4, 6)
    for transpose, value in ((Transpose.KERNEL, kernel), (Transpose.MATRIX, matrix),
                             (Transpose.NONE, matrix)):
        np.testing.assert_array_equal(transpose.to_tf(transpose.to_chainer(value)), value)


def test_every_registered_pair_loads_and_builds():
    for name in MODELS:
        pair = get_pair(name)
        for preset in pair.presets.values():
            layers = pair.build(preset)
            names = [layer.name for layer in layers]
            assert len(set(names)) == len(names) and pair.loss in names
            assert set(pair.losses.values()) <= set(names)
            assert set(pair.named_taps.values()) <= set(names)


def test_every_section_has_its_tolerance():
    fields = set(vars(Tolerances()))
    assert len(BY_KEY) == len(SECTIONS)
    for section in SECTIONS:
        # closed forms, exact checks, draws
        exact = section.key in ("initialisation", "causality", "sampling")
        assert section.tolerance in fields or (exact and not section.tolerance), section.key


def test_twinport_models_and_spec_of_an_outside_pair(cli):
    status, out, _ = cli("models")
    assert status == 0 and "cross_conv (default)" in out and "presets: paper, tiny" in out
    status, out, _ = cli("spec", "--model", "tests.outside_pair:PAIR", "--preset", "small")
    assert status == 0 and "norm1" in out and "layer_norm" in out and "kernel [256, 3]" in out


def test_the_cross_conv_output_is_the_l2_losss_input_in_every_preset():
    from spec.cross_conv import OUTPUT
    from spec.cross_conv.graph import output_name

    for preset in PAIR.presets.values():
        assert output_name(PAIR.build(preset)) == OUTPUT == PAIR.named_taps["output"]


def test_a_train_step_reports_the_norm_of_the_gradient_it_applied(twin):
    """`GRADIENT_NORM`: the global L2 norm of `gradients()` at the step's weights, on either
    twin (cross_conv: batch norm in training mode, the same batch and noise)."""
    from spec.twin import GRADIENT_NORM

    rng = np.random.default_rng(0)
    frames = rng.random((2, 2, 64, 64, 3), dtype=np.float32)
    preset = PAIR.get_preset("tiny")
    noise = noise_at(PAIR.noise(preset), preset, {"frames": frames.shape}, 0, 0)
    start = twin.get_weights()
    _, grads, _ = twin.gradients(frames, noise, training=True)
    twin.set_weights(start)
    out = twin.train_step(frames, noise, 0)
    twin.set_weights(start)
    twin.reset_optimizer_state()
    expected = np.sqrt(sum(np.sum(np.square(g, dtype=np.float64)) for g in grads.values()))
    assert out[GRADIENT_NORM] == pytest.approx(expected, rel=1e-4)
