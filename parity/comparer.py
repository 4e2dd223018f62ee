"""Compare what two sides computed, section by section, with each section's tolerance and
layout from `parity.sections`; near-tie decisions explained (`parity.ties`)."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

from common.errors import UserError
from parity.backward import Backward, explain_reused, explain_routing, item_layer, item_name
from parity.capture import Capture
from parity.compare import compare_arrays, compare_dicts, compare_steps, missing_diff, raised_diff
from parity.diff import TIE, TensorDiff
from parity.sections import BY_KEY, E2E_SECTIONS, ISOLATED_SECTIONS
from parity.synced import SyncedStep, Trained, capture_step_rows
from parity.ties import (
    EDGES_REASON,
    Tie,
    explain,
    find_ties,
    reach,
    ties_reason,
    transformer_edges,
    transformer_flips,
    transformer_float64,
)
from parity.tolerances import Tolerances
from spec.layer import Layer
from spec.optimizers import Optimizer
from spec.section_keys import (
    AFTER_TRAINING,
    BACKWARD_ISOLATED,
    GRADIENTS,
    INPUT_GRADIENT,
    MOVING_STATISTICS,
    TRAINING_LOSSES,
)
from spec.weights import STEP, trainable_names, variable_shapes

# Elements whose Adam first moments differ by more than this fraction of their size are at
# the gradients' rounding floor (`explain_moment_noise`).
MOMENT_NOISE = 0.5
# Two float32 roundings (one per side) of a statistic, with a factor 2 to spare: 4 ulps.
MOVING_ROUNDING = 2.0 ** -22
UPDATE_HINT = "optimizer_update"
STATE_HINT = "optimizer_state"


def state_suggestion(optimizer: Optimizer) -> str:
    """What an `optimizer_state` failure suggests: a slot apart while every section before
    agrees (the same gradients went in), so the port updates its state otherwise."""
    advice = f": {optimizer.kind.advice}" if optimizer.kind.advice else ""
    return (f"the optimizer's state apart from the same gradients: the port's "
            f"{optimizer.kind.name} updates its slots otherwise than TF1{advice} "
            "(spec.optimizers)")


def tap_layout(layer: Layer, layout: str) -> str:
    """How the hints name a tap's axes: `layout` (channels last, "nhwc") for an image, a map
    or a clip; "flat" for a tap whose layout rule leaves it as it is (a sequence of vectors,
    attention weights), whose axes are no H, W or C."""
    return layout if layer.layout.axes(len(layer.shape) + 1) else "flat"


def update_suggestion(optimizer: Optimizer) -> str:
    """What an `optimizer_update` failure suggests: the kind's own advice."""
    advice = f" ({optimizer.kind.advice}; spec.optimizers)" if optimizer.kind.advice else ""
    return ("the port's step is not the optimizer's rule applied to the port's own state: the "
            f"update rule{advice}")


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
                  errors: dict[str, str] | None = None, taps: list[str] | None = None
                  ) -> list[TensorDiff]:
        """Taps in graph order (`taps`: only these, default every tap); a tap in `errors` (the
        port raised computing it) is "raised"."""
        atol, rtol = self.tolerance(key)
        diffs = compare_dicts(reference, port, atol, rtol, self.stat,
                              order=self.taps if taps is None else taps,
                              layouts={layer.name: tap_layout(layer, BY_KEY[key].layout)
                                       for layer in self.layers},
                              scale_atol=True)
        errors = errors or {}
        return [raised_diff(d.name, errors[d.name], d.ref_shape, d.atol, d.rtol)
                if d.name in errors else d for d in diffs]

    def variables_diff(self, key: str, reference: dict, port: dict) -> list[TensorDiff]:
        """The variables either side holds, in variable order, then any other item (an
        optimizer state's slots) in the reference's order."""
        atol, rtol = self.tolerance(key)
        order = [name for name in self.variables if name in reference or name in port]
        order += [name for name in reference if name not in order]
        return compare_dicts(reference, port, atol, rtol, self.stat, order=order,
                             layouts=dict.fromkeys([*order, *port], BY_KEY[key].layout),
                             scale_atol=True)

    def moving_diff(self, reference: dict, port: dict, values: dict) -> list[TensorDiff]:
        """The normalisation statistics' updates of one training forward, in variable order."""
        names = [name for name in self.variables if name in reference]
        return self.updates_diff(MOVING_STATISTICS, names, reference, port, values)

    def updates_diff(self, key: str, names: list[str], reference: dict, port: dict,
                     values: dict) -> list[TensorDiff]:
        """Updates (after - before) of `names`, in that order.

        atol is in units of the largest |update| (as everywhere), but never below the float32
        rounding of the value the update was read from (MOVING_ROUNDING x its largest
        |value|): on trained weights an update is a small difference of two large numbers.
        """
        atol, rtol = self.tolerance(key)
        return [compare_arrays(name, reference[name], port[name],
                               max(atol * _max_abs(reference[name]),
                                   MOVING_ROUNDING * _max_abs(values[name])),
                               rtol, self.stat, layout=BY_KEY[key].layout)
                if name in port else missing_diff(name, reference[name], atol, rtol)
                for name in names]

    def after_training_diff(self, reference: Trained, port: Trained,
                            last: SyncedStep | None = None,
                            optimizer: Optimizer | None = None) -> list[TensorDiff]:
        """Where training left both sides, in causal order: the optimizer state by slot name
        (and `step`); with a state, the `last` synced step and the pair's `optimizer`, the
        port's last update of each variable against that optimizer's rule
        (`update_rule_diff`); then every variable. The first failing item is so the first
        cause: a state, the rule applied to it, or what else made the weights differ."""
        diffs = self.variables_diff(AFTER_TRAINING, reference.state, port.state)
        if optimizer is not None:
            for diff in diffs:
                if diff.failed and diff.name != STEP:
                    diff.hint, diff.suggestion = STATE_HINT, state_suggestion(optimizer)
        weights = self.variables_diff(AFTER_TRAINING, reference.weights, port.weights)
        if port.state and last is not None and optimizer is not None:
            diffs += self.update_rule_diff(last.start, port, last.row["lr"], optimizer)
            weights = [explain_moment_noise(d, reference, port, optimizer) for d in weights]
        return diffs + weights

    def update_rule_diff(self, start: Trained, port: Trained, lr: float, optimizer: Optimizer
                         ) -> list[TensorDiff]:
        """Each trainable variable's last update on the port (`{var} update`: after - `start`,
        where both sides started the step) against the update the optimizer's rule makes from
        the state the port ended it with (`Optimizer.change`; none for a variable whose slots
        did not change: it had no gradient).

        An isolated check of the update rule, as an isolated layer checks a layer: with a
        state the step is no longer lr x the gradient the gradients section vouches for, the
        state section compares its inputs, and an error in it (where epsilon goes, how the
        bias is corrected) is far below the variables' tolerance, which is in units of the
        weights. Judged in units of the update (`updates_diff`), with the section's tolerance.
        """
        step = float(port.state[STEP])
        expected, found, values = {}, {}, {}
        for name in trainable_names(self.layers):
            after = [port.state[f"{name}/{slot}"] for slot in optimizer.slots]
            before = [start.state[f"{name}/{slot}"] for slot in optimizer.slots]
            unchanged = all(np.array_equal(a, b) for a, b in zip(after, before, strict=True))
            item = f"{name} update"
            values[item] = start.weights[name]
            found[item] = np.asarray(port.weights[name], np.float64) - start.weights[name]
            expected[item] = (np.zeros(found[item].shape) if unchanged
                              else optimizer.change(before, after, step, lr))
        diffs = self.updates_diff(AFTER_TRAINING, list(expected), expected, found, values)
        for diff in diffs:
            if diff.failed:
                diff.hint, diff.suggestion = UPDATE_HINT, update_suggestion(optimizer)
        return diffs

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
        diffs = [raised_diff(d.name, port.errors[item_layer(d.name)], d.ref_shape, d.atol,
                             d.rtol) if item_layer(d.name) in port.errors
                 else self._explain_edges(d, reference, port) for d in diffs]
        explain_routing(diffs, reference, port)
        explain_reused(diffs, reference, port)
        return diffs

    def _explain_edges(self, diff: TensorDiff, reference: Backward, port: Backward
                       ) -> TensorDiff:
        """A spatial transformer's image gradient failing only at the image's edge rows and
        columns is a `tie` (`parity.ties.transformer_edges`)."""
        layer = next((layer for layer in self.layers if layer.name == item_layer(diff.name)),
                     None)
        if (layer is None or layer.kind != "stp" or diff.name != item_name(layer.name,
                                                                          layer.inputs[0])
                or diff.name not in port.items):
            return diff
        ref = reference.items[diff.name]
        return explain(diff, ref, port.items[diff.name], transformer_edges(ref.shape),
                       EDGES_REASON)

    def explain_forward_ties(self, reference: Capture, port_taps: dict[str, dict],
                             found: dict[str, list[TensorDiff]]) -> None:
        """End-to-end: a spatial transformer's tap failing only where the port's output is TF's
        transformer of the port's own inputs (`parity.ties.transformer_float64`; its inputs
        passed) or its sampling crosses the image's edge on one side only
        (`transformer_flips`) is a `tie`, and so is every later failing tap whose layer passes
        in isolation (the difference travels on, the layers compute right); the first other
        failure stops it."""
        layers = {layer.name: layer for layer in self.layers}
        for e2e in E2E_SECTIONS:
            isolated = next(s for s in ISOLATED_SECTIONS if s.mode == e2e.mode)
            passes = {d.name for d in found.get(isolated.key, []) if not d.failed}
            ref_taps, prt_taps = reference.section(e2e.mode), port_taps.get(e2e.key, {})
            origin = None
            for diff in found.get(e2e.key, []):
                if not diff.failed:
                    continue
                if diff.name not in ref_taps or diff.name not in prt_taps:
                    break
                ref, prt = ref_taps[diff.name], prt_taps[diff.name]
                layer = layers.get(diff.name)
                if origin is None:
                    if layer is None or layer.kind != "stp":
                        break
                    image, params = (prt_taps[name] for name in layer.inputs)
                    own = transformer_float64(image, params)
                    mask = (transformer_flips(ref_taps[layer.inputs[1]], params, ref.shape)
                            | (np.abs(prt - own) <= diff.atol + diff.rtol * np.abs(own)))
                    reason = (f"where {diff.name} is TF's transformer of the port's own inputs "
                              "(which agree with the reference's to their tolerance; the "
                              "transformer amplifies their difference) or samples beyond the "
                              "image's edge on one side only")
                elif diff.name in passes:
                    mask = np.ones(ref.shape, bool)
                    reason = (f"downstream of the transformer's difference at {origin}; the "
                              "layer passes in isolation")
                else:
                    break
                if explain(diff, ref, prt, mask, reason).status != TIE:
                    break
                origin = origin or diff.name

    def explain_ties(self, reference: Capture, port: Capture,
                     found: dict[str, list[TensorDiff]]) -> list[Tie]:
        """Gradient items failing only where near-tie decisions of the training forward reach
        become `tie` items (parity.ties); returns the decisions."""
        ref_taps, port_taps = reference.section("training"), port.section("training")
        ties = find_ties(self.layers, ref_taps, port_taps, *self.tolerances.training)
        edges = any(layer.kind == "stp" for layer in self.layers)
        if not ties and not edges:
            return ties
        shapes = {name: tap.shape for name, tap in ref_taps.items()}
        shapes.update((name, grad.shape) for name, grad in reference.section("input_grad").items())
        masks = reach(self.layers, ties, shapes)
        for key, prefix in ((GRADIENTS, "grad"), (INPUT_GRADIENT, "input_grad")):
            ref, prt = reference.section(prefix), port.section(prefix)
            found[key] = [explain(d, ref[d.name], prt[d.name], masks.get(d.name),
                                  ties_reason(ties, edges))
                          if d.name in ref and d.name in prt else d for d in found[key]]
        return ties

    def steps_diff(self, rows: list[dict]) -> list[TensorDiff]:
        atol, rtol = self.tolerance(TRAINING_LOSSES)
        return compare_steps(rows, atol, rtol, self.stat, scale_atol=True)


def explain_moment_noise(diff: TensorDiff, reference: Trained, port: Trained,
                         optimizer: Optimizer) -> TensorDiff:
    """A variable failing after an Adam step only where its first moment m is at the float32
    floor is a `tie`. Adam's step, lr_t m / (sqrt(v) + eps), has the same size whatever the
    gradient's scale, so an element whose gradient is rounding noise on both sides (m of
    either sign, while the m slot as a whole agrees) takes a step of up to lr_t in either
    direction: no fault of either side. Those elements: where the two sides' final m differ
    by more than MOMENT_NOISE of the reference's own |m| there."""
    first = f"{diff.name}/{optimizer.slots[0]}" if optimizer.kind.scale_free else ""
    if first not in reference.state or first not in port.state:
        return diff
    m_ref = np.asarray(reference.state[first], np.float64)
    m_port = np.asarray(port.state[first], np.float64)
    mask = np.abs(m_port - m_ref) > MOMENT_NOISE * np.abs(m_ref)
    return explain(diff, reference.weights[diff.name], port.weights[diff.name], mask,
                   f"where the two sides' first moments {first} differ by more than "
                   f"{MOMENT_NOISE:g} of their size: gradients at the rounding floor, whose "
                   "Adam step takes either direction")


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
        states = [capture.section("after_state") for capture in (reference, port)]
        if not all(states):  # a capture of an older twinport, or SGD's empty state
            states = [OrderedDict(), OrderedDict()]
        found[AFTER_TRAINING] = comparer.after_training_diff(
            Trained(reference.section("after"), states[0]),
            Trained(port.section("after"), states[1]))
    return found
