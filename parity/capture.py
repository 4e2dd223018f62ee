"""What one backend computes for a parity run, in TF layout, savable and comparable anywhere.

A capture holds, for the shared inputs and weights: every tap in inference and training mode,
the update the training-mode forward made to every normalisation statistic (and the value it
left), the gradient of the loss for every variable and for every differentiable input, the
losses of K training steps from a fresh optimizer, and every variable and the optimizer's state
(`after_state/`, by TF1's slot names; none for SGD) after them. Arrays are stored in TF layout
(NHWC, HWIO) whatever the backend, so two captures compare directly, and `parity compare`
needs neither TensorFlow nor Chainer.

A model that raises does not stop the capture: the failure is recorded in `errors` (key as the
array's would be, value "TypeError: ..."), and a `forward` that raises is replayed layer by
layer (`run_layers`), so every layer before the failure still has its tap.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from common.arrays import read_npz
from common.atomic import atomic_path
from common.errors import UserError
from common.progress import progress as show_progress
from parity.inputs import ParityInputs, digest
from spec.layer import Layer
from spec.layout import Activation
from spec.registry import DEFAULT_MODEL
from spec.weights import variables

PARTS = ("forward", "gradients", "training")
MODES = {"inference": False, "training": True}
FORMAT = "twinport-capture/1"
# Settings two captures must share to be comparable.
MATCHING_KEYS = ("model", "preset", "batch_size", "seed", "steps", "lr", "start_step",
                 "inputs_digest", "weights_digest")
ERROR_CHARS = 300


def layout_converters(layout: str, layers: Iterable[Layer],
                      sources: Mapping[str, Activation] | None = None
                      ) -> tuple[Callable[[str, Any], Any], Callable[[str, Any], Any]]:
    """(to TF layout, from TF layout), each (name, value), for a model whose taps are in
    `layout`: each tap by its layer's rule (`Layer.layout`), each source (input, noise) by
    `sources` (`ParityInputs.layouts`), the default rule for anything else."""
    if layout == "NHWC":
        return (lambda name, x: x), (lambda name, x: x)
    if layout != "NCHW":
        raise UserError(f"port layout {layout!r}: must be 'NCHW' or 'NHWC'")
    rules = {**{layer.name: layer.layout for layer in layers}, **(sources or {})}

    def to_tf(name: str, value: Any) -> Any:
        return rules.get(name, Activation.FRAMES).to_tf(value)

    def from_tf(name: str, value: Any) -> Any:
        return rules.get(name, Activation.FRAMES).to_chainer(value)

    return to_tf, from_tf


@dataclass
class Capture:
    meta: dict[str, Any]
    arrays: OrderedDict[str, np.ndarray] = field(default_factory=OrderedDict)
    steps: list[dict[str, float]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def section(self, prefix: str) -> OrderedDict[str, np.ndarray]:
        """Arrays under `prefix/`, keys without it, in stored order."""
        cut = len(prefix) + 1
        return OrderedDict((key[cut:], value) for key, value in self.arrays.items()
                           if key.startswith(prefix + "/"))

    def section_errors(self, prefix: str) -> dict[str, str]:
        """Errors under `prefix/`, keys without it."""
        cut = len(prefix) + 1
        return {key[cut:]: value for key, value in self.errors.items()
                if key.startswith(prefix + "/")}

    def save(self, path: str | os.PathLike) -> None:
        header = json.dumps({"format": FORMAT, "meta": self.meta, "steps": self.steps,
                             "errors": self.errors})
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez_compressed(handle, __header__=np.array(header), **self.arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Capture:
        arrays = OrderedDict(read_npz(path, "a twinport capture"))
        try:
            header = json.loads(str(arrays.pop("__header__")))
            form = header.get("format")
        except (KeyError, ValueError, AttributeError, RecursionError) as error:
            raise UserError(f"{path}: not a twinport capture (no header: {error!r})") from None
        if form != FORMAT:
            raise UserError(f"{path}: not a twinport capture (format {form!r})")
        meta, steps, errors = header.get("meta"), header.get("steps"), header.get("errors", {})
        if not (isinstance(meta, dict) and isinstance(errors, dict) and isinstance(steps, list)
                and all(isinstance(row, dict) for row in steps)):
            raise UserError(f"{path}: damaged capture header (meta, steps or errors)")
        return cls(meta, arrays, steps, errors)


def check_comparable(a: Capture, b: Capture, name_a: str, name_b: str) -> None:
    """Refuse captures of different presets, settings, inputs or weights, saying which."""
    for key in MATCHING_KEYS:
        # Captures made before --start-step and --model.
        default = {"start_step": 0, "model": DEFAULT_MODEL}.get(key)
        if a.meta.get(key, default) != b.meta.get(key, default):
            raise UserError(f"{name_a} and {name_b} differ in {key} ({a.meta.get(key)} vs "
                            f"{b.meta.get(key)}): captures must share preset, settings, inputs "
                            "and weights")


def capture_model(model: Any, layout: str, layers: list[Layer], weights: OrderedDict,
                  inputs: ParityInputs, steps: int, parts: Iterable[str] = PARTS,
                  progress: bool = True, label: str = "", lr: float | None = None,
                  start_step: int = 0) -> Capture:
    """Run `model` on the shared inputs from `weights`; everything back in TF layout.

    `lr`: the training steps' learning rate; None follows the seed's schedule. The training
    steps are global steps start_step .. start_step + steps - 1.
    """
    parts = set(parts)
    capture = Capture({})
    arrays, errors = capture.arrays, capture.errors
    units = ("forward" in parts) + ("gradients" in parts) + steps * ("training" in parts)
    with show_progress(total=units, desc=f"capture {label}", unit="part",
                       disable=not progress, leave=False) as bar:
        if "forward" in parts:
            for mode, training in MODES.items():
                taps, failed = forward_taps(model, layout, layers, weights, inputs, training)
                arrays.update((f"{mode}/{name}", tap) for name, tap in taps.items())
                errors.update((f"{mode}/{name}", error) for name, error in failed.items())
                if training:
                    for name, (update, after) in moving_updates(weights, model, layers).items():
                        arrays[f"moving/{name}"], arrays[f"moving_after/{name}"] = update, after
            bar.update(1)
        if "gradients" in parts:
            model.set_weights(weights)
            try:
                _, grads, input_grads = model.gradients(inputs.batches[0], inputs.noise[0],
                                                        training=True)
            except Exception as error:  # a port's failure is a finding
                errors["grad"] = error_text(error)
            else:
                for name, grad in grads.items():
                    arrays[f"grad/{name}"] = np.asarray(grad, np.float32)
                for name, grad in input_grads.items():
                    arrays[f"input_grad/{name}"] = np.asarray(grad, np.float32)
            bar.update(1)
        if "training" in parts:
            model.set_weights(weights)
            model.reset_optimizer_state()
            for k in range(steps):
                step = start_step + k
                try:
                    out = model.train_step(inputs.batches[k], inputs.noise[k], step, lr)
                except Exception as error:  # a port's failure is a finding
                    errors[f"step/{step}"] = error_text(error)
                    break
                capture.steps.append(step_row(step, out, model.pair.losses))
                bar.update(1)
            else:
                arrays.update((f"after/{name}", value)
                              for name, value in model.get_weights().items())
                arrays.update((f"after_state/{name}", value)
                              for name, value in model.get_optimizer_state().items())
    model.set_weights(weights)
    capture.meta.update(weights_digest=digest(weights), inputs_digest=inputs.digest(),
                        parts=sorted(parts))
    return capture


def error_text(error: BaseException) -> str:
    """"TypeError: message" on one line, at most ERROR_CHARS characters."""
    text = f"{type(error).__name__}: {error}".replace("\n", " ")
    return text if len(text) <= ERROR_CHARS else text[:ERROR_CHARS - 3] + "..."


def forward_taps(model: Any, layout: str, layers: list[Layer], weights: Mapping[str, np.ndarray],
                 inputs: ParityInputs, training: bool
                 ) -> tuple[OrderedDict[str, np.ndarray], dict[str, str]]:
    """Every tap of `model.forward` from `weights` on batch 0 in TF layout, and {layer: error}.

    When `forward` raises, the graph is replayed layer by layer on the model's own outputs
    (`run_layers`, from `weights` again), so the taps before the failure are still compared
    and the layer that raised (or whose shape went wrong first) is named, not the run lost.
    """
    to_tf, _ = layout_converters(layout, layers)
    model.set_weights(weights)
    try:
        result = model.forward(inputs.batches[0], inputs.noise[0], training=training)
    except Exception:  # replayed layer by layer below
        model.set_weights(weights)
        return run_layers(model, layout, layers, inputs, training)
    return OrderedDict((name, to_tf(name, model.to_numpy(tap)))
                       for name, tap in result.taps.items()), {}


def moving_updates(before: Mapping[str, np.ndarray], model: Any, layers: list[Layer]
                   ) -> OrderedDict[str, tuple[np.ndarray, np.ndarray]]:
    """What the last training-mode forward did to every normalisation statistic: (after -
    before, after)."""
    after = model.get_weights()
    statistics = {name for name, var in variables(layers).items() if not var.trainable}
    return OrderedDict((name, (after[name] - value, after[name])) for name, value in before.items()
                       if name in statistics and name in after)


def step_row(step: int, out: Mapping[str, Any], labels: Iterable[str]) -> dict[str, float]:
    """One training step's row: step, lr and every loss label of the pair."""
    return {"step": step, **{label: out[label] for label in labels}, "lr": out["lr"]}


def run_layers(model: Any, layout: str, layers: list[Layer], inputs: ParityInputs,
               training: bool, reference_taps: Mapping[str, np.ndarray] | None = None
               ) -> tuple[OrderedDict[str, np.ndarray], dict[str, str]]:
    """Every layer through `model.run_layer` in graph order: (taps in TF layout, errors).

    Isolated (`reference_taps`, TF layout): each layer is fed the reference's own inputs, so
    only a layer that itself computes differently differs (nobuco's check). End to end (None):
    each layer is fed the model's own outputs, as `forward` would. A layer that raises is
    recorded in errors ({name: "TypeError: ..."}); end to end, the layers that read it are
    skipped (missing from the taps).
    """
    to_tf, from_tf = layout_converters(layout, layers, inputs.layouts)
    values: dict[str, Any] = {name: from_tf(name, value) for name, value in
                              {**inputs.batches[0], **inputs.noise[0]}.items()}
    sources = set(values)
    taps: OrderedDict[str, np.ndarray] = OrderedDict()
    errors: dict[str, str] = {}
    for layer in layers:
        if reference_taps is None and not all(name in values for name in layer.inputs):
            continue
        feed = [values[name] if name in sources or reference_taps is None
                else from_tf(name, reference_taps[name]) for name in layer.inputs]
        try:
            value = model.run_layer(layer.name, feed, training=training)
        except Exception as error:  # a port's failure is a finding
            errors[layer.name] = error_text(error)
            continue
        values[layer.name] = value
        taps[layer.name] = to_tf(layer.name, model.to_numpy(value))
    return taps, errors
