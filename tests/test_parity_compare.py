"""parity.compare, parity.diagnose and parity.verdict on hand-made arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.errors import UserError
from parity import compare_arrays, compare_dicts, compare_steps
from parity.diagnose import diagnose, suggest
from parity.diff import NONFINITE, PASS, SHAPE, TensorDiff
from parity.verdict import Verdict, build_verdict
from spec.section_keys import (
    FORWARD_E2E_INFERENCE,
    FORWARD_ISO_INFERENCE,
    GRADIENTS,
    TRAINING_LOSSES,
)

ATOL = RTOL = 1e-5


def rng(seed=0):
    return np.random.default_rng(seed)


def nchw(seed=0, shape=(2, 4, 8, 8)):
    return rng(seed).normal(size=shape).astype(np.float32)


# --- the comparison rule ---------------------------------------------------------------------


def test_identical_arrays_pass_with_zeros():
    a = nchw()
    d = compare_arrays("t", a, a.copy(), ATOL, RTOL)
    assert d.status == PASS and d.passed
    assert d.max_abs == d.mean_abs == d.max_rel == d.min_atol == d.min_rtol == 0.0
    assert d.cosine == pytest.approx(1.0)
    assert d.n_mismatched == 0 and d.n_compared == a.size
    assert d.ref_max_abs == pytest.approx(float(np.abs(a).max()))
    assert d.suggestion is None


def test_single_element_off_fails_and_is_the_worst_index():
    a = nchw()
    b = a.copy()
    b[1, 2, 3, 4] += 0.5
    b[0, 0, 0, 0] += 1e-7  # within atol
    d = compare_arrays("t", a, b, ATOL, RTOL)
    assert d.status == "fail" and not d.passed
    assert d.worst_index == (1, 2, 3, 4)
    assert d.max_abs == pytest.approx(0.5, rel=1e-6)
    assert d.n_mismatched == 1
    assert d.ref_at_worst == pytest.approx(float(a[1, 2, 3, 4]))
    assert d.port_at_worst == pytest.approx(float(b[1, 2, 3, 4]))
    assert "(1, 2, 3, 4)" in d.describe()


def test_element_passes_when_either_abs_or_rel_is_within_tolerance():
    ref = np.array([1000.0, 1e-9])
    port = np.array([1000.001, 2e-9])  # abs 1e-3 > atol but rel 1e-6; rel 1 but abs 1e-9
    assert compare_arrays("t", ref, port, atol=1e-5, rtol=1e-5).passed
    assert not compare_arrays("t", ref, port, atol=1e-10, rtol=1e-5).passed
    assert not compare_arrays("t", ref, port, atol=1e-5, rtol=1e-7).passed


def test_zero_reference_uses_tiny_denominator():
    ref = np.array([0.0, 1.0])
    port = np.array([1e-6, 1.0])
    d = compare_arrays("t", ref, port, atol=1e-5, rtol=1e-5)
    assert d.passed  # abs 1e-6 <= atol
    assert d.max_rel == pytest.approx(1e-6 / 2.2e-16)
    d = compare_arrays("t", ref, port, atol=1e-7, rtol=1e3)
    assert not d.passed  # rel is ~4.5e9: a zero reference needs the abs rule
    d = compare_arrays("t", np.zeros(3), np.zeros(3), atol=0, rtol=0)
    assert d.passed and d.max_rel == 0 and d.cosine == 1.0


def test_cosine_for_zero_vectors():
    assert compare_arrays("t", np.zeros(4), np.zeros(4), ATOL, RTOL).cosine == 1.0
    assert compare_arrays("t", np.zeros(4), np.ones(4), ATOL, RTOL).cosine == 0.0
    assert compare_arrays("t", np.ones(4), -np.ones(4), ATOL, RTOL).cosine == pytest.approx(-1)


def test_nan_on_one_side_fails_whatever_the_tolerance():
    a = nchw()
    b = a.copy()
    b[0, 1, 2, 3] = np.nan
    d = compare_arrays("t", a, b, atol=1e9, rtol=1e9)
    assert d.status == NONFINITE and not d.passed
    assert d.n_nonfinite_mismatch == 1 and d.worst_index == (0, 1, 2, 3)
    assert math.isinf(d.min_atol) and math.isinf(d.min_rtol)
    assert d.max_abs == 0.0  # the finite elements agree
    assert d.suggestion and d.suggestion.startswith("NaN/inf appears here")
    assert "in the port" in d.suggestion


def test_nan_in_both_at_the_same_place_is_reported_and_passes():
    a = nchw()
    a[0, 0, 1, 1] = np.nan
    a[1, 3, 2, 2] = np.nan
    b = a.copy()
    b[0, 0, 0, 0] += 1e-7
    d = compare_arrays("t", a, b, ATOL, RTOL)
    assert d.passed
    assert d.n_nan_both == 2 and d.n_compared == a.size - 2
    assert "nan in both (2 elements)" in d.note
    assert np.isfinite(d.max_abs) and np.isfinite(d.cosine)
    c = b.copy()
    c[1, 3, 2, 2] = 0.0
    c[1, 3, 2, 3] = np.nan  # NaN moved: the masks differ
    assert compare_arrays("t", a, c, ATOL, RTOL).status == NONFINITE


def test_inf_handling():
    ref = np.array([np.inf, -np.inf, 1.0, 2.0])
    assert compare_arrays("t", ref, ref.copy(), ATOL, RTOL).passed
    d = compare_arrays("t", ref, ref.copy(), ATOL, RTOL)
    assert d.n_inf_both == 2 and "inf in both" in d.note
    flipped = np.array([-np.inf, -np.inf, 1.0, 2.0])  # +inf vs -inf
    assert compare_arrays("t", ref, flipped, ATOL, RTOL).status == NONFINITE
    finite = np.array([1e30, -np.inf, 1.0, 2.0])  # inf vs a finite number
    d = compare_arrays("t", ref, finite, 1e40, 1e40)
    assert d.status == NONFINITE and d.n_nonfinite_mismatch == 1 and d.worst_index == (0,)
    assert "in the reference" in d.suggestion


def test_shape_mismatch_has_no_statistics():
    d = compare_arrays("t", np.zeros((2, 3, 4, 4)), np.zeros((2, 3, 5, 4)), ATOL, RTOL)
    assert d.status == SHAPE and not d.passed
    assert d.ref_shape == (2, 3, 4, 4) and d.port_shape == (2, 3, 5, 4)
    assert d.max_abs is None and d.cosine is None and d.worst_index is None
    row = d.to_row()
    assert row["ref_shape"] == "2x3x4x4" and row["port_shape"] == "2x3x5x4"
    assert row["max_abs"] == "" and row["passed"] is False


def test_min_tolerances_are_exactly_where_elemwise_flips():
    a = nchw(1)
    b = a + rng(2).normal(size=a.shape).astype(np.float32) * 1e-3
    d = compare_arrays("t", a, b, ATOL, RTOL)
    assert d.min_atol == d.max_abs and d.min_rtol == d.max_rel
    assert compare_arrays("t", a, b, atol=d.min_atol, rtol=0).passed
    assert not compare_arrays("t", a, b, atol=np.nextafter(d.min_atol, 0), rtol=0).passed
    assert compare_arrays("t", a, b, atol=0, rtol=d.min_rtol).passed
    assert not compare_arrays("t", a, b, atol=0, rtol=np.nextafter(d.min_rtol, 0)).passed


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=20),
       st.lists(st.floats(-1.0, 1.0, allow_nan=False), min_size=20, max_size=20))
def test_min_tolerances_boundary_property(values, noise):
    ref = np.array(values)
    port = ref + np.array(noise[: ref.size])
    d = compare_arrays("t", ref, port, ATOL, RTOL, diagnose=False)
    assert compare_arrays("t", ref, port, d.min_atol, 0, diagnose=False).passed
    assert compare_arrays("t", ref, port, 0, d.min_rtol, diagnose=False).passed
    if d.min_atol > 0:
        below = np.nextafter(d.min_atol, 0)
        assert not compare_arrays("t", ref, port, below, 0, diagnose=False).passed
    if d.min_rtol > 0:
        below = np.nextafter(d.min_rtol, 0)
        assert not compare_arrays("t", ref, port, 0, below, diagnose=False).passed


def test_max_mean_quantile_statistics():
    ref = np.ones(100)
    port = ref.copy()
    port[:5] += 1.0  # 5 elements off by 1, the rest exact
    kw = dict(atol=0.1, rtol=0.1)
    assert not compare_arrays("t", ref, port, stat="elemwise", **kw).passed
    d = compare_arrays("t", ref, port, stat="max", **kw)
    assert not d.passed and d.abs_stat == 1.0 and d.rel_stat == 1.0
    d = compare_arrays("t", ref, port, stat="mean", **kw)
    assert d.passed and d.abs_stat == pytest.approx(0.05) and d.rel_stat == pytest.approx(0.05)
    d = compare_arrays("t", ref, port, stat="quantile", quantile=0.9, **kw)
    assert d.passed and d.abs_stat == 0.0
    d = compare_arrays("t", ref, port, stat="quantile", quantile=0.99, **kw)
    assert not d.passed and d.abs_stat == pytest.approx(1.0)
    assert compare_arrays("t", ref, port, stat="median", **kw).passed
    # the non-elemwise statistics fail only when abs AND rel exceed their tolerance
    assert compare_arrays("t", ref, port, stat="max", atol=0.1, rtol=2.0).passed
    assert compare_arrays("t", ref, port, stat="max", atol=2.0, rtol=0.1).passed


def test_bad_options_are_user_errors():
    with pytest.raises(UserError, match="statistic"):
        compare_arrays("t", np.zeros(2), np.zeros(2), ATOL, RTOL, stat="median99")
    with pytest.raises(UserError, match="tolerances"):
        compare_arrays("t", np.zeros(2), np.zeros(2), -1.0, RTOL)


def test_scalars_and_empty_arrays():
    d = compare_arrays("loss", np.float32(0.5), np.float32(0.5), ATOL, RTOL)
    assert d.passed and d.ref_shape == () and d.worst_index == ()
    d = compare_arrays("loss", np.float32(0.5), np.float32(0.6), ATOL, RTOL)
    assert not d.passed and d.worst_index == ()
    assert compare_arrays("e", np.zeros((0, 3)), np.zeros((0, 3)), ATOL, RTOL).passed


def test_to_row_and_dict_round_trip():
    a = nchw()
    b = a.copy()
    b[0, 0, 0, 0] = np.nan
    d = compare_arrays("t", a, b, ATOL, RTOL)
    row = d.to_row()
    assert row["worst_index"] == "0;0;0;0" and row["status"] == NONFINITE
    back = TensorDiff.from_dict(d.to_dict())
    assert back.worst_index == d.worst_index and back.ref_shape == d.ref_shape
    assert math.isinf(back.min_atol) and back.suggestion == d.suggestion
    assert back.to_dict() == d.to_dict()


def test_compare_dicts_order_and_missing():
    ref = {"a": np.ones(2), "b": np.ones(2), "c": np.ones(2)}
    port = {"c": np.ones(2), "a": np.ones(2), "d": np.ones(3)}
    diffs = compare_dicts(ref, port, ATOL, RTOL, order=["a", "b", "c"])
    assert [d.name for d in diffs] == ["a", "b", "c", "d"]
    assert diffs[1].status == SHAPE and "missing in the port" in diffs[1].note
    assert diffs[3].status == SHAPE and diffs[3].port_shape == (3,)


def test_compare_steps_names_each_step():
    steps = [dict(step=s, tf_loss=1.0 / (s + 1), tf_l2=0.5, tf_kl=0.1,
                  port_loss=1.0 / (s + 1), port_l2=0.5, port_kl=0.1) for s in range(5)]
    steps[3]["port_kl"] = 0.2
    diffs = compare_steps(steps, ATOL, RTOL)
    assert [d.name for d in diffs] == [f"step {s}" for s in range(5)]
    assert [d.passed for d in diffs] == [True, True, True, False, True]
    assert "worst: kl" in diffs[3].note


# --- diagnose --------------------------------------------------------------------------------


def failing(reference, port, layout=None, atol=ATOL, rtol=RTOL):
    d = compare_arrays("t", reference, port, atol, rtol, diagnose=False)
    assert d.failed
    return d, suggest(reference, port, d, layout=layout)


def test_padding_error_only_in_last_row_says_bottom():
    a = nchw()
    b = a.copy()
    b[..., -1, :] += 0.3
    _, s = failing(a, b)
    assert "border" in s and "bottom" in s and "top" not in s.split(":")[0]
    assert "SAME padding asymmetry" in s


def test_padding_error_top_left_and_all_sides():
    a = nchw()
    b = a.copy()
    b[..., 0, :] += 0.3
    b[..., :, 0] += 0.3
    _, s = failing(a, b)
    assert "top/left border" in s
    c = a.copy()
    c[..., 0, :] += 0.3
    c[..., -1, :] += 0.3
    c[..., :, 0] -= 0.2
    c[..., :, -1] -= 0.2
    _, s = failing(a, c)
    assert s.startswith("error only at the border (top, bottom, left, right")


def test_padding_in_nhwc_layout():
    a = nchw().transpose(0, 2, 3, 1)  # NHWC
    b = a.copy()
    b[:, :, -1, :] += 0.3  # last column
    _, s = failing(a, b, layout="nhwc")
    assert "right border" in s


def test_channels_permuted():
    a = nchw()
    b = a[:, [2, 0, 1, 3]]
    _, s = failing(a, b)
    assert s.startswith("channels permuted") and "[2, 0, 1, 3]" in s


def test_flatten_order_same_values():
    # z flattened in NCHW instead of NHWC order: the same values per sample in another order
    a = nchw(shape=(3, 4, 3, 3))
    ref_flat = a.transpose(0, 2, 3, 1).reshape(3, -1)
    port_flat = a.reshape(3, -1)
    _, s = failing(ref_flat, port_flat, layout="flat")
    assert s.startswith("same values in a different order")


def test_batch_permuted():
    a = nchw()
    _, s = failing(a, a[::-1].copy())
    assert s.startswith("samples permuted") and "[1, 0]" in s


def test_shape_off_by_one_in_spatial_axis():
    d, s = failing(np.zeros((2, 8, 10, 10)), np.zeros((2, 8, 11, 11)))
    assert d.status == SHAPE
    assert s.startswith("shape differs by one in a spatial axis") and "cover_all" in s
    assert "H: reference 10, port 11" in s
    _, s = failing(np.zeros((2, 10, 10, 8)), np.zeros((2, 11, 10, 8)), layout="nhwc")
    assert "H: reference 10, port 11" in s
    _, s = failing(np.zeros((2, 8, 10, 12)), np.zeros((2, 9, 10, 12)))
    assert s is None or "spatial" not in s  # the channel axis is not spatial


def test_shape_permuted_layout():
    _, s = failing(np.zeros((2, 8, 5, 6)), np.zeros((2, 5, 6, 8)))
    assert "permutation" in s and "NHWC vs NCHW" in s


def test_hw_transposed():
    a = nchw()
    _, s = failing(a, a.transpose(0, 1, 3, 2).copy())
    assert s.startswith("values transposed (H and W swapped)")


def test_constant_offset_and_scale():
    a = nchw()
    _, s = failing(a, a + 0.25)
    assert s.startswith("constant offset") and "0.25" in s
    _, s = failing(a, a * 1.5)
    assert s.startswith("constant scale") and "1.5" in s
    _, s = failing(a, a * 2 + 1)
    assert s.startswith("constant offset / scale")


def test_sign_flipped():
    a = nchw()
    _, s = failing(a, -a)
    assert s.startswith("sign flipped")


def test_kernel_flipped_in_hwio_layout():
    k = rng(3).normal(size=(5, 5, 3, 8))
    _, s = failing(k, k[::-1, ::-1].copy(), layout="hwio")
    assert s.startswith("kernel flipped") and "correlation" in s


def test_per_channel_scale_points_at_batchnorm():
    a = nchw()
    scale = np.array([1.0, 1.1, 0.9, 1.2]).reshape(1, 4, 1, 1)
    _, s = failing(a, a * scale + 0.01 * np.arange(4).reshape(1, 4, 1, 1))
    assert s.startswith("per-channel scale/offset") and "BatchNorm" in s


def test_error_in_one_channel_only():
    a = nchw(shape=(2, 8, 6, 6))
    b = a.copy()
    b[:, 5] += rng(4).normal(size=b[:, 5].shape) * 0.1  # noise, not an affine map
    _, s = failing(a, b)
    assert s.startswith("error only in channel 5 of 8")


def test_random_noise_gives_no_suggestion():
    for seed in range(5):
        a = nchw(seed)
        b = a + rng(seed + 100).normal(size=a.shape) * 0.05
        _, s = failing(a, b)
        assert s is None
        flat = rng(seed).normal(size=(4, 144))
        _, s = failing(flat, flat + rng(seed + 7).normal(size=flat.shape) * 0.05)
        assert s is None


def test_float_noise_is_not_a_pattern():
    # tiny noise that fails a tight tolerance must not read as an affine map or a permutation
    a = nchw()
    b = a + rng(9).normal(size=a.shape) * 1e-4
    _, s = failing(a, b, atol=1e-6, rtol=1e-6)
    assert s is None


def test_compare_arrays_fills_suggestion_only_when_failing():
    a = nchw()
    assert compare_arrays("t", a, a, ATOL, RTOL).suggestion is None
    assert compare_arrays("t", a, -a, ATOL, RTOL).suggestion.startswith("sign flipped")
    assert compare_arrays("t", a, -a, ATOL, RTOL, diagnose=False).suggestion is None


# --- verdict ---------------------------------------------------------------------------------


def fake_section(names, bad, big=None):
    """Diffs for `names`: those in `bad` off by 1e-3, `big` off by 1.0."""
    out = []
    for i, name in enumerate(names):
        a = nchw(i, shape=(1, 2, 4, 4))
        b = a.copy()
        if name in bad:
            b = b + 1e-3
        if name == big:
            b = b + 1.0
        out.append(compare_arrays(name, a, b, ATOL, RTOL))
    return out


NAMES = ["conv1", "pool1", "conv2", "conv3", "out"]


def test_first_divergent_is_first_in_graph_order_not_the_worst():
    sections = {FORWARD_E2E_INFERENCE: fake_section(NAMES, bad={"conv2", "out"}, big="out")}
    v = build_verdict(sections)
    assert not v.passed and v.status == "FAIL" and v.exit_status() == 1
    assert v.first_divergent == "conv2"
    sv = v.sections[FORWARD_E2E_INFERENCE]
    assert sv.first_failure == "conv2" and sv.first_position == 2
    assert sv.failed == ["conv2", "out"] and sv.n_failed == 2 and sv.n_items == 5
    assert sv.worst_max_abs > 1.0 > sv.first_max_abs
    assert "conv2" in v.summary_text() and "FAIL" in v.summary_text()


def test_graph_order_resorts_the_forward_taps():
    diffs = fake_section(NAMES, bad={"conv1", "conv3"})
    shuffled = [diffs[3], diffs[0], diffs[1], diffs[2], diffs[4]]
    v = build_verdict({FORWARD_E2E_INFERENCE: shuffled})
    assert v.first_divergent == "conv3"  # the given order when no graph order
    v = build_verdict({FORWARD_E2E_INFERENCE: shuffled}, graph_order=NAMES)
    assert v.first_divergent == "conv1"


def test_pass_when_all_pass_and_fail_when_nothing_compared():
    v = build_verdict({FORWARD_E2E_INFERENCE: fake_section(NAMES, bad=set()),
                       GRADIENTS: fake_section(["w1", "w2"], bad=set())})
    assert v.passed and v.status == "PASS" and v.exit_status() == 0
    assert v.first_divergent is None and v.headline().startswith("PASS: 7 comparisons")
    empty = build_verdict({FORWARD_E2E_INFERENCE: []})
    assert not empty.passed and empty.exit_status() == 1


def test_section_order_and_per_section_first_failures():
    steps = [dict(step=s, tf_loss=1.0, port_loss=1.0 + (0.1 if s >= 4 else 0.0))
             for s in range(1, 8)]
    sections = {
        TRAINING_LOSSES: compare_steps(steps, ATOL, RTOL),
        GRADIENTS: fake_section(["a/weights", "a/beta", "b/weights"], bad={"a/beta"}),
        FORWARD_ISO_INFERENCE: fake_section(NAMES, bad={"pool1"}),
        FORWARD_E2E_INFERENCE: fake_section(NAMES, bad={"pool1", "conv2", "conv3", "out"}),
    }
    v = build_verdict(sections)
    assert list(v.sections) == [FORWARD_E2E_INFERENCE, FORWARD_ISO_INFERENCE, GRADIENTS,
                                TRAINING_LOSSES]
    assert v.first_section == FORWARD_E2E_INFERENCE and v.first_divergent == "pool1"
    assert v.sections[GRADIENTS].first_failure == "a/beta"
    assert v.sections[TRAINING_LOSSES].first_step == 4
    text = v.summary_text()
    assert "first divergent parameter a/beta" in text
    assert "the loss curves part at step 4" in text
    assert "Isolated mode" in text and "pool1 itself" in text
    back = Verdict.from_dict(v.to_dict())
    assert back.to_dict() == v.to_dict()


def test_first_nonfinite_tap_is_named():
    a = nchw(shape=(1, 2, 4, 4))
    b = a.copy()
    b[0, 0, 0, 0] = np.inf
    diffs = [compare_arrays("x", a, a, ATOL, RTOL), compare_arrays("y", a, b, ATOL, RTOL)]
    v = build_verdict({FORWARD_E2E_INFERENCE: diffs})
    assert v.first_divergent == "y" and v.first_nonfinite.startswith("y")
    assert "NaN/inf" in v.suggestion


def test_large_arrays_take_the_sampled_path_and_still_match():
    a = nchw(shape=(2, 8, 48, 48))  # above the sampling threshold
    _, s = failing(a, a[:, [1, 0, 2, 3, 4, 5, 6, 7]])
    assert s.startswith("channels permuted")
    _, s = failing(a, a.transpose(0, 1, 3, 2).copy())
    assert s.startswith("values transposed")
    _, s = failing(a, a + rng(5).normal(size=a.shape) * 0.05)
    assert s is None


def test_isolated_remark_only_when_isolated_sections_ran():
    e2e = fake_section(NAMES, bad={"conv3"})
    text = build_verdict({FORWARD_E2E_INFERENCE: e2e}).summary_text()
    assert "isolation" not in text
    text = build_verdict({FORWARD_E2E_INFERENCE: e2e,
                          FORWARD_ISO_INFERENCE: fake_section(NAMES, bad=set())}).summary_text()
    assert "Every layer agrees in isolation" in text


def test_a_strided_error_is_periodic():
    # A stride-4 transposed conv writing the wrong value at each patch's first two rows.
    a = nchw(shape=(2, 3, 16, 16))
    b = a.copy()
    b[..., 0::4, :] += 0.3
    b[..., 1::4, :] -= 0.2
    d, s = failing(a, b)
    assert s.startswith("error periodic in H with period 4 (only H % 4 in {0, 1} fails)")
    assert diagnose(a, b, d)[0] == "periodic_error"


def test_one_bad_row_is_not_periodic():
    a = nchw(shape=(2, 3, 16, 16))
    b = a.copy()
    b[..., 7, :] += 0.3
    assert "periodic" not in (failing(a, b)[1] or "")


def test_a_kernel_in_another_axis_order_says_the_transpose_that_undoes_it():
    """A kernel (HWIO) with in and out swapped is `kernel_axes_swapped`, naming the axes; any
    other array in another axis order is `axes_transposed`; both print the undoing
    transpose."""
    kernel = np.random.default_rng(3).normal(size=(3, 5, 4, 4)).astype(np.float32)
    port = kernel.transpose(0, 1, 3, 2).copy()
    d, s = failing(kernel, port, layout="hwio")
    assert diagnose(kernel, port, d, "hwio")[0] == "kernel_axes_swapped"
    assert "kernel axes swapped (in, out)" in s and s.endswith("its transpose (0, 1, 3, 2)")
    d, s = failing(kernel, port, layout="nhwc")
    assert diagnose(kernel, port, d, "nhwc")[0] == "axes_transposed"
    assert "transpose(0, 1, 3, 2)" in s and "np.transpose(port, (0, 1, 3, 2))" in s


@pytest.mark.parametrize(("shape", "perm", "named"), [
    ((3, 3, 3, 2, 4), (1, 0, 2, 3, 4), "(D, H)"),  # conv3d, D and H
    ((3, 3, 3, 2, 4), (0, 2, 1, 3, 4), "(H, W)"),
    ((5, 3, 3), (0, 2, 1), "(in, out)"),  # conv1d
])
def test_kernels_of_any_rank_with_axes_swapped(shape, perm, named):
    kernel = np.random.default_rng(5).normal(size=shape).astype(np.float32)
    port = kernel.transpose(perm).copy()
    d, s = failing(kernel, port, layout="hwio")
    assert diagnose(kernel, port, d, "hwio")[0] == "kernel_axes_swapped"
    assert f"kernel axes swapped {named}" in s
    undo = tuple(int(i) for i in s.rsplit("its transpose ", 1)[1].strip("()").split(", "))
    np.testing.assert_array_equal(port.transpose(undo), kernel)


def test_a_reshape_where_a_transpose_was_meant():
    kernel = np.random.default_rng(4).normal(size=(3, 3, 2, 5)).astype(np.float32)
    port = kernel.transpose(3, 2, 0, 1).reshape(kernel.shape)  # OIHW bytes read as HWIO
    _, s = failing(kernel, port, layout="hwio")
    assert "a reshape where a transpose was meant" in s
    undo = eval("port" + s.split("the fix: port", 1)[1])  # the printed fix, applied
    np.testing.assert_array_equal(undo, kernel)


def test_a_scalar_summed_instead_of_averaged():
    a = np.array(0.37, np.float32)
    d, s = failing(a, a * 3072)
    assert s.startswith("port = 3072 x reference: a sum where a mean was meant")
    assert diagnose(a, a / 8, compare_arrays("t", a, a / 8, ATOL, RTOL))[0] == "integer_ratio"
    assert (failing(a, a * 1.7)[1] or "").find("sum") < 0


def test_a_port_of_zeros_says_nothing_reaches_it():
    a = nchw()
    d, s = failing(a, np.zeros_like(a))
    assert s.startswith("the port's values are all zero")
    assert diagnose(a, np.zeros_like(a), d)[0] == "port_zero"


def test_a_gradient_transposed_within_its_wide_tolerance_is_named():
    # Gradients pass within 10% of their range: the loose rule (10x) would call any two
    # gradients "close", so a transform is then checked against the tolerance itself.
    grad = np.random.default_rng(5).normal(size=(1, 4, 4, 3)).astype(np.float32)
    port = grad.transpose(0, 2, 1, 3).copy()
    d = compare_arrays("g", grad, port, 0.1 * np.abs(grad).max(), 1e-3)
    assert d.failed
    assert diagnose(grad, port, d, "hwio")[0] == "axes_transposed"
