"""What one backend computes for a parity run, in TF layout, savable and comparable anywhere.

A capture holds, for the shared inputs and weights: every tap in inference and training mode,
the gradient of the loss for every variable and for the frames, the losses of K SGD steps and
every variable after them. Arrays are stored in TF layout (NHWC, HWIO) whatever the backend, so
two captures compare directly, and `parity compare` needs neither TensorFlow nor Chainer.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from parity.inputs import ParityInputs, digest
from spec import Layer
from spec.layers import SOURCES
from spec.layout import activation_to_chainer, activation_to_tf
from twinport.atomic import atomic_path
from twinport.errors import UserError

PARTS = ("forward", "gradients", "training")
MODES = {"inference": False, "training": True}
FORMAT = "twinport-capture/1"
# Settings two captures must share to be comparable.
MATCHING_KEYS = ("preset", "batch_size", "seed", "steps", "lr", "inputs_digest",
                 "weights_digest")


def layout_converters(layout: str) -> tuple[Callable, Callable]:
    """(to TF layout, from TF layout) for a model whose taps are in `layout`."""
    if layout == "NCHW":
        return activation_to_tf, activation_to_chainer
    if layout == "NHWC":
        return (lambda x: x), (lambda x: x)
    raise UserError(f"port layout {layout!r}: must be 'NCHW' or 'NHWC'")


@dataclass
class Capture:
    meta: dict[str, Any]
    arrays: OrderedDict[str, np.ndarray] = field(default_factory=OrderedDict)
    steps: list[dict[str, float]] = field(default_factory=list)

    def section(self, prefix: str) -> OrderedDict[str, np.ndarray]:
        """Arrays under `prefix/`, keys without it, in stored order."""
        cut = len(prefix) + 1
        return OrderedDict((key[cut:], value) for key, value in self.arrays.items()
                           if key.startswith(prefix + "/"))

    def save(self, path: str | os.PathLike) -> None:
        header = json.dumps({"format": FORMAT, "meta": self.meta, "steps": self.steps})
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez_compressed(handle, __header__=np.array(header), **self.arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Capture:
        try:
            with np.load(path, allow_pickle=False) as archive:
                header = json.loads(str(archive["__header__"]))
                arrays = OrderedDict((k, archive[k]) for k in archive.files if k != "__header__")
        except FileNotFoundError:
            raise UserError(f"{path}: no such file") from None
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as error:
            raise UserError(f"{path}: not a twinport capture ({error})") from None
        if header.get("format") != FORMAT:
            raise UserError(f"{path}: not a twinport capture (format {header.get('format')!r})")
        return cls(header["meta"], arrays, header["steps"])


def check_comparable(a: Capture, b: Capture, name_a: str, name_b: str) -> None:
    """Refuse captures of different presets, settings, inputs or weights, saying which."""
    for key in MATCHING_KEYS:
        if a.meta.get(key) != b.meta.get(key):
            raise UserError(f"{name_a} and {name_b} differ in {key} ({a.meta.get(key)} vs "
                            f"{b.meta.get(key)}): captures must share preset, settings, inputs "
                            "and weights")


def capture_model(model: Any, layout: str, layers: list[Layer], weights: OrderedDict,
                  inputs: ParityInputs, steps: int, parts: Iterable[str] = PARTS,
                  progress: bool = True, label: str = "", lr: float | None = None) -> Capture:
    """Run `model` on the shared inputs from `weights`; everything back in TF layout.

    `lr`: the training steps' learning rate; None follows the seed's schedule.
    """
    to_tf, _ = layout_converters(layout)
    parts = set(parts)
    arrays: OrderedDict[str, np.ndarray] = OrderedDict()
    frames, epsilon = inputs.frames[0], inputs.epsilons[0]
    units = ("forward" in parts) + ("gradients" in parts) + steps * ("training" in parts)
    with tqdm(total=units, desc=f"capture {label}", unit="part", disable=not progress,
              leave=False) as bar:
        if "forward" in parts:
            for mode, training in MODES.items():
                model.set_weights(weights)
                result = model.forward(frames, epsilon, training=training)
                for name, tap in result.taps.items():
                    arrays[f"{mode}/{name}"] = to_tf(model.to_numpy(tap))
            bar.update(1)
        if "gradients" in parts:
            model.set_weights(weights)
            _, grads, frames_grad = model.gradients(frames, epsilon, training=True)
            for name, grad in grads.items():
                arrays[f"grad/{name}"] = np.asarray(grad, np.float32)
            arrays["input_grad/frames"] = np.asarray(frames_grad, np.float32)
            bar.update(1)
        step_rows = []
        if "training" in parts:
            model.set_weights(weights)
            for step in range(steps):
                step_rows.append(step_row(step, model.train_step(
                    inputs.frames[step], inputs.epsilons[step], step, lr)))
                bar.update(1)
            for name, value in model.get_weights().items():
                arrays[f"after/{name}"] = value
    model.set_weights(weights)
    meta = {"weights_digest": digest(weights), "inputs_digest": inputs.digest(),
            "parts": sorted(parts)}
    return Capture(meta, arrays, step_rows)


def step_row(step: int, out: dict) -> dict[str, float]:
    return {"step": step, "loss": out["loss"], "l2": out["l2_loss"], "kl": out["kl_loss"],
            "lr": out["lr"]}


def isolated_outputs(model: Any, layout: str, layers: list[Layer], reference: Capture,
                     inputs: ParityInputs, weights: OrderedDict, mode: str
                     ) -> OrderedDict[str, np.ndarray]:
    """Each layer of `model` fed the reference's own inputs for it (nobuco's check)."""
    to_tf, from_tf = layout_converters(layout)
    taps = reference.section(mode)
    sources = {"frames": from_tf(inputs.frames[0]), "epsilon": inputs.epsilons[0]}
    model.set_weights(weights)
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    for layer in layers:
        feed = [sources[name] if name in SOURCES else from_tf(taps[name])
                for name in layer.inputs]
        value = model.run_layer(layer.name, feed, training=MODES[mode])
        out[layer.name] = to_tf(model.to_numpy(value))
    model.set_weights(weights)
    return out
