"""`twinport parity`: one run of both twins on the same weights, batches and noise.

The reference's side is computed once (`prepare_reference`) and can be checked against any
number of ports (`check_port`): `run_parity` does it for one, the pitfall suite for ~20.
"""

from __future__ import annotations

import datetime
import tempfile
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from common.errors import UserError
from common.paths import DEFAULT_DATASET
from parity import verdict as sections
from parity.capture import (
    MODES,
    Capture,
    capture_model,
    error_text,
    run_layers,
    step_row,
)
from parity.compare import (
    TensorDiff,
    compare_arrays,
    compare_dicts,
    compare_steps,
    missing_diff,
    raised_diff,
)
from parity.environment import environment
from parity.init_check import init_diffs
from parity.inputs import ParityInputs
from parity.port import load_port, port_spec
from parity.results import ParityRun
from parity.ties import Tie, explain, find_ties, reach
from parity.tolerances import Tolerances
from spec.layer import Layer
from spec.pair import TwinPair
from spec.registry import DEFAULT_MODEL, get_pair
from spec.weights import save_weights, variable_shapes

MODE_CHOICES = ("both", "end-to-end", "isolated")
# Two float32 roundings (one per side) of a statistic, with a factor 2 to spare: 4 ulps.
MOVING_ROUNDING = 2.0 ** -22
E2E_SECTIONS = (("inference", sections.FORWARD_E2E_INFERENCE),
                ("training", sections.FORWARD_E2E_TRAINING))
ISOLATED_SECTIONS = (("inference", sections.FORWARD_ISO_INFERENCE),
                     ("training", sections.FORWARD_ISO_TRAINING))


@dataclass
class ParitySettings:
    model: str = DEFAULT_MODEL
    preset: str = "paper"
    data: str = DEFAULT_DATASET
    batch_size: int = 4
    seed: int = 0
    steps: int = 20
    lr: float | None = None
    mode: str = "both"
    atol: float | None = None
    rtol: float | None = None
    stat: str = "elemwise"
    port: str | None = None  # None: the pair's own Chainer twin
    tf_device: str = "cpu"
    chainer_device: str = "cpu"
    start_step: int = 0


class Comparer:
    """Compares dicts of tensors section by section with that section's tolerances."""

    def __init__(self, layers: list[Layer], tolerances: Tolerances, stat: str) -> None:
        self.layers = layers
        self.taps = [layer.name for layer in layers]
        self.variables = list(variable_shapes(layers))
        self.tolerances = tolerances
        self.stat = stat

    def taps_diff(self, reference: dict, port: dict, mode: str,
                  errors: dict[str, str] | None = None) -> list[TensorDiff]:
        """Taps in graph order; a tap in `errors` (the port raised computing it) is "raised"."""
        atol, rtol = getattr(self.tolerances, mode)
        diffs = compare_dicts(reference, port, atol, rtol, self.stat, order=self.taps,
                              layouts=dict.fromkeys(self.taps, "nhwc"), scale_atol=True)
        errors = errors or {}
        return [raised_diff(d.name, errors[d.name], d.ref_shape, d.atol, d.rtol)
                if d.name in errors else d for d in diffs]

    def variables_diff(self, reference: dict, port: dict, section: str) -> list[TensorDiff]:
        """The variables either side holds, in variable order."""
        atol, rtol = getattr(self.tolerances, section)
        order = [name for name in self.variables if name in reference or name in port]
        return compare_dicts(reference, port, atol, rtol, self.stat, order=order,
                             layouts=dict.fromkeys(order, "hwio"), scale_atol=True)

    def moving_diff(self, reference: dict, port: dict, values: dict) -> list[TensorDiff]:
        """The moving-statistics updates of one training forward, in variable order.

        atol is in units of the largest |update| (as everywhere), but never below the float32
        rounding of the statistic the update was read from (MOVING_ROUNDING x its largest
        |value|): on trained weights an update is a small difference of two large numbers.
        """
        atol, rtol = self.tolerances.moving_statistics
        return [compare_arrays(name, reference[name], port[name],
                               max(atol * _max_abs(reference[name]),
                                   MOVING_ROUNDING * _max_abs(values[name])),
                               rtol, self.stat, layout="flat")
                if name in port else missing_diff(name, reference[name], atol, rtol)
                for name in self.variables if name in reference]

    def inputs_diff(self, reference: dict, port: dict) -> list[TensorDiff]:
        """The gradients of the differentiable inputs."""
        atol, rtol = self.tolerances.gradients
        return compare_dicts(reference, port, atol, rtol, self.stat,
                             layouts=dict.fromkeys(reference, "nhwc"), scale_atol=True)

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
        for key, prefix in ((sections.GRADIENTS, "grad"), (sections.INPUT_GRADIENT, "input_grad")):
            ref, prt = reference.section(prefix), port.section(prefix)
            found[key] = [explain(d, ref[d.name], prt[d.name], masks.get(d.name), ties)
                          if d.name in ref and d.name in prt else d for d in found[key]]
        return ties

    def steps_diff(self, rows: list[dict]) -> list[TensorDiff]:
        atol, rtol = self.tolerances.steps
        return compare_steps(rows, atol, rtol, self.stat, scale_atol=True)


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
    for mode, key in E2E_SECTIONS:
        if reference.section(mode) and (port.section(mode) or port.section_errors(mode)):
            found[key] = comparer.taps_diff(reference.section(mode), port.section(mode), mode,
                                            port.section_errors(mode))
    if reference.section("moving") and port.section("moving"):
        found[sections.MOVING_STATISTICS] = comparer.moving_diff(
            reference.section("moving"), port.section("moving"),
            reference.section("moving_after"))
    if reference.section("grad") and "grad" in port.errors:
        found[sections.GRADIENTS] = [raised_diff("gradients()", port.errors["grad"], (),
                                                 *comparer.tolerances.gradients)]
    elif reference.section("grad") and port.section("grad"):
        found[sections.GRADIENTS] = comparer.variables_diff(
            reference.section("grad"), port.section("grad"), "gradients")
        found[sections.INPUT_GRADIENT] = comparer.inputs_diff(
            reference.section("input_grad"), port.section("input_grad"))
        comparer.explain_ties(reference, port, found)
    rows = capture_step_rows(reference, port)
    if rows:
        found[sections.TRAINING_LOSSES] = comparer.steps_diff(rows)
    if reference.section("after") and port.section("after"):
        found[sections.AFTER_TRAINING] = comparer.variables_diff(
            reference.section("after"), port.section("after"), "after_training")
    return found


def capture_step_rows(reference: Capture, port: Capture) -> list[dict]:
    """The steps both captures ran, then the step the port raised on (if it did)."""
    rows = step_rows(reference.steps, port.steps)
    if len(reference.steps) > len(rows):
        ref = reference.steps[len(rows)]
        error = port.section_errors("step").get(str(ref["step"]))
        if error is not None:
            rows.append(step_entry(ref, error=error))
    return rows


def step_rows(reference: list[dict], port: list[dict]) -> list[dict]:
    return [step_entry(ref, prt) for ref, prt in zip(reference, port, strict=False)]


def step_entry(reference: dict, port: dict | None = None, error: str | None = None) -> dict:
    """One row of the steps table: the reference's step, lr and losses, the port's (its lr as
    `port_lr`) or the error it raised (`port_error`)."""
    labels = [key for key in reference if key not in ("step", "lr")]
    row = {"step": reference["step"], "lr": reference["lr"],
           **{f"tf_{k}": reference[k] for k in labels}}
    if port is not None:
        row.update({f"port_{k}": port[k] for k in (*labels, "lr")})
    if error is not None:
        row["port_error"] = error
    return row


@dataclass
class SyncedStep:
    """One training step of the reference: its starting weights, its row, the weights after."""

    index: int
    step: int
    start: OrderedDict[str, np.ndarray]
    row: dict[str, float]
    end: OrderedDict[str, np.ndarray]


def reference_steps(reference: Any, weights: OrderedDict, inputs: ParityInputs, steps: int,
                    lr: float | None, start_step: int = 0) -> Iterator[SyncedStep]:
    """The reference's K training steps from `weights` at global steps start_step, ... (lazily)."""
    reference.set_weights(weights)
    start = weights
    for index in range(steps):
        step = start_step + index
        row = step_row(step, reference.train_step(inputs.batches[index], inputs.noise[index],
                                                  step, lr), reference.pair.losses)
        end = reference.get_weights()
        yield SyncedStep(index, step, start, row, end)
        start = end


def synced_training(reference: Iterable[SyncedStep], port: Any, inputs: ParityInputs,
                    lr: float | None, progress: bool, total: int | None = None
                    ) -> tuple[list[dict], OrderedDict | None, OrderedDict | None]:
    """K training steps where every port step starts from the reference's weights of that step.

    Free-running, two float32 trainings part within a few steps at the seed's learning rates
    whatever the port (rounding differences grow ~20x per step; docs/parity.md), so each step
    is checked on its own: same starting weights, same batch and noise, then the losses, the
    learning rates and the updated weights are compared. `reference`: its steps
    (`reference_steps`, run interleaved, or a stored list reused for many ports). Returns the
    step rows and both sides' final weights; when the port raises, its row says so and the
    weights are None.
    """
    rows: list[dict] = []
    ref_after = None
    for synced in tqdm(reference, desc="training steps", unit="step", total=total,
                       disable=not progress, leave=False):
        port.set_weights(synced.start)
        try:
            out = port.train_step(inputs.batches[synced.index], inputs.noise[synced.index],
                                  synced.step, lr)
        except Exception as error:  # a port's failure is a finding
            rows.append(step_entry(synced.row, error=error_text(error)))
            return rows, None, None
        rows.append(step_entry(synced.row, step_row(synced.step, out, port.pair.losses)))
        ref_after = synced.end
    return rows, ref_after, (port.get_weights() if rows else None)


@dataclass
class ReferenceRun:
    """The reference's side of a parity setting, computed once, checkable against many ports.

    `weights`: the reference's own initial weights, which every port starts from.
    `stored_steps`: its synced training steps when kept (`store_steps`) for several ports;
    else `synced_steps()` runs them again, interleaved with one port's.
    """

    settings: ParitySettings
    pair: TwinPair
    preset: Any
    layers: list[Layer]
    comparer: Comparer
    inputs: ParityInputs
    model: Any
    weights: OrderedDict[str, np.ndarray]
    capture: Capture
    stored_steps: list[SyncedStep] | None = None

    def synced_steps(self) -> Iterable[SyncedStep]:
        if self.stored_steps is not None:
            return self.stored_steps
        s = self.settings
        return reference_steps(self.model, self.weights, self.inputs, s.steps, s.lr,
                               s.start_step)

    def store_steps(self) -> None:
        self.stored_steps = list(self.synced_steps())


def prepare_reference(settings: ParitySettings, progress: bool = True) -> ReferenceRun:
    """Inputs, the reference model and everything it computes but its training steps."""
    pair = get_pair(settings.model)
    preset = pair.get_preset(settings.preset)
    comparer = Comparer(pair.build(preset), Tolerances.defaults(settings.atol, settings.rtol),
                        settings.stat)
    inputs = ParityInputs.from_dataset(pair, preset, settings.data, settings.batch_size,
                                       settings.seed, settings.steps)
    reference = pair.twin_class("tf")(preset, seed=settings.seed, device=settings.tf_device)
    weights = reference.get_weights()
    capture = capture_model(reference, reference.layout, reference.layers, weights, inputs,
                            settings.steps, ("forward", "gradients"), progress, "tf")
    return ReferenceRun(settings, pair, preset, reference.layers, comparer, inputs, reference,
                        weights, capture)


def check_port(reference: ReferenceRun, port: Any, layout: str, progress: bool = True
               ) -> ParityRun:
    """One port (freshly built by its factory) against the reference: every section."""
    settings, layers, comparer = reference.settings, reference.layers, reference.comparer
    own_weights = port.get_weights()
    # The weights cross through the interchange file, the path a researcher's weights take.
    with tempfile.TemporaryDirectory() as tmp:
        save_weights(Path(tmp, "weights.npz"), reference.weights)
        port.load(Path(tmp, "weights.npz"))
    port_capture = capture_model(port, layout, layers, reference.weights, reference.inputs,
                                 settings.steps, ("forward", "gradients"), progress, "port")
    found = compare_captures(reference.capture, port_capture, comparer)
    port_taps = {key: port_capture.section(mode) for mode, key in E2E_SECTIONS}
    if settings.mode == "isolated":
        for _, key in E2E_SECTIONS:
            found.pop(key, None)
    if settings.mode in ("both", "isolated"):
        for mode, key in ISOLATED_SECTIONS:
            port.set_weights(reference.weights)
            port_taps[key], errors = run_layers(port, layout, layers, reference.inputs,
                                                MODES[mode], reference.capture.section(mode))
            found[key] = comparer.taps_diff(reference.capture.section(mode), port_taps[key],
                                            mode, errors)
        port.set_weights(reference.weights)
    rows: list[dict] = []
    if settings.steps:
        rows, ref_after, port_after = synced_training(reference.synced_steps(), port,
                                                      reference.inputs, settings.lr, progress,
                                                      settings.steps)
        found[sections.TRAINING_LOSSES] = comparer.steps_diff(rows)
        if port_after is not None:
            found[sections.AFTER_TRAINING] = comparer.variables_diff(ref_after, port_after,
                                                                     "after_training")
    found[sections.INITIALISATION] = init_diffs(reference.weights, own_weights, layers)

    run = ParityRun(
        settings={**asdict(settings), "port": port_spec(settings.port, reference.pair),
                  "tolerances": asdict(comparer.tolerances),
                  "training": "synced"},
        versions=environment(),
        sections=found,
        steps=rows,
        sample=(reference.pair.sample(reference.preset, reference.capture.section("inference"),
                                      port_capture.section("inference"))
                if reference.pair.sample else None),
        created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    )
    run.ensure_verdict(comparer.taps)
    worst = run.pick_worst()
    if worst:
        section, name = worst
        mode = "training" if section.endswith("training") else "inference"
        ref_tap, port_tap = reference.capture.section(mode)[name], port_taps[section].get(name)
        if port_tap is not None and port_tap.shape == ref_tap.shape:
            run.worst = {"name": name, "section": section, "layout": "nhwc",
                         "reference": ref_tap, "port": port_tap}
    return run


def run_parity(settings: ParitySettings, progress: bool = True) -> ParityRun:
    reference = prepare_reference(settings, progress)
    port, layout = load_port(port_spec(settings.port, reference.pair), reference.preset,
                             settings.seed, settings.chainer_device)
    return check_port(reference, port, layout, progress)
