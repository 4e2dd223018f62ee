"""Hints that one item cannot give alone: a forward tap explained by its layer's isolated
backward (a kernel's gradient in another axis order or flipped, a zero gradient to an input:
a state not carried or an input ignored), a backward item that is the reference's gradient to
another input of the layer (inputs in another order), and a port that is one constant."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

from parity.backward import (
    Backward,
    carries_state,
    explain_forward,
    explain_reused,
    explain_routing,
)
from parity.compare import compare_arrays
from parity.diagnose import diagnose
from parity.variable_hints import bias_offset, explain_other_taps
from spec.section_keys import FORWARD_E2E_INFERENCE, FORWARD_ISO_INFERENCE

RNG = np.random.default_rng(0)


def diff(name: str, reference: np.ndarray, port: np.ndarray, layout: str = "nhwc"):
    return compare_arrays(name, reference, port, 1e-5, 1e-5, layout=layout)


def sides(name: str, reference: np.ndarray, port: np.ndarray, layout: str
          ) -> tuple[Backward, Backward]:
    """Both sides' isolated backward of one item."""
    return (Backward(items=OrderedDict({name: reference}), layouts={name: layout}),
            Backward(items=OrderedDict({name: port})))


def forward_failing(name: str) -> dict:
    ref = RNG.normal(size=(2, 4, 4, 3))
    return {key: [diff(name, ref, ref + 1)] for key in (FORWARD_E2E_INFERENCE,
                                                         FORWARD_ISO_INFERENCE)}


@pytest.mark.parametrize(("tap", "source", "carried"), [
    ("lstm_1", "lstm_0", True), ("lstm_1/gates", "lstm_0", True),
    ("CL/fore_cl3_0", "CL/enco_cl3_4", True),  # an encoder's state into a forecaster
    ("lstm_1", "lstm_2", False), ("model/output_0", "model/prev_image_0", False),
    ("dense", "lstm_3", False)])
def test_which_inputs_carry_a_recurrent_state(tap, source, carried):
    assert carries_state(tap, source) is carried


@pytest.mark.parametrize(("tap", "source", "hint"), [
    ("lstm_1", "lstm_0", "state_not_carried"),
    ("model/output_0", "model/prev_image_0", "input_ignored")])
def test_a_zero_gradient_to_an_input_explains_the_failing_tap(tap, source, hint):
    found = forward_failing(tap)
    grad, item = RNG.normal(size=(2, 4, 4, 3)), f"{tap} <- {source}"
    backward = [diff(item, grad, np.zeros_like(grad))]
    assert backward[0].hint == "port_zero"
    explain_forward(found, backward, *sides(item, grad, np.zeros_like(grad), "nhwc"))
    for diffs in found.values():
        assert diffs[0].hint == hint and source in diffs[0].suggestion


def test_a_zero_variable_gradient_is_no_input_ignored():
    found = forward_failing("lstm_1")
    grad, item = RNG.normal(size=(3, 3, 2, 4)), "lstm_1 <- lstm/kernel"
    backward = [diff(item, grad, np.zeros_like(grad), "hwio")]
    explain_forward(found, backward, *sides(item, grad, np.zeros_like(grad), "hwio"))
    assert found[FORWARD_E2E_INFERENCE][0].hint != "input_ignored"


@pytest.mark.parametrize(("port", "hint"), [
    (lambda g: g.transpose(1, 0, 2, 3, 4).copy(), "kernel_axes_swapped"),
    (lambda g: g.transpose(0, 1, 2, 4, 3).copy(), "kernel_axes_swapped"),
])
def test_a_kernel_gradient_in_another_order_explains_the_failing_tap(port, hint):
    found = forward_failing("conv")
    grad, item = RNG.normal(size=(3, 3, 3, 4, 4)), "conv <- conv/kernel"
    backward = [diff(item, grad, port(grad), "hwio")]
    explain_forward(found, backward, *sides(item, grad, port(grad), "hwio"))
    assert found[FORWARD_E2E_INFERENCE][0].hint == hint


def test_a_2d_kernel_flipped_explains_the_failing_tap():
    found = forward_failing("deconv")
    grad, item = RNG.normal(size=(3, 3, 2, 4)), "deconv <- deconv/kernel"
    flipped = grad[::-1, ::-1].copy()
    backward = [diff(item, grad, flipped, "hwio")]
    assert backward[0].hint == "spatially_flipped"
    explain_forward(found, backward, *sides(item, grad, flipped, "hwio"))
    assert found[FORWARD_E2E_INFERENCE][0].hint == "spatially_flipped"


def test_a_kernel_gradient_only_near_a_flip_explains_nothing():
    """A smooth gradient shifted by a pixel can pass for a flip within the backward's own
    tolerance; the forward tap takes a kernel hint only from an exact one."""
    found = forward_failing("conv")
    grad, item = RNG.normal(size=(3, 3, 2, 4)), "conv <- conv/kernel"
    near = grad[::-1, ::-1] + 1e-2 * np.abs(grad).max()
    backward = [diff(item, grad, near, "hwio")]
    backward[0].hint = "spatially_flipped"  # as the loose rule may say
    explain_forward(found, backward, *sides(item, grad, near, "hwio"))
    assert found[FORWARD_E2E_INFERENCE][0].hint != "spatially_flipped"


def test_a_gradient_routed_to_another_input_names_both():
    g0, g1 = RNG.normal(size=(2, 8)), RNG.normal(size=(2, 8))
    reference = Backward(items=OrderedDict([("loss <- p_0", g0), ("loss <- p_1", g1)]))
    port = Backward(items=OrderedDict([("loss <- p_0", g1), ("loss <- p_1", g0)]))
    diffs = [diff(name, reference.items[name], port.items[name], "flat")
             for name in reference.items]
    for d in diffs:
        d.hint = d.suggestion = None  # no single-item diagnosis
    explain_routing(diffs, reference, port)
    assert [d.hint for d in diffs] == ["inputs_reordered"] * 2
    assert "to p_0 is the reference's to p_1" in diffs[0].suggestion


def test_a_port_of_one_constant():
    ref = RNG.random((2, 5, 5, 1))
    port = np.full_like(ref, 1 / 25)
    d = compare_arrays("k", ref, port, 1e-5, 1e-5, diagnose=False)
    assert diagnose(ref, port, d)[0] == "port_constant"
    assert diagnose(ref, np.zeros_like(ref), d)[0] == "port_zero"


def test_a_bias_gradient_twice_the_reference_is_a_bias_used_twice():
    grad = RNG.normal(size=8)
    reference, port = sides("fc <- fc/biases", grad, 2 * grad, "hwio")
    diffs = [diff("fc <- fc/biases", grad, 2 * grad, "hwio")]
    assert diffs[0].hint != "bias_twice"  # alone: a scale, "a sum where a mean was meant"
    explain_reused(diffs, reference, port)
    assert diffs[0].hint == "bias_twice" and "2 x the reference's" in diffs[0].suggestion
    kernel = RNG.normal(size=(3, 3, 2, 4))  # only a bias (1-D) is read so
    diffs = [diff("conv <- conv/kernel", kernel, 2 * kernel, "hwio")]
    explain_reused(diffs, *sides("conv <- conv/kernel", kernel, 2 * kernel, "hwio"))
    assert diffs[0].hint != "bias_twice"


def test_a_tap_off_by_its_bias_on_every_channel():
    bias = RNG.normal(size=4)
    ref = RNG.normal(size=(2, 5, 5, 4))
    assert bias_offset(ref, ref + bias, bias, 1e-6, 1e-6) == 1
    assert bias_offset(ref, ref - bias, bias, 1e-6, 1e-6) == -1
    relu = np.maximum(ref, 0)  # only where the relu keeps both sides
    assert bias_offset(relu, np.maximum(ref + bias, 0), bias, 1e-6, 1e-6) == 0  # too few kept
    kept = np.abs(ref) + 1
    assert bias_offset(kept, kept + bias, bias, 1e-6, 1e-6) == 1
    assert bias_offset(ref, ref + 2 * bias, bias, 1e-6, 1e-6) == 0


def test_a_tap_that_is_another_reference_tap_names_it():
    mean, log_std = RNG.normal(size=(4, 6)), RNG.normal(size=(4, 6))
    reference = {"inference": {"z_mean": mean, "z_stddev_log": log_std}}
    port = {FORWARD_E2E_INFERENCE: {"z_mean": log_std, "z_stddev_log": mean}}
    found = {FORWARD_E2E_INFERENCE: [diff(name, reference["inference"][name],
                                          port[FORWARD_E2E_INFERENCE][name], "flat")
                                     for name in ("z_mean", "z_stddev_log")]}
    for d in found[FORWARD_E2E_INFERENCE]:
        d.hint = d.suggestion = None
    explain_other_taps(found, reference, port)
    first = found[FORWARD_E2E_INFERENCE][0]
    assert first.hint == "reads_another_tap" and "is the reference's z_stddev_log" in (
        first.suggestion)
