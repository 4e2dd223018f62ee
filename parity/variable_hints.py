"""Failing forward taps explained by the reference's other arrays, which no transform of the
tap alone can name: a port whose tap is the reference's plus (or minus) one of the layer's bias
vectors, channel by channel, adds that bias twice (or leaves it out); a port whose tap is the
reference's value of another tap reads or returns that one (two outputs swapped, the wrong
layer or step).

Where an activation follows the bias (relu(x + 2b) against relu(x + b)) only the elements
both sides keep are read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from parity.backward import BIAS_HINT
from parity.sections import E2E_SECTIONS, ISOLATED_SECTIONS
from spec.layer import Layer

KEPT = 0.5  # the least share of elements both sides keep (nonzero) for a fit
OTHER_TAP_HINT = "reads_another_tap"


def bias_offset(reference: np.ndarray, port: np.ndarray, bias: np.ndarray, atol: float,
                rtol: float) -> int:
    """+1 when port = reference + bias on every channel (last axis) where both are nonzero,
    -1 when port = reference - bias there, 0 otherwise."""
    ref, found = np.asarray(reference, np.float64), np.asarray(port, np.float64)
    if ref.shape != found.shape or ref.ndim == 0 or ref.shape[-1] != bias.size:
        return 0
    kept = (ref != 0) & (found != 0)
    if kept.mean() < KEPT or not np.abs(bias).max() > atol:
        return 0
    for sign in (1, -1):
        expected = ref + sign * np.asarray(bias, np.float64)
        bound = atol + rtol * np.abs(expected)
        if np.all(np.abs(found - expected)[kept] <= bound[kept]):
            return sign
    return 0


def explain_biases(found: Mapping[str, list[Any]], reference_taps: Mapping[str, Mapping],
                   port_taps: Mapping[str, Mapping], weights: Mapping[str, np.ndarray],
                   layers: list[Layer]) -> None:
    """Give a failing forward tap without hint the hint `bias_twice` when it is the
    reference's plus or minus one of its layer's 1-D variables (`bias_offset`)."""
    by_name = {layer.name: layer for layer in layers}
    for section in (*E2E_SECTIONS, *ISOLATED_SECTIONS):
        reference, port = reference_taps.get(section.mode, {}), port_taps.get(section.key, {})
        for diff in found.get(section.key, []):
            layer = by_name.get(diff.name)
            if (not diff.failed or diff.hint or layer is None or diff.name not in port
                    or diff.name not in reference):
                continue
            for variable in layer.variables:
                value = weights.get(variable.name)
                if value is None or value.ndim != 1:
                    continue
                sign = bias_offset(reference[diff.name], port[diff.name], value, diff.atol,
                                   diff.rtol)
                if sign:
                    diff.hint = BIAS_HINT
                    diff.suggestion = (
                        f"port = reference {'+' if sign > 0 else '-'} {variable.name} on "
                        f"every channel: the bias {'added twice' if sign > 0 else 'left out'}"
                        " (a bias in the op and again after it, or in neither)")
                    break


def explain_other_taps(found: Mapping[str, list[Any]], reference_taps: Mapping[str, Mapping],
                       port_taps: Mapping[str, Mapping]) -> None:
    """Give a failing forward tap without hint the hint `reads_another_tap` when, within its
    tolerance, it is the reference's value of another tap of its shape (not a constant)."""
    for section in (*E2E_SECTIONS, *ISOLATED_SECTIONS):
        reference, port = reference_taps.get(section.mode, {}), port_taps.get(section.key, {})
        for diff in found.get(section.key, []):
            if not diff.failed or diff.hint or diff.name not in port:
                continue
            found_value = np.asarray(port[diff.name], np.float64)
            bound = diff.atol + diff.rtol * np.abs(found_value)
            for other, value in reference.items():
                value = np.asarray(value, np.float64)
                if (other != diff.name and value.shape == found_value.shape
                        and np.ptp(value) > diff.atol
                        and np.all(np.abs(found_value - value) <= bound)):
                    diff.hint = OTHER_TAP_HINT
                    diff.suggestion = (f"the port's {diff.name} is the reference's {other}: "
                                       "it reads or returns another tap (two outputs swapped, "
                                       "a split unpacked the other way, the wrong layer or "
                                       "step)")
                    break
