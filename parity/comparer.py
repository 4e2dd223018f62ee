"""Compare what two sides computed, section by section, with each section's tolerance and
layout from `parity.sections`; near-tie decisions explained (`parity.ties`)."""

from __future__ import annotations

import math

import numpy as np

from common.errors import UserError
from parity.backward import Backward, item_layer
from parity.capture import Capture
from parity.compare import compare_arrays, compare_dicts, compare_steps, missing_diff, raised_diff
from parity.diff import TensorDiff
from parity.sections import BY_KEY, E2E_SECTIONS, ISOLATED_SECTIONS
from parity.synced import capture_step_rows
from parity.ties import Tie, explain, find_ties, reach
from parity.tolerances import Tolerances
from spec.layer import Layer
from spec.section_keys import (
    AFTER_TRAINING,
    BACKWARD_ISOLATED,
    GRADIENTS,
    INPUT_GRADIENT,
    MOVING_STATISTICS,
    TRAINING_LOSSES,
)
from spec.weights import variable_shapes

# Two float32 roundings (one per side) of a statistic, with a factor 2 to spare: 4 ulps.
MOVING_ROUNDING = 2.0 ** -22


class Comparer:
    """Compares dicts of tensors section by section with that section's tolerances."""

    def __init__(self, layers: list[Layer], tolerances: Tolerances, stat: str) -> None:
        self.layers = layers
        self.taps = [layer.name for layer in layers]
        self.variables = list(variable_shapes(layers))
        self.tolerances = tolerances
        self.stat = stat

    def tolerance(self, key: str) -> tuple[float, float]:
        """(atol, rtol) of a section."""
        return getattr(self.tolerances, BY_KEY[key].tolerance)

    def taps_diff(self, key: str, reference: dict, port: dict,
                  errors: dict[str, str] | None = None) -> list[TensorDiff]:
        """Taps in graph order; a tap in `errors` (the port raised computing it) is "raised"."""
        atol, rtol = self.tolerance(key)
        diffs = compare_dicts(reference, port, atol, rtol, self.stat, order=self.taps,
                              layouts=dict.fromkeys(self.taps, BY_KEY[key].layout),
                              scale_atol=True)
        errors = errors or {}
        return [raised_diff(d.name, errors[d.name], d.ref_shape, d.atol, d.rtol)
                if d.name in errors else d for d in diffs]

    def variables_diff(self, key: str, reference: dict, port: dict) -> list[TensorDiff]:
        """The variables either side holds, in variable order."""
        atol, rtol = self.tolerance(key)
        order = [name for name in self.variables if name in reference or name in port]
        return compare_dicts(reference, port, atol, rtol, self.stat, order=order,
                             layouts=dict.fromkeys(order, BY_KEY[key].layout), scale_atol=True)

    def moving_diff(self, reference: dict, port: dict, values: dict) -> list[TensorDiff]:
        """The normalisation statistics' updates of one training forward, in variable order.

        atol is in units of the largest |update| (as everywhere), but never below the float32
        rounding of the statistic the update was read from (MOVING_ROUNDING x its largest
        |value|): on trained weights an update is a small difference of two large numbers.
        """
        atol, rtol = self.tolerance(MOVING_STATISTICS)
        return [compare_arrays(name, reference[name], port[name],
                               max(atol * _max_abs(reference[name]),
                                   MOVING_ROUNDING * _max_abs(values[name])),
                               rtol, self.stat, layout=BY_KEY[MOVING_STATISTICS].layout)
                if name in port else missing_diff(name, reference[name], atol, rtol)
                for name in self.variables if name in reference]

    def inputs_diff(self, reference: dict, port: dict) -> list[TensorDiff]:
        """The gradients of the differentiable inputs."""
        atol, rtol = self.tolerance(INPUT_GRADIENT)
        return compare_dicts(reference, port, atol, rtol, self.stat,
                             layouts=dict.fromkeys(reference, BY_KEY[INPUT_GRADIENT].layout),
                             scale_atol=True)

    def backward_diff(self, reference: Backward, port: Backward) -> list[TensorDiff]:
        """The isolated backward's items in graph order; the items of a layer whose backward
        the port raised on are "raised"."""
        atol, rtol = self.tolerance(BACKWARD_ISOLATED)
        diffs = compare_dicts(reference.items, port.items, atol, rtol, self.stat,
                              layouts=reference.layouts, scale_atol=True)
        return [raised_diff(d.name, port.errors[item_layer(d.name)], d.ref_shape, d.atol,
                            d.rtol) if item_layer(d.name) in port.errors else d for d in diffs]

    def explain_ties(self, reference: Capture, port: Capture,
                     found: dict[str, list[TensorDiff]]) -> list[Tie]:
        """Gradient items failing only where near-tie decisions of the training forward reach
        become `tie` items (parity.ties); returns the decisions."""
        ref_taps, port_taps = reference.section("training"), port.section("training")
        ties = find_ties(self.layers, ref_taps, port_taps, *self.tolerances.training)
        if not ties:
            return ties
        shapes = {name: tap.shape for name, tap in ref_taps.items()}
        shapes.update((name, grad.shape) for name, grad in reference.section("input_grad").items())
        masks = reach(self.layers, ties, shapes)
        for key, prefix in ((GRADIENTS, "grad"), (INPUT_GRADIENT, "input_grad")):
            ref, prt = reference.section(prefix), port.section(prefix)
            found[key] = [explain(d, ref[d.name], prt[d.name], masks.get(d.name), ties)
                          if d.name in ref and d.name in prt else d for d in found[key]]
        return ties

    def steps_diff(self, rows: list[dict]) -> list[TensorDiff]:
        atol, rtol = self.tolerance(TRAINING_LOSSES)
        return compare_steps(rows, atol, rtol, self.stat, scale_atol=True)


def mark_amplification(found: dict[str, list[TensorDiff]]) -> None:
    """Each end-to-end tap's max abs error over the same tap's isolated one, in the same mode
    (`TensorDiff.amplification`): a faulty layer has a large isolated error; a layer that only
    amplifies upstream rounding, a small isolated and a large end-to-end one."""
    for e2e in E2E_SECTIONS:
        isolated = next(s for s in ISOLATED_SECTIONS if s.mode == e2e.mode)
        base = {d.name: d.max_abs for d in found.get(isolated.key, [])}
        for diff in found.get(e2e.key, []):
            alone = base.get(diff.name)
            if diff.max_abs is None or alone is None:
                continue
            diff.amplification = (diff.max_abs / alone if alone > 0
                                  else math.inf if diff.max_abs > 0 else 1.0)


def _max_abs(value: np.ndarray) -> float:
    finite = np.abs(value[np.isfinite(value)])
    return float(finite.max()) if finite.size else 0.0


def compare_captures(reference: Capture, port: Capture, comparer: Comparer
                     ) -> dict[str, list[TensorDiff]]:
    """Every section both captures hold (free-running training for the steps).

    What the port raised on is a "raised" item; the reference raising is a UserError.
    """
    if reference.errors:
        name, error = next(iter(reference.errors.items()))
        raise UserError(f"the reference raised at {name}: {error}")
    found: dict[str, list[TensorDiff]] = {}
    for section in E2E_SECTIONS:
        mode = section.mode
        if reference.section(mode) and (port.section(mode) or port.section_errors(mode)):
            found[section.key] = comparer.taps_diff(section.key, reference.section(mode),
                                                    port.section(mode),
                                                    port.section_errors(mode))
    if reference.section("moving") and port.section("moving"):
        found[MOVING_STATISTICS] = comparer.moving_diff(
            reference.section("moving"), port.section("moving"),
            reference.section("moving_after"))
    if reference.section("grad") and "grad" in port.errors:
        found[GRADIENTS] = [raised_diff("gradients()", port.errors["grad"], (),
                                        *comparer.tolerance(GRADIENTS))]
    elif reference.section("grad") and port.section("grad"):
        found[GRADIENTS] = comparer.variables_diff(GRADIENTS, reference.section("grad"),
                                                   port.section("grad"))
        found[INPUT_GRADIENT] = comparer.inputs_diff(reference.section("input_grad"),
                                                     port.section("input_grad"))
        comparer.explain_ties(reference, port, found)
    rows = capture_step_rows(reference, port)
    if rows:
        found[TRAINING_LOSSES] = comparer.steps_diff(rows)
    if reference.section("after") and port.section("after"):
        found[AFTER_TRAINING] = comparer.variables_diff(AFTER_TRAINING, reference.section("after"),
                                                        port.section("after"))
    return found
