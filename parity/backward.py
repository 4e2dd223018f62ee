"""Isolated backward: each layer's backward fed the reference's own inputs and upstream
gradient, so a layer whose backward alone is wrong (a correct forward) is named at that layer.

The reference's upstream gradients are its own layers' backwards chained from the loss in
reverse graph order (the reverse-mode sum over each tap's readers): no hook into either
framework. Every layer that reaches the loss gives one item per input and per trainable
variable, named `"{layer} <- {input or variable}"`, in graph order; the port's items are its
`layer_gradients` on the same inputs and upstream gradient, in TF layout.
"""

from __future__ import annotations

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


KERNEL_HINT = "kernel_axes_swapped"
STATE_HINT = "state_not_carried"
# A tap of a recurrent step: its family (the text before the step's number) and the number.
STEP_NAME = re.compile(r"^(.*?)_(\d+)(?:/|$)")


def earlier_step(tap: str, source: str) -> bool:
    """Whether `source` is the tap of an earlier step of the recurrence `tap` belongs to
    (`lstm_0` for `lstm_1` or `lstm_1/gates`)."""
    here, there = STEP_NAME.match(tap), STEP_NAME.match(source)
    return bool(here and there and here[1] == there[1] and int(there[2]) < int(here[2]))


def explain_forward(found: Mapping[str, list[Any]], backward: list[Any]) -> None:
    """Failing forward taps explained by the isolated backward, whose evidence the tap alone
    cannot give:

    - the port's kernel gradient is the reference's with axes swapped
      (`parity.diagnose.kernel_axes_swapped`; exact whatever the forward did: a kernel's
      gradient reads only the inputs and the upstream gradient): the layer reads its kernel
      in another axis order;
    - the port's gradient to an earlier step's tap is zero (`port_zero`): the layer ignores
      the state the recurrence carries.
    """
    hints = {}
    for diff in backward:
        if not diff.failed:
            continue
        layer, _, source = diff.name.partition(" <- ")
        if diff.hint == KERNEL_HINT:
            hints[layer] = (KERNEL_HINT, f"{diff.suggestion} (the isolated backward's gradient "
                                         f"{diff.name} shows it)")
        elif diff.hint == "port_zero" and earlier_step(layer, source) and layer not in hints:
            hints[layer] = (STATE_HINT, f"state not carried between steps: the port's "
                                        f"gradient to {source} (the state of an earlier step) "
                                        f"is zero, so {layer} does not read it: a state reset, "
                                        "dropped or not passed on")
    for section in (*E2E_SECTIONS, *ISOLATED_SECTIONS):
        for diff in found.get(section.key, []):
            if diff.failed and diff.name in hints:
                diff.hint, diff.suggestion = hints[diff.name]
