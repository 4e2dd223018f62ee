"""`twinport parity`: one run of both twins on the same weights, batches and noise.

The reference's side is computed once (`prepare_reference`) and can be checked against any
number of ports (`check_port`): `run_parity` does it for one, the pitfall suite for ~20. The
settings are `parity.settings`, the comparisons `parity.comparer`, the training steps
`parity.synced`, the sections `parity.sections`.
"""

from __future__ import annotations

import datetime
import tempfile
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from common.errors import UserError
from parity import causality, sampling
from parity.backward import (
    Backward,
    explain_forward,
    has_layer_backward,
    port_backward,
    reference_backward,
)
from parity.capture import MODES, Capture, capture_model, run_layers
from parity.comparer import Comparer, compare_captures, mark_amplification
from parity.environment import environment
from parity.init_check import init_diffs, optimizer_start_diffs
from parity.inputs import ParityInputs
from parity.learning import learning_checks
from parity.port import load_port, port_spec
from parity.repeat import spreads
from parity.results import ParityRun
from parity.sections import BY_KEY, E2E_SECTIONS, ISOLATED_SECTIONS
from parity.settings import ParitySettings
from parity.synced import SyncedStep, reference_steps, synced_training
from parity.tolerances import Tolerances
from parity.variable_hints import explain_biases, explain_other_taps
from spec.layer import Layer
from spec.pair import TwinPair
from spec.registry import get_pair
from spec.section_keys import (
    AFTER_TRAINING,
    BACKWARD_ISOLATED,
    CAUSALITY,
    INITIALISATION,
    SAMPLING,
    TRAINING_LOSSES,
)
from spec.weights import save_weights

# The sections that run both models once more, each one module's `section(reference, port)`:
# its items, or None where the pair has nothing for it.
MODEL_SECTIONS = ((CAUSALITY, causality.section), (SAMPLING, sampling.section))


@dataclass
class ReferenceRun:
    """The reference's side of a parity setting, computed once, checkable against many ports.

    `weights`: the reference's own initial weights, which every port starts from.
    `backward`: its layers' isolated backwards (None when the mode is end-to-end only).
    `stored_steps`: its synced training steps (weights and optimizer state before and after
    each) when kept (`store_steps`) for several ports; else `synced_steps()` runs them again,
    from a fresh optimizer, interleaved with one port's.
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
    backward: Backward | None = None
    stored_steps: list[SyncedStep] | None = None

    def synced_steps(self) -> Iterable[SyncedStep]:
        if self.stored_steps is not None:
            return self.stored_steps
        s = self.settings
        return reference_steps(self.model, self.weights, self.inputs, s.steps, s.lr,
                               s.start_step)

    def store_steps(self) -> None:
        self.stored_steps = list(self.synced_steps())


def prepare_reference(settings: ParitySettings, progress: bool = True,
                      reference_class: type | None = None) -> ReferenceRun:
    """Inputs, the reference model (the pair's TF twin, or `reference_class`) and everything
    it computes but its training steps."""
    pair = get_pair(settings.model)
    preset = pair.get_preset(settings.preset)
    inputs = ParityInputs.from_dataset(pair, preset, settings.data or pair.default_data,
                                       settings.batch_size, settings.seed, settings.steps)
    reference = (reference_class or pair.twin_class("tf"))(preset, seed=settings.seed,
                                                           device=settings.tf_device)
    comparer = Comparer(reference.layers, Tolerances.defaults(settings.atol, settings.rtol),
                        settings.stat)
    weights = reference.get_weights()
    capture = capture_model(reference, reference.layout, reference.layers, weights, inputs,
                            settings.steps, ("forward", "gradients"), progress, "tf")
    check_reference(capture)
    backward = None
    if settings.mode in ("both", "isolated"):
        backward = reference_backward(reference, reference.layout, reference.layers, inputs,
                                      capture.section("training"), pair.loss)
        reference.set_weights(weights)
    return ReferenceRun(settings, pair, preset, reference.layers, comparer, inputs, reference,
                        weights, capture, backward)


def check_reference(capture: Capture) -> None:
    """A port's failure is a finding; the reference's is the pair's bug, and nothing can be
    compared against it: one line naming the first place it raised (section/layer)."""
    if capture.errors:
        where, error = next(iter(capture.errors.items()))
        raise UserError(f"the reference raised at {where}: {error}")


def check_port(reference: ReferenceRun, port: Any, layout: str, progress: bool = True
               ) -> ParityRun:
    """One port (freshly built by its factory) against the reference: every section."""
    settings, layers, comparer = reference.settings, reference.layers, reference.comparer
    own_weights, own_state = port.get_weights(), port.get_optimizer_state()
    own_settings = port.optimizer_settings()
    # The weights cross through the interchange file, the path a researcher's weights take.
    with tempfile.TemporaryDirectory() as tmp:
        save_weights(Path(tmp, "weights.npz"), reference.weights)
        port.load(Path(tmp, "weights.npz"))
    port_capture = capture_model(port, layout, layers, reference.weights, reference.inputs,
                                 settings.steps, ("forward", "gradients"), progress, "port")
    found = compare_captures(reference.capture, port_capture, comparer)
    port_taps = {s.key: port_capture.section(s.mode) for s in E2E_SECTIONS}
    if settings.mode == "isolated":
        for section in E2E_SECTIONS:
            found.pop(section.key, None)
    if settings.mode in ("both", "isolated"):
        for section in ISOLATED_SECTIONS:
            port.set_weights(reference.weights)
            feed = reference.capture.section(section.mode)
            port_taps[section.key], errors = run_layers(port, layout, layers, reference.inputs,
                                                        MODES[section.mode], feed)
            found[section.key] = comparer.taps_diff(section.key, feed, port_taps[section.key],
                                                    errors)
        port.set_weights(reference.weights)
        mark_amplification(found)
    comparer.explain_forward_ties(reference.capture, port_taps, found)
    reference_taps = {mode: reference.capture.section(mode) for mode in MODES}
    explain_biases(found, reference_taps, port_taps, reference.weights, layers)
    explain_other_taps(found, reference_taps, port_taps)
    if reference.backward is not None and has_layer_backward(port):
        port_items = port_backward(port, layout, layers, reference.inputs,
                                   reference.capture.section("training"), reference.backward)
        found[BACKWARD_ISOLATED] = comparer.backward_diff(reference.backward, port_items)
        explain_forward(found, found[BACKWARD_ISOLATED], reference.backward, port_items)
        port.set_weights(reference.weights)
    for key, section in MODEL_SECTIONS:
        reference.model.set_weights(reference.weights)
        port.set_weights(reference.weights)
        items = section(reference, port)
        if items is not None:
            found[key] = items
    rows: list[dict] = []
    if settings.steps:
        rows, last, port_after = synced_training(reference.synced_steps(), port,
                                                 reference.inputs, settings.lr, progress,
                                                 settings.steps)
        found[TRAINING_LOSSES] = comparer.steps_diff(rows) + learning_checks(
            layers, reference.weights, last.end.weights if last else None,
            reference.capture.section("grad"), rows)
        if last is not None and port_after is not None:
            found[AFTER_TRAINING] = comparer.after_training_diff(last.end, port_after, last,
                                                                 reference.pair.optimizer)
    found[INITIALISATION] = init_diffs(reference.weights, own_weights, layers) + (
        optimizer_start_diffs(own_state, own_weights, reference.pair.optimizer, own_settings))

    run = ParityRun(
        settings={**asdict(settings), "port": port_spec(settings.port, reference.pair),
                  "tolerances": asdict(comparer.tolerances),
                  "training": "synced"},
        versions=environment(),
        sections=found,
        steps=rows,
        sample=(reference.pair.sample(reference.preset, reference.inputs.batches[0],
                                      reference.capture.section("inference"),
                                      port_capture.section("inference"))
                if reference.pair.sample else None),
        sample_caption=reference.pair.sample_caption,
        created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    )
    if settings.repeat > 1:
        run.repeat = [asdict(spread) for model, model_layout, side in (
            (reference.model, reference.model.layout, "tf"), (port, layout, "port"))
            for spread in spreads(model, model_layout, layers, reference.weights,
                                  reference.inputs, settings.repeat, side)]
        port.set_weights(reference.weights)
    run.ensure_verdict(comparer.taps)
    worst = run.pick_worst()
    if worst:
        section, name = worst
        mode = BY_KEY[section].mode
        ref_tap, port_tap = reference.capture.section(mode)[name], port_taps[section].get(name)
        if port_tap is not None and port_tap.shape == ref_tap.shape:
            run.worst = {"name": name, "section": section, "layout": "nhwc",
                         "reference": ref_tap, "port": port_tap}
    return run


def run_parity(settings: ParitySettings, progress: bool = True,
               port: tuple[Any, str] | None = None) -> ParityRun:
    """`prepare_reference` and `check_port` of the settings' port, or of `port` ((object,
    layout) as `load_port` returns it) when the caller has loaded it already."""
    reference = prepare_reference(settings, progress)
    port_object, layout = port or load_port(port_spec(settings.port, reference.pair),
                                            reference.preset, settings.seed,
                                            settings.chainer_device)
    return check_port(reference, port_object, layout, progress)
