"""`twinport predict`: a model's prediction for inputs in a .npy file, on either backend.

The pair's one input ([B, ...] float32 in [0, 1], TF layout) in; out, its `prediction`
(`TwinPair.prediction`; default the `output` tap), TF layout: cross_conv's `diff_output` for
X [B, 2, 64, 64, 3], the ConvLSTM's predicted frames [B, 10, 64, 64, 1].
"""

from __future__ import annotations

from typing import Any

import numpy as np

from common.arrays import read_npy
from common.atomic import atomic_path
from common.errors import UserError
from spec.layout import activation_to_tf
from spec.registry import DEFAULT_MODEL, get_pair
from twinport.backends import create_model


def to_tf_layout(model: Any, value: Any) -> np.ndarray:
    """A tap or output of `model` as host NHWC (Chainer's are NCHW, TF's NHWC already)."""
    array = model.to_numpy(value)
    return activation_to_tf(array) if getattr(model, "layout", "NCHW") == "NCHW" else array


def read_input(path: str, spec: Any) -> np.ndarray:
    """The input file as the pair's input `spec` takes it, or one UserError line."""
    frames = read_npy(path, f"float32 {spec.name}")
    problem = spec.problem(frames.shape)
    if problem:
        raise UserError(f"{path}: {problem}")
    if frames.dtype != np.float32:
        raise UserError(f"{path}: expected float32 {spec.name}, got {frames.dtype}")
    if not np.all(np.isfinite(frames)) or frames.min() < 0 or frames.max() > 1:
        raise UserError(f"{path}: {spec.name} must be finite and in [0, 1]")
    return frames


def predict(backend: str, preset: str, weights: str, input_path: str, noise_path: str | None,
            train_mode: bool, output: str, device: str = "cpu", model: str = DEFAULT_MODEL
            ) -> np.ndarray:
    """Write the pair's prediction (TF layout) for the input file's arrays."""
    pair = get_pair(model)
    preset_value = pair.get_preset(preset)
    specs, noise_specs = pair.inputs(preset_value), pair.noise(preset_value)
    if len(specs) != 1:
        raise UserError(f"model {pair.name} takes {len(specs)} inputs; predict reads one")
    frames = read_input(input_path, specs[0])
    noise = None
    if noise_path:
        if len(noise_specs) != 1:
            raise UserError(f"model {pair.name} has {len(noise_specs)} noise arrays; "
                            "--epsilon gives one")
        noise = read_npy(noise_path, f"float32 {noise_specs[0].name}")
        want = list(noise_specs[0].shape(preset_value, {specs[0].name: frames.shape}))
        if list(noise.shape) != want or noise.dtype != np.float32:
            raise UserError(f"{noise_path}: expected float32 {noise_specs[0].name} {want}, "
                            f"got {noise.dtype} {list(noise.shape)}")
    twin = create_model(backend, preset, device=device, weights=weights, model=model)
    result = twin.forward(frames, noise, training=train_mode)
    if pair.prediction is not None:
        prediction = pair.prediction(preset_value,
                                     lambda name: to_tf_layout(twin, result.taps[name]))
    else:
        prediction = to_tf_layout(twin, result.output)
    prediction = np.asarray(prediction, np.float32)
    with atomic_path(output) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, prediction)
    return prediction
