"""Near-ties (parity.ties): found from both sides' taps, traced to the gradients they reach,
and only the failing elements inside that reach excused; a port that routes a pool's gradient
to the wrong element still fails."""

from __future__ import annotations

import numpy as np
import pytest

from parity.compare import compare_arrays
from parity.diff import FAIL, PASS, TIE
from parity.ties import Tie, explain, find_ties, pool_ties, reach, relu_ties, ties_reason
from spec.cross_conv import PAIR, build_spec, get_preset

TINY = build_spec(get_preset("tiny"))
LAYER = {layer.name: layer for layer in TINY}
POOL = LAYER["motion_encoder/MaxPool2D"]


def pool_input(seed: int = 0) -> np.ndarray:
    """A positive pool input with distinct values (so no window ties exactly)."""
    shape = (2, *LAYER[POOL.inputs[0]].shape)
    return np.random.default_rng(seed).permutation(np.prod(shape)).reshape(shape).astype(
        np.float32) + 1.0


def flip_window(ref: np.ndarray, n: int, i: int, j: int, c: int, gap_ulps: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Reference and port pool inputs whose window (n, i, j, c) has its top two values
    `gap_ulps` float32 steps apart, in the opposite order on the port's side."""
    ref, port = ref.copy(), ref.copy()
    top = float(ref.max()) + 10.0
    second = np.float32(top)
    for _ in range(gap_ulps):
        second = np.nextafter(second, np.float32(-np.inf))
    s = POOL.attrs["stride"]
    a, b = (n, i * s, j * s, c), (n, i * s + 1, j * s, c)
    ref[a], ref[b] = top, second
    port[a], port[b] = second, top
    return ref, port


def test_a_window_won_by_different_elements_within_rounding_is_a_tie():
    ref, port = flip_window(pool_input(), 1, 2, 3, 4, gap_ulps=1)
    ties = pool_ties(POOL, ref, port, atol=1e-5, rtol=1e-5)
    assert len(ties) == 1
    tie = ties[0]
    assert tie.index == (1, 2, 3, 4) and tie.kind == "max_pool"
    assert tie.reference[0] == (1, 4, 6, 4) and tie.port[0] == (1, 5, 6, 4)
    assert "motion_encoder/MaxPool2D window (1, 2, 3, 4)" in tie.describe()


def test_an_order_the_tolerance_cannot_explain_is_no_tie():
    ref, port = flip_window(pool_input(), 0, 1, 1, 0, gap_ulps=1)
    top = port.max()
    port[port == top] = top + 1.0  # the port's winner is far above what the reference saw
    assert pool_ties(POOL, ref, port, atol=1e-5, rtol=1e-5) == []


def test_equal_values_on_both_sides_are_no_decision_of_either():
    ref = pool_input()
    ref[0, 0, 0, 0] = ref[0, 1, 0, 0] = ref.max() + 1.0  # an exact tie, the same on both sides
    assert pool_ties(POOL, ref, ref.copy(), atol=1e-5, rtol=1e-5) == []


def test_a_relu_cut_on_one_side_only_is_a_tie():
    conv = LAYER[POOL.inputs[0]]
    ref = np.maximum(pool_input() - 50.0, 0.0).astype(np.float32)
    port = ref.copy()
    zero = tuple(int(v) for v in np.argwhere(ref == 0)[0])
    port[zero] = 1e-7
    ties = relu_ties(conv, ref, port, atol=1e-5, rtol=1e-5)
    assert [t.index for t in ties] == [zero] and ties[0].kind == "relu"


def test_the_reach_of_a_motion_pool_stays_in_the_motion_encoder_and_its_frames():
    ref, port = flip_window(pool_input(), 1, 2, 3, 4, gap_ulps=1)
    ties = pool_ties(POOL, ref, port, atol=1e-5, rtol=1e-5)
    shapes = {layer.name: (2, *layer.shape) if layer.batch else () for layer in TINY}
    shapes["frames"] = (2, 2, 64, 64, 3)
    masks = reach(TINY, ties, shapes)
    assert set(masks) >= {"motion_encoder/Conv/weights", "frames"}
    assert set(masks) == {"frames", "motion_encoder/Conv/weights",
                          "motion_encoder/Conv/BatchNorm/beta"}
    frames = masks["frames"]
    assert frames[1].any() and not frames[0].any()  # sample 1 only
    assert 0 < frames.sum() < frames.size // 20  # a receptive field, not the image
    weights = masks["motion_encoder/Conv/weights"]  # the pool's input conv: channel 4 only
    assert weights[..., 4].all() and not weights[..., :4].any() and not weights[..., 5:].any()
    beta = masks["motion_encoder/Conv/BatchNorm/beta"]
    assert beta.sum() == 1 and beta[4]


def test_explain_excuses_only_failures_inside_the_reach():
    ref = np.zeros((4, 4), np.float32)
    mask = np.zeros((4, 4), bool)
    mask[1, 1] = True
    tie = Tie("x", "max_pool", (0, 0, 0, 0), ((0, 0, 0, 0), 1.0, 1.0), ((0, 0, 0, 1), 1.0, 1.0))
    inside = ref.copy()
    inside[1, 1] = 1.0
    reason = ties_reason([tie])
    diff = explain(compare_arrays("g", ref, inside, 0.1, 0.1), ref, inside, mask, reason)
    assert diff.status == TIE and diff.n_tie == 1 and "x window" in diff.note
    assert not diff.failed and not diff.passed
    outside = inside.copy()
    outside[2, 2] = 1.0
    diff = explain(compare_arrays("g", ref, outside, 0.1, 0.1), ref, outside, mask, reason)
    assert diff.status == FAIL
    assert explain(compare_arrays("g", ref, ref, 0.1, 0.1), ref, ref, mask, reason).status == PASS


@pytest.fixture(scope="module")
def chainer_capture(moving_objects_dir):
    """The port's own capture on tiny: it plays both sides of a synthetic near-tie."""
    from chainer_port.cross_conv import CrossConvModel
    from parity.capture import capture_model
    from parity.inputs import ParityInputs

    model = CrossConvModel("tiny")
    inputs = ParityInputs.from_dataset(PAIR, get_preset("tiny"), moving_objects_dir, 2, 0, 1)
    return capture_model(model, model.layout, TINY, model.get_weights(), inputs, 0,
                         ("forward", "gradients"), progress=False)


def test_compare_captures_reports_a_tie_and_still_fails_elsewhere(chainer_capture):
    """The port's capture against itself with one pool window made a near-tie (its runner-up
    one rounding step below the winner in the reference, one above in the port) and the
    frames gradient changed at one element its reach covers: tie; at one outside: FAIL."""
    import copy

    from parity.comparer import Comparer, compare_captures
    from parity.tolerances import Tolerances
    from spec.section_keys import GRADIENTS, INPUT_GRADIENT

    comparer = Comparer(TINY, Tolerances.defaults(), "elemwise")
    reference, port = copy.deepcopy(chainer_capture), copy.deepcopy(chainer_capture)
    key = f"training/{POOL.inputs[0]}"
    c = 0
    block = reference.arrays[key][0, :2, :2, c]
    first = np.unravel_index(int(np.argmax(block)), block.shape)
    second = (0, *(1 - first[0], first[1]), c)
    reference.arrays[key][second] = np.nextafter(block[first], np.float32(-np.inf))
    port.arrays[key][second] = np.nextafter(block[first], np.float32(np.inf))
    frames_grad = port.arrays["input_grad/frames"]
    scale = float(np.abs(frames_grad).max())
    inside = (0, 0, 2, 2, 0)
    frames_grad[inside] += scale
    found = compare_captures(reference, port, comparer)
    (frames,) = found[INPUT_GRADIENT]
    assert frames.status == TIE, frames.describe()
    assert POOL.name in frames.note
    assert all(d.status in (PASS, TIE) for d in found[GRADIENTS])
    frames_grad[1, 0, 40, 40, 0] += scale  # sample 1: out of the flipped window's reach
    found = compare_captures(reference, port, comparer)
    assert found[INPUT_GRADIENT][0].status == FAIL


def test_find_ties_reads_every_pool_and_conv_of_the_graph(chainer_capture):
    taps = chainer_capture.section("training")
    assert find_ties(TINY, taps, taps, 1e-3, 1e-4) == []
