"""`twinport parity`: one run of both twins on the same weights, batches and noise."""

from __future__ import annotations

import datetime
import platform
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from parity import verdict as sections
from parity.capture import Capture, capture_model, isolated_outputs
from parity.compare import compare_dicts, compare_steps
from parity.inputs import ParityInputs
from parity.port import load_port
from parity.results import ParityRun
from parity.tolerances import Tolerances
from spec import build_spec, get_preset
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
    mode: str = "both"
    atol: float | None = None
    rtol: float | None = None
    stat: str = "elemwise"
    port: str = "chainer_port.model:CrossConvModel"
    tf_device: str = "cpu"
    chainer_device: str = "cpu"


def versions() -> dict[str, str]:
    found = {"python": platform.python_version(), "numpy": np.__version__}
    for name, module in (("tensorflow", "tensorflow"), ("chainer", "chainer"),
                         ("cupy", "cupy")):
        try:
            found[name] = __import__(module).__version__
        except ImportError:
            found[name] = "not installed"
    return found


def compare_captures(reference: Capture, port: Capture, layers, tolerances: Tolerances,
                     stat: str) -> dict[str, list]:
    """Every section both captures hold, compared in graph / variable / step order."""
    order = [layer.name for layer in layers]
    variables = list(variable_shapes(layers))
    found: dict[str, list] = {}
    for mode, key in E2E_SECTIONS:
        if reference.section(mode) and port.section(mode):
            atol, rtol = tolerances.forward
            found[key] = compare_dicts(reference.section(mode), port.section(mode), atol, rtol,
                                       stat, order=order, layouts=_nhwc(order))
    if reference.section("grad") and port.section("grad"):
        atol, rtol = tolerances.gradients
        found[sections.GRADIENTS] = compare_dicts(
            reference.section("grad"), port.section("grad"), atol, rtol, stat, order=variables,
            layouts=dict.fromkeys(variables, "hwio"))
        found[sections.INPUT_GRADIENT] = compare_dicts(
            reference.section("input_grad"), port.section("input_grad"), atol, rtol, stat,
            layouts={"frames": "nhwc"})
    if reference.steps and port.steps:
        atol, rtol = tolerances.training
        found[sections.TRAINING_LOSSES] = compare_steps(step_rows(reference, port), atol, rtol,
                                                        stat)
        found[sections.AFTER_TRAINING] = compare_dicts(
            reference.section("after"), port.section("after"), atol, rtol, stat,
            order=variables, layouts=dict.fromkeys(variables, "hwio"))
    return found


def _nhwc(order: list[str]) -> dict[str, str]:
    return dict.fromkeys(order, "nhwc")


def step_rows(reference: Capture, port: Capture) -> list[dict]:
    rows = []
    for ref, prt in zip(reference.steps, port.steps, strict=False):
        rows.append({"step": ref["step"], "lr": ref["lr"],
                     **{f"tf_{k}": ref[k] for k in ("loss", "l2", "kl")},
                     **{f"port_{k}": prt[k] for k in ("loss", "l2", "kl")}})
    return rows


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
    tolerances = Tolerances.defaults(settings.atol, settings.rtol)
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

    parts = ("forward", "gradients", "training")
    ref_capture = capture_model(reference, reference.layout, layers, weights, inputs,
                                settings.steps, parts, progress, "tf")
    port_capture = capture_model(port, layout, layers, weights, inputs, settings.steps, parts,
                                 progress, "port")
    found = compare_captures(ref_capture, port_capture, layers, tolerances, settings.stat)
    if settings.mode == "isolated":
        found.pop(sections.FORWARD_E2E_INFERENCE)
        found.pop(sections.FORWARD_E2E_TRAINING)
    port_taps = {key: port_capture.section(mode) for mode, key in E2E_SECTIONS}
    if settings.mode in ("both", "isolated"):
        atol, rtol = tolerances.forward
        order = [layer.name for layer in layers]
        for mode, key in ISOLATED_SECTIONS:
            port_taps[key] = isolated_outputs(port, layout, layers, ref_capture, inputs,
                                              weights, mode)
            found[key] = compare_dicts(ref_capture.section(mode), port_taps[key], atol, rtol,
                                       settings.stat, order=order, layouts=_nhwc(order))

    run = ParityRun(
        settings={**asdict(settings), "tolerances": asdict(tolerances)},
        versions=versions(),
        sections=found,
        steps=step_rows(ref_capture, port_capture),
        sample=sample_images(ref_capture, port_capture, preset, layers),
        created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    )
    run.ensure_verdict([layer.name for layer in layers])
    worst = run.pick_worst()
    if worst:
        section, name = worst
        mode = "training" if section.endswith("training") else "inference"
        run.worst = {"name": name, "section": section, "layout": "nhwc",
                     "reference": ref_capture.section(mode)[name],
                     "port": port_taps[section][name]}
    return run
