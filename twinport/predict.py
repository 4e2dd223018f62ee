"""`twinport predict`: a model's prediction for inputs in a .npy file, on either backend.

The pair's one input ([B, ...] float32 in [0, 1], TF layout) in, or an .npz of its inputs by
name (Finn et al.'s images, actions, states); out, its `prediction`
(`TwinPair.prediction`; default the `output` tap), TF layout: cross_conv's `diff_output` for
X [B, 2, 64, 64, 3], the ConvLSTM's predicted frames [B, 10, 64, 64, 1].
"""

from __future__ import annotations

from typing import Any

import numpy as np

from common.arrays import read_npy, read_npz
from common.atomic import atomic_path
from common.errors import UserError
from parity.capture import layout_converters
from spec.registry import DEFAULT_MODEL, get_pair
from twinport.backends import create_model


def to_tf_layout(model: Any, value: Any, tap: str = "output") -> np.ndarray:
    """The tap `tap` (a layer's name or a named tap: "output") of `model` as a host array in
    TF layout, by the layer's rule (`Layer.layout`; TF's taps are in it already)."""
    to_tf, _ = layout_converters(getattr(model, "layout", "NCHW"), model.layers)
    return to_tf(model.pair.named_taps.get(tap, tap), model.to_numpy(value))


def read_input(path: str, spec: Any, value: np.ndarray | None = None) -> np.ndarray:
    """The input file's array (or `value`, read from it) as the pair's input `spec` takes it,
    or one UserError line."""
    frames = read_npy(path, f"float32 {spec.name}") if value is None else value
    problem = spec.problem(frames.shape)
    if problem:
        raise UserError(f"{path}: {problem}")
    if frames.dtype != np.float32:
        raise UserError(f"{path}: expected float32 {spec.name}, got {frames.dtype}")
    finite = bool(np.all(np.isfinite(frames)))
    if spec.value_range is None:
        if not finite:
            raise UserError(f"{path}: {spec.name} must be finite")
        return frames
    low, high = spec.value_range
    if not finite or (frames.size and (frames.min() < low or frames.max() > high)):
        raise UserError(f"{path}: {spec.name} must be finite and in [{low:g}, {high:g}]")
    return frames


def read_inputs(path: str, specs: Any) -> dict[str, np.ndarray]:
    """The pair's inputs from `path`: its one input's .npy (or its first, the others having a
    `default`), or an .npz holding each input by name (an input with a `default` may be left
    out: filled in, one row per sample)."""
    if len(specs) == 1 or (str(path).endswith(".npy") and all(
            spec.default is not None for spec in specs[1:])):
        first = read_input(path, specs[0])
        return {specs[0].name: first, **{spec.name: np.full(
            (len(first), *spec.shape), spec.default, np.float32) for spec in specs[1:]}}
    names = ", ".join(spec.name for spec in specs)
    arrays = read_npz(path, f"an .npz of {names}")
    missing = [spec.name for spec in specs if spec.name not in arrays and spec.default is None]
    if missing:
        raise UserError(f"{path}: no {', '.join(missing)} (the model reads {names})")
    batch = arrays[specs[0].name].shape[0] if arrays[specs[0].name].ndim else 0
    return {spec.name: read_input(path, spec, arrays[spec.name]) if spec.name in arrays else
            np.full((batch, *spec.shape), spec.default, np.float32) for spec in specs}


def predict(backend: str, preset: str, weights: str, input_path: str, noise_path: str | None,
            train_mode: bool, output: str, device: str = "cpu", model: str = DEFAULT_MODEL
            ) -> np.ndarray:
    """Write the pair's prediction (TF layout) for the input file's arrays."""
    pair = get_pair(model)
    preset_value = pair.get_preset(preset)
    specs, noise_specs = pair.inputs(preset_value), pair.noise(preset_value)
    inputs = read_inputs(input_path, specs)
    noise = None
    if noise_path:
        if len(noise_specs) != 1:
            raise UserError(f"model {pair.name} has {len(noise_specs)} noise arrays; "
                            "--epsilon gives one")
        noise = read_npy(noise_path, f"float32 {noise_specs[0].name}")
        want = list(noise_specs[0].shape(preset_value, {name: value.shape for name, value
                                                        in inputs.items()}))
        if list(noise.shape) != want or noise.dtype != np.float32:
            raise UserError(f"{noise_path}: expected float32 {noise_specs[0].name} {want}, "
                            f"got {noise.dtype} {list(noise.shape)}")
    twin = create_model(backend, preset, device=device, weights=weights, model=model)
    predicted = prediction(twin, preset_value, twin.forward(inputs, noise, training=train_mode))
    with atomic_path(output) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, predicted)
    return predicted


def prediction(model: Any, preset: Any, result: Any) -> np.ndarray:
    """The pair's prediction (`TwinPair.prediction`, default the `output` tap) from a forward
    `result` of `model`, float32 in TF layout."""
    pair = model.pair
    if pair.prediction is None:
        return np.asarray(to_tf_layout(model, result.output), np.float32)
    return np.asarray(pair.prediction(preset, lambda name: to_tf_layout(
        model, result.taps[name], name)), np.float32)
