"""Isolated backward: each layer's backward fed the reference's own inputs and upstream
gradient, so a layer whose backward alone is wrong (a correct forward) is named at that layer.

The reference's upstream gradients are its own layers' backwards chained from the loss in
reverse graph order (the reverse-mode sum over each tap's readers): no hook into either
framework. Every layer that reaches the loss gives one item per input and per trainable
variable, named `"{layer} <- {input or variable}"`, in graph order; the port's items are its
`layer_gradients` on the same inputs and upstream gradient, in TF layout.
"""

from __future__ import annotations

import itertools
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from common.errors import UserError
from parity.capture import error_text, layout_converters
from parity.inputs import ParityInputs
from parity.sections import E2E_SECTIONS, ISOLATED_SECTIONS
from spec.layer import Layer
from spec.twin import TwinModel


def item_name(layer: str, source: str) -> str:
    """The item of the gradient `layer`'s backward sends to `source` (an input or a
    variable)."""
    return f"{layer} <- {source}"


def item_layer(item: str) -> str:
    """The layer whose backward an item's gradient comes from."""
    return item.split(" <- ", 1)[0]


@dataclass
class Backward:
    """One side's isolated backward: items (name -> gradient, TF layout, graph order), each
    item's layout for diagnosis ("nhwc" for an input, "hwio" for a variable), the upstream
    gradient of every tap reaching the loss (TF layout) and the layers that raised."""

    items: OrderedDict[str, np.ndarray] = field(default_factory=OrderedDict)
    layouts: dict[str, str] = field(default_factory=dict)
    upstream: dict[str, np.ndarray] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def has_layer_backward(model: Any) -> bool:
    """Whether a port implements `layer_gradients` (one that does not is checked in every
    other section)."""
    impl = getattr(type(model), "layer_gradients_impl", None)
    return callable(getattr(model, "layer_gradients", None)) and (
        impl is None or impl is not TwinModel.layer_gradients_impl)


def reference_backward(model: Any, layout: str, layers: list[Layer], inputs: ParityInputs,
                       taps: Mapping[str, np.ndarray], loss: str) -> Backward:
    """The reference's layers' backwards chained from d loss / d loss = 1 (training-mode
    `taps`, TF layout): each layer's upstream gradient is the sum its readers send it."""
    upstream = {loss: np.ones_like(taps[loss], dtype=np.float32)}
    found = _backward(model, layout, layers, inputs, taps, upstream, accumulate=True)
    if found.errors:
        name, error = next(iter(found.errors.items()))
        raise UserError(f"the reference's backward raised at {name}: {error}")
    return found


def port_backward(model: Any, layout: str, layers: list[Layer], inputs: ParityInputs,
                  taps: Mapping[str, np.ndarray], reference: Backward) -> Backward:
    """Each of the port's layers' backward on the reference's inputs and upstream gradient."""
    return _backward(model, layout, layers, inputs, taps, dict(reference.upstream),
                     accumulate=False)


def _backward(model: Any, layout: str, layers: list[Layer], inputs: ParityInputs,
              taps: Mapping[str, np.ndarray], upstream: dict[str, np.ndarray],
              accumulate: bool) -> Backward:
    to_tf, from_tf = layout_converters(layout, layers, inputs.layouts)
    sources = {**inputs.batches[0], **inputs.noise[0]}
    found = Backward(upstream=upstream)
    per_layer: dict[str, list[tuple[str, np.ndarray, str]]] = {}
    for layer in reversed(layers):
        if layer.name not in upstream:
            continue  # does not reach the loss
        feed = [from_tf(name, np.asarray(sources[name] if name in sources else taps[name],
                                         np.float32)) for name in layer.inputs]
        try:
            input_grads, variable_grads = model.layer_gradients(
                layer.name, feed, from_tf(layer.name, upstream[layer.name]), training=True)
        except Exception as error:  # a port's failure is a finding
            found.errors[layer.name] = error_text(error)
            continue
        rows = []
        for name, grad in zip(layer.inputs, input_grads, strict=True):
            grad = to_tf(name, grad)
            rows.append((name, grad, "nhwc"))
            if accumulate and name not in sources:
                upstream[name] = upstream[name] + grad if name in upstream else grad
        rows += [(name, grad, "hwio") for name, grad in variable_grads.items()]
        per_layer[layer.name] = rows
    for layer in layers:
        for source, grad, item_layout in per_layer.get(layer.name, []):
            found.items[item_name(layer.name, source)] = grad
            found.layouts[item_name(layer.name, source)] = item_layout
    return found


# What a kernel's gradient shows of the kernel itself: in another axis order, or flipped.
KERNEL_HINTS = ("kernel_axes_swapped", "spatially_flipped")
STATE_HINT = "state_not_carried"
IGNORED_HINT = "input_ignored"
# A tap of a recurrent step: its family (the text before the step's number) and the number.
STEP_NAME = re.compile(r"^(.*?)_(\d+)(?:/|$)")


def carries_state(tap: str, source: str) -> bool:
    """Whether `source` is a state `tap` reads from a recurrence: both are taps of numbered
    steps, `source` of an earlier step of the same recurrence (`lstm_0` for `lstm_1` or
    `lstm_1/gates`) or a later step of another feeding this one's first (an encoder's last
    step for a forecaster's first: `CL/enco_cl3_4` for `CL/fore_cl3_0`)."""
    here, there = STEP_NAME.match(tap), STEP_NAME.match(source)
    if not (here and there):
        return False
    step, source_step = int(here[2]), int(there[2])
    return source_step < step if here[1] == there[1] else step == 0 < source_step


def exactly_moved(reference: np.ndarray, port: np.ndarray) -> bool:
    """Whether `port` is `reference` flipped along its leading (spatial) axes or with axes in
    another order, to float32 rounding (1e-4 of its largest value): what a kernel's gradient
    shows of a kernel read otherwise, where the isolated backward's own tolerance (a tenth of
    the range) would let a smooth gradient match a neighbour's."""
    ref, found = np.asarray(reference, np.float64), np.asarray(port, np.float64)
    bound = 1e-4 * float(np.abs(ref).max())
    spatial = tuple(range(ref.ndim - 2))
    orders = itertools.permutations(range(ref.ndim)) if ref.ndim <= 5 else ()
    candidates = itertools.chain((np.flip(ref, axis=spatial),),
                                 (np.transpose(ref, order) for order in orders
                                  if order != tuple(range(ref.ndim))))
    return any(c.shape == found.shape and float(np.abs(c - found).max()) <= bound
               for c in candidates)


def explain_forward(found: Mapping[str, list[Any]], backward: list[Any], reference: Backward,
                    port: Backward) -> None:
    """Failing forward taps explained by the isolated backward, whose evidence the tap alone
    cannot give:

    - the port's kernel gradient is the reference's with axes swapped or flipped
      (`parity.diagnose.kernel_axes_swapped`, `spatially_flipped`; exact whatever the
      forward did: a kernel's gradient reads only the inputs and the upstream gradient): the
      layer reads its kernel in another axis order, or flipped;
    - the port's gradient to an input tap is zero (`port_zero`): the layer ignores it; a
      recurrent step's tap is the state the recurrence carries (`state_not_carried`), any
      other was replaced by another (`input_ignored`).
    """
    hints, layouts = {}, reference.layouts
    for diff in backward:
        if not diff.failed:
            continue
        layer, _, source = diff.name.partition(" <- ")
        if (diff.hint in KERNEL_HINTS and layouts.get(diff.name) == "hwio"
                and exactly_moved(reference.items[diff.name], port.items[diff.name])):
            hints[layer] = (diff.hint, f"{diff.suggestion} (the isolated backward's gradient "
                                       f"{diff.name} shows it)")
        elif (diff.hint == "port_zero" and layouts.get(diff.name) != "hwio"
              and layer not in hints):
            hints[layer] = ((STATE_HINT, f"state not carried between steps: the port's "
                                         f"gradient to {source} (a recurrent step's state) "
                                         f"is zero, so {layer} does not read it: a state "
                                         "reset, started from zeros or not passed on")
                            if carries_state(layer, source) else
                            (IGNORED_HINT, f"input ignored: the port's gradient to {source} is "
                                           f"zero, so {layer} does not read it (another tap "
                                           "read in its place: the wrong frame or step)"))
    for section in (*E2E_SECTIONS, *ISOLATED_SECTIONS):
        for diff in found.get(section.key, []):
            if diff.failed and diff.name in hints:
                diff.hint, diff.suggestion = hints[diff.name]


ROUTED_HINT = "inputs_reordered"
BIAS_HINT = "bias_twice"


def explain_routing(diffs: list[Any], reference: Backward, port: Backward) -> None:
    """A failing item `L <- S` whose port gradient is, within its tolerance, the reference's
    of another input `L <- S'` of the same layer: L reads its inputs in another order (a
    concat or split order, frames compared in reverse), which no transform of one item shows.
    """
    by_layer: dict[str, list[str]] = {}
    for name in reference.items:
        by_layer.setdefault(item_layer(name), []).append(name)
    for diff in diffs:
        if not diff.failed or diff.name not in port.items or diff.hint:
            continue
        found = np.asarray(port.items[diff.name], np.float64)
        bound = diff.atol + diff.rtol * np.abs(found)
        for other in by_layer.get(item_layer(diff.name), []):
            theirs = np.asarray(reference.items[other], np.float64)
            if (other != diff.name and theirs.shape == found.shape
                    and np.abs(theirs).max() > 0 and np.all(np.abs(found - theirs) <= bound)):
                diff.hint = ROUTED_HINT
                diff.suggestion = (f"inputs in another order: the port's gradient to "
                                   f"{diff.name.partition(' <- ')[2]} is the reference's to "
                                   f"{other.partition(' <- ')[2]} (a concat or split order, "
                                   "a sequence read in reverse)")
                break


def explain_reused(diffs: list[Any], reference: Backward, port: Backward) -> None:
    """A bias (a 1-D variable) whose port gradient is k times the reference's, k a whole
    number from 2: the port uses it k times (a bias added twice: each use adds its share of
    the gradient), which a zero bias hides from every forward."""
    for diff in diffs:
        if (not diff.failed or reference.layouts.get(diff.name) != "hwio"
                or diff.name not in port.items):
            continue
        ref = np.asarray(reference.items[diff.name], np.float64)
        found = np.asarray(port.items[diff.name], np.float64)
        used = np.abs(ref) > diff.atol
        if ref.ndim != 1 or found.shape != ref.shape or not used.any():
            continue
        times = float(np.median(found[used] / ref[used]))
        k = round(times)
        bound = diff.atol + diff.rtol * np.abs(k * ref)
        if k >= 2 and np.all(np.abs(found - k * ref) <= bound):
            diff.hint = BIAS_HINT
            diff.suggestion = (f"the port's gradient to {diff.name.partition(' <- ')[2]} is "
                               f"{k} x the reference's: the bias is used {k} times (added "
                               f"{'twice' if k == 2 else f'{k} times'}: in the op and again "
                               "after it), which a zero bias hides from the forward")
