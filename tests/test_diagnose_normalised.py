"""The hint `normalised_over_another_axis`: a softmax or a norm taken over another axis than
the reference's is named as such (with both axes), and not where the port is a transpose."""

from __future__ import annotations

import numpy as np
import pytest

from parity.compare import compare_arrays
from parity.diagnose import diagnose


def softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def standardise(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    mean = x.mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(x.var(axis=axes, keepdims=True) + 1e-12)


def hint(reference: np.ndarray, port: np.ndarray, layout: str) -> tuple[str, str] | None:
    diff = compare_arrays("t", reference, port, 1e-5, 1e-5, layout=layout, diagnose=False)
    assert diff.failed
    return diagnose(reference, port, diff, layout)


LOGITS = np.random.default_rng(0).standard_normal((2, 5, 6, 7)).astype(np.float32)


@pytest.mark.parametrize(("reference", "port", "layout", "port_axes", "ref_axes"), [
    (softmax(LOGITS, 3), softmax(LOGITS, 1), "nhwc", "H", "C"),
    (softmax(LOGITS, 1), softmax(LOGITS, 3), "nchw", "W", "C"),
    (softmax(LOGITS[0, 0], 1), softmax(LOGITS[0, 0], 0), "flat", "N", "axis 1"),
    (standardise(LOGITS, (1, 2, 3)), standardise(LOGITS, (3,)), "nhwc", "C", "H, W, C"),
])
def test_a_normalisation_over_another_axis_is_named(reference, port, layout, port_axes,
                                                    ref_axes):
    name, text = hint(reference, port, layout)
    assert name == "normalised_over_another_axis"
    assert f"over {port_axes}, the reference over {ref_axes}" in text


def test_a_transposed_softmax_is_a_transpose():
    """Port = the reference's axes swapped also sums to one over another axis: the exact
    transform (`axes_transposed`) is named, not the normalisation."""
    reference = softmax(np.random.default_rng(1).standard_normal((4, 6, 6)), 2)
    name, _ = hint(reference, np.ascontiguousarray(reference.transpose(0, 2, 1)), "flat")
    assert name == "axes_transposed"
