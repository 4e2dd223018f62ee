"""The harness's additions for the pitfall suite: raised items, the learning rate per step,
a capture that survives a raising port, the initialisation check."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest

from common.errors import UserError
from parity import build_verdict, compare_steps
from parity.capture import Capture, check_comparable, run_layers
from parity.compare import RAISED, raised_diff
from parity.init_check import TRUNCATED_STD, Z_MAX, init_diffs, side_stats
from parity.init_check import expected_distribution as expected
from parity.inputs import ParityInputs
from spec.cross_conv import build_spec, get_preset
from spec.cross_conv.graph import slim_variables
from spec.layer import Layer
from spec.section_keys import FORWARD_E2E_INFERENCE, TRAINING_LOSSES

ROW = dict(step=7, tf_loss=2.0, tf_l2=1.5, tf_kl=0.5, port_loss=2.0, port_l2=1.5, port_kl=0.5)


def test_a_raised_tap_is_the_first_divergent_one():
    diffs = {FORWARD_E2E_INFERENCE: [raised_diff("b", "ValueError: no", (2, 3), 1e-4, 1e-5)]}
    verdict = build_verdict(diffs)
    assert verdict.first_divergent == "b" and diffs[FORWARD_E2E_INFERENCE][0].status == RAISED
    assert "the port raised ValueError: no" in verdict.summary_text()


def test_the_learning_rate_fails_a_step_whose_losses_agree():
    same, other = dict(ROW, lr=0.283, port_lr=0.283), dict(ROW, lr=0.283, port_lr=0.4)
    diffs = compare_steps([same, other, dict(ROW)], 1e-4, 1e-4, scale_atol=True)
    assert [d.passed for d in diffs] == [True, False, True]
    assert "worst: lr" in diffs[1].note and "compared: loss, l2, kl, lr" in diffs[1].note


def test_a_step_the_port_raised_on_is_a_raised_item():
    diffs = compare_steps([dict(step=3, tf_loss=1.0, port_error="TypeError: x")], 1e-4, 1e-4)
    verdict = build_verdict({TRAINING_LOSSES: diffs})
    assert diffs[0].status == RAISED and verdict.sections[TRAINING_LOSSES].first_step == 3


class HalfBrokenModel:
    """Doubles every layer's first input, raises at `broken`."""

    def __init__(self, broken: str) -> None:
        self.broken = broken

    def run_layer(self, name, inputs, training=False):
        if name == self.broken:
            raise ValueError("shapes do not fit")
        return 2 * np.asarray(inputs[0])

    @staticmethod
    def to_numpy(value):
        return np.asarray(value, np.float32)


def test_run_layers_skips_what_reads_a_raising_layer():
    layers = [Layer("a", "x", ("frames",), ()), Layer("b", "x", ("a",), ()),
              Layer("c", "x", ("b",), ()), Layer("d", "x", ("a",), ())]
    inputs = ParityInputs([{"frames": np.ones((1, 2), np.float32)}],
                          [{"epsilon": np.zeros((1, 1), np.float32)}])
    taps, errors = run_layers(HalfBrokenModel("b"), "NHWC", layers, inputs, training=False)
    assert list(taps) == ["a", "d"] and np.all(taps["d"] == 4)
    assert errors == {"b": "ValueError: shapes do not fit"}
    isolated, errors = run_layers(HalfBrokenModel("b"), "NHWC", layers, inputs, False,
                                  reference_taps={"a": np.ones(2), "b": np.ones(2)})
    assert list(isolated) == ["a", "c", "d"] and list(errors) == ["b"]


def test_capture_errors_and_start_step_round_trip(tmp_path):
    capture = Capture({"preset": "tiny", "start_step": 5}, OrderedDict(x=np.zeros(2)),
                      errors={"inference/b": "ValueError: no", "step/5": "TypeError: t"})
    capture.save(tmp_path / "c.npz")
    loaded = Capture.load(tmp_path / "c.npz")
    assert loaded.section_errors("step") == {"5": "TypeError: t"}
    assert loaded.section_errors("inference") == {"b": "ValueError: no"}
    with pytest.raises(UserError, match="differ in start_step"):
        check_comparable(loaded, Capture({"preset": "tiny"}), "a", "b")
    check_comparable(Capture({"start_step": 0}), Capture({}), "a", "b")  # older captures


def test_truncated_normal_moments():
    draws = np.random.default_rng(0).standard_normal(2_000_000)
    draws = draws[np.abs(draws) <= 2]
    assert TRUNCATED_STD == pytest.approx(draws.std(), rel=2e-3)
    assert TRUNCATED_STD == pytest.approx(0.8796, abs=1e-4)


def conv_layer(k=3, cin=8, cout=16):
    attrs = {"kernel": k, "in_channels": cin}
    return Layer("c", "conv", ("x",), (4, 4, cout), attrs=attrs,
                 variables=slim_variables("c", "conv", attrs, (4, 4, cout)))


def test_slims_draws_pass_and_other_initialisers_fail():
    rng = np.random.default_rng(1)
    layer = conv_layer()
    (name, shape), (beta, _), (mean, _), (variance, width) = [
        (var.name, var.shape) for var in layer.variables]
    limit = math.sqrt(6 / (9 * 8 + 9 * 16))
    ok = {name: rng.uniform(-limit, limit, shape), beta: np.zeros(16), mean: np.zeros(16),
          variance: np.ones(16)}
    assert all(d.passed for d in init_diffs(ok, ok, [layer]))
    lecun = dict(ok, **{name: rng.normal(0, math.sqrt(1 / 72), shape)})
    diffs = init_diffs(ok, lecun, [layer])
    assert [d.passed for d in diffs] == [False, True, True, True]
    assert "> bound" in diffs[0].suggestion and "port:" in diffs[0].suggestion
    shifted = dict(ok, **{variance: np.full(16, 1.001)})
    assert "16 of 16 values are not 1" in init_diffs(ok, shifted, [layer])[3].suggestion


def test_a_wider_draw_within_the_bound_fails_on_its_std():
    layer = conv_layer()
    dist = expected(layer.variables[0])
    assert layer.variables[0].shape == (3, 3, 8, 16)
    values = np.random.default_rng(2).choice([-1, 1], 1152) * dist.bound * 0.99
    stats = side_stats(values, dist)
    assert stats.z_std > Z_MAX and stats.problems and "std" in stats.problems[0]


def test_every_variable_of_the_tiny_preset_has_an_expectation():
    for layer in build_spec(get_preset("tiny")):
        for variable in layer.variables:
            dist = expected(variable)
            assert dist is not None and (dist.value is not None or dist.std > 0)


def test_a_scalar_worst_tap_and_a_port_that_raised_at_once_plot():
    from parity.report.plots import plot_loss_curves, plot_worst_heatmap

    assert plot_worst_heatmap("loss/loss", np.float32(1.0), np.float32(1.5))
    rows = [dict(step=0, lr=0.8, tf_loss=1.0, tf_l2=0.6, tf_kl=0.4, port_error="TypeError: x")]
    assert plot_loss_curves(rows, part_step=0)


def test_a_staircase_schedule_fails_at_step_2_from_step_0():
    def row(step, port_lr):
        return dict(ROW, step=step, lr=0.8 * 0.5 ** (step / 10000), port_lr=port_lr)

    rows = [row(step, 0.8 * 0.5 ** (step // 10000)) for step in range(4)]
    diffs = compare_steps(rows, 1e-4, 1e-4, scale_atol=True)
    assert [d.passed for d in diffs] == [True, True, False, False]
