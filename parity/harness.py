"""`twinport parity`: one run of both twins on the same weights, batches and noise."""

from __future__ import annotations

import datetime
import platform
import tempfile
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from parity import verdict as sections
from parity.capture import Capture, capture_model, isolated_outputs, step_row
from parity.compare import TensorDiff, compare_dicts, compare_steps
from parity.inputs import ParityInputs
from parity.port import load_port
from parity.results import ParityRun
from parity.tolerances import Tolerances
from spec import Layer, build_spec, get_preset
from spec.layers import output_name
from spec.weights import variable_shapes
from twinport.backends import create_model

MODE_CHOICES = ("both", "end-to-end", "isolated")
E2E_SECTIONS = (("inference", sections.FORWARD_E2E_INFERENCE),
                ("training", sections.FORWARD_E2E_TRAINING))
ISOLATED_SECTIONS = (("inference", sections.FORWARD_ISO_INFERENCE),
                     ("training", sections.FORWARD_ISO_TRAINING))


@dataclass
class ParitySettings:
    preset: str = "paper"
    data: str = "data/generated/moving-objects"
    batch_size: int = 4
    seed: int = 0
    steps: int = 20
    lr: float | None = None
    mode: str = "both"
    atol: float | None = None
    rtol: float | None = None
    stat: str = "elemwise"
    port: str = "chainer_port.model:CrossConvModel"
    tf_device: str = "cpu"
    chainer_device: str = "cpu"


def versions() -> dict[str, str]:
    found = {"python": platform.python_version(), "numpy": np.__version__}
    for name in ("tensorflow", "chainer", "cupy"):
        try:
            found[name] = __import__(name).__version__
        except ImportError:
            found[name] = "not installed"
    return found


class Comparer:
    """Compares dicts of tensors section by section with that section's tolerances."""

    def __init__(self, layers: list[Layer], tolerances: Tolerances, stat: str) -> None:
        self.taps = [layer.name for layer in layers]
        self.variables = list(variable_shapes(layers))
        self.tolerances = tolerances
        self.stat = stat

    def taps_diff(self, reference: dict, port: dict, mode: str) -> list[TensorDiff]:
        atol, rtol = getattr(self.tolerances, mode)
        return compare_dicts(reference, port, atol, rtol, self.stat, order=self.taps,
                             layouts=dict.fromkeys(self.taps, "nhwc"), scale_atol=True)

    def variables_diff(self, reference: dict, port: dict, section: str) -> list[TensorDiff]:
        atol, rtol = getattr(self.tolerances, section)
        return compare_dicts(reference, port, atol, rtol, self.stat, order=self.variables,
                             layouts=dict.fromkeys(self.variables, "hwio"), scale_atol=True)

    def frames_diff(self, reference: dict, port: dict) -> list[TensorDiff]:
        atol, rtol = self.tolerances.gradients
        return compare_dicts(reference, port, atol, rtol, self.stat,
                             layouts={"frames": "nhwc"}, scale_atol=True)

    def steps_diff(self, rows: list[dict]) -> list[TensorDiff]:
        atol, rtol = self.tolerances.steps
        return compare_steps(rows, atol, rtol, self.stat, scale_atol=True)


def compare_captures(reference: Capture, port: Capture, comparer: Comparer
                     ) -> dict[str, list[TensorDiff]]:
    """Every section both captures hold (free-running training for the steps)."""
    found: dict[str, list[TensorDiff]] = {}
    for mode, key in E2E_SECTIONS:
        if reference.section(mode) and port.section(mode):
            found[key] = comparer.taps_diff(reference.section(mode), port.section(mode), mode)
    if reference.section("grad") and port.section("grad"):
        found[sections.GRADIENTS] = comparer.variables_diff(
            reference.section("grad"), port.section("grad"), "gradients")
        found[sections.INPUT_GRADIENT] = comparer.frames_diff(
            reference.section("input_grad"), port.section("input_grad"))
    if reference.steps and port.steps:
        found[sections.TRAINING_LOSSES] = comparer.steps_diff(
            step_rows(reference.steps, port.steps))
        found[sections.AFTER_TRAINING] = comparer.variables_diff(
            reference.section("after"), port.section("after"), "after_training")
    return found


def step_rows(reference: list[dict], port: list[dict]) -> list[dict]:
    return [{"step": ref["step"], "lr": ref["lr"],
             **{f"tf_{k}": ref[k] for k in ("loss", "l2", "kl")},
             **{f"port_{k}": prt[k] for k in ("loss", "l2", "kl")}}
            for ref, prt in zip(reference, port, strict=False)]


def synced_training(reference: Any, port: Any, weights: OrderedDict, inputs: ParityInputs,
                    steps: int, lr: float | None, progress: bool
                    ) -> tuple[list[dict], OrderedDict, OrderedDict]:
    """K SGD steps where every port step starts from the reference's weights of that step.

    Free-running, two float32 trainings part within a few steps at the seed's learning rates
    whatever the port (rounding differences grow ~20x per step; docs/parity.md), so each step
    is checked on its own: same starting weights, same batch and noise, then the losses and
    the updated weights are compared. Returns the step rows and both sides' final weights.
    """
    rows = []
    reference.set_weights(weights)
    start = weights
    for step in tqdm(range(steps), desc="training steps", unit="step", disable=not progress,
                     leave=False):
        port.set_weights(start)
        frames, epsilon = inputs.frames[step], inputs.epsilons[step]
        ref_row = step_row(step, reference.train_step(frames, epsilon, step, lr))
        port_row = step_row(step, port.train_step(frames, epsilon, step, lr))
        rows += step_rows([ref_row], [port_row])
        start = reference.get_weights()
    return rows, start, port.get_weights()


def sample_images(reference: Capture, port: Capture, preset, layers) -> dict:
    """Frame, true next frame and both predicted next frames of the first pair, in [0, 1]."""
    ref, prt = reference.section("inference"), port.section("inference")
    size, scale, out = preset.target_size, preset.scale, output_name(layers)
    image = ref[f"image_{size}"][0]

    def next_frame(shifted_diff: np.ndarray) -> np.ndarray:
        return np.clip((image + shifted_diff * 2.0 - scale) / scale, 0.0, 1.0)

    return {"frame": np.clip(image / scale, 0.0, 1.0),
            "next_frame": next_frame(ref[f"diff_{size}"][0]),
            "tf_prediction": next_frame(ref[out][0]),
            "port_prediction": next_frame(prt[out][0])}


def run_parity(settings: ParitySettings, progress: bool = True) -> ParityRun:
    preset = get_preset(settings.preset)
    layers = build_spec(preset)
    comparer = Comparer(layers, Tolerances.defaults(settings.atol, settings.rtol),
                        settings.stat)
    inputs = ParityInputs.from_dataset(settings.data, preset, settings.batch_size,
                                       settings.seed, settings.steps)
    reference = create_model("tf", settings.preset, seed=settings.seed,
                             device=settings.tf_device)
    port, layout = load_port(settings.port, settings.preset, settings.seed,
                             settings.chainer_device)
    # The weights cross through the interchange file, the path a researcher's weights take.
    with tempfile.TemporaryDirectory() as tmp:
        reference.save(Path(tmp, "weights.npz"))
        port.load(Path(tmp, "weights.npz"))
    weights = reference.get_weights()

    parts = ("forward", "gradients")
    ref_capture = capture_model(reference, reference.layout, layers, weights, inputs,
                                settings.steps, parts, progress, "tf")
    port_capture = capture_model(port, layout, layers, weights, inputs, settings.steps, parts,
                                 progress, "port")
    found = compare_captures(ref_capture, port_capture, comparer)
    port_taps = {key: port_capture.section(mode) for mode, key in E2E_SECTIONS}
    if settings.mode == "isolated":
        for _, key in E2E_SECTIONS:
            found.pop(key)
    if settings.mode in ("both", "isolated"):
        for mode, key in ISOLATED_SECTIONS:
            port_taps[key] = isolated_outputs(port, layout, layers, ref_capture, inputs,
                                              weights, mode)
            found[key] = comparer.taps_diff(ref_capture.section(mode), port_taps[key], mode)
    rows: list[dict] = []
    if settings.steps:
        rows, ref_after, port_after = synced_training(reference, port, weights, inputs,
                                                      settings.steps, settings.lr, progress)
        found[sections.TRAINING_LOSSES] = comparer.steps_diff(rows)
        found[sections.AFTER_TRAINING] = comparer.variables_diff(ref_after, port_after,
                                                                 "after_training")

    run = ParityRun(
        settings={**asdict(settings), "tolerances": asdict(comparer.tolerances),
                  "training": "synced"},
        versions=versions(),
        sections=found,
        steps=rows,
        sample=sample_images(ref_capture, port_capture, preset, layers),
        created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    )
    run.ensure_verdict(comparer.taps)
    worst = run.pick_worst()
    if worst:
        section, name = worst
        mode = "training" if section.endswith("training") else "inference"
        run.worst = {"name": name, "section": section, "layout": "nhwc",
                     "reference": ref_capture.section(mode)[name],
                     "port": port_taps[section][name]}
    return run
