"""`twinport predict`: the outside-check contract, X [B, 2, 64, 64, 3] -> Y [B, 64, 64, 3]."""

from __future__ import annotations

from typing import Any

import numpy as np

from common.arrays import read_npy
from common.atomic import atomic_path
from common.errors import UserError
from spec.cross_conv import get_preset
from spec.cross_conv.data import frame_problems
from spec.layout import activation_to_tf
from twinport.backends import create_model


def to_tf_layout(model: Any, value: Any) -> np.ndarray:
    """A tap or output of `model` as host NHWC (Chainer's are NCHW, TF's NHWC already)."""
    array = model.to_numpy(value)
    return activation_to_tf(array) if getattr(model, "layout", "NCHW") == "NCHW" else array


def check_input(frames: np.ndarray, path: str, preset_name: str) -> None:
    preset = get_preset(preset_name)
    if frames.ndim != 5 or frames.shape[1] < 2 or frames.shape[-1] != preset.channels:
        raise UserError(f"{path}: expected frames [B, 2, H, W, {preset.channels}], "
                        f"got {list(frames.shape)}")
    problems = frame_problems(*frames.shape[1:], preset)
    if problems:
        raise UserError(f"{path}: frames do not fit preset {preset.name}: {'; '.join(problems)}")
    if frames.dtype != np.float32:
        raise UserError(f"{path}: expected float32 frames, got {frames.dtype}")
    if not np.all(np.isfinite(frames)) or frames.min() < 0 or frames.max() > 1:
        raise UserError(f"{path}: frames must be finite and in [0, 1] (before the seed's scale)")


def predict(backend: str, preset: str, weights: str, input_path: str, epsilon_path: str | None,
            train_mode: bool, output: str, device: str = "cpu") -> np.ndarray:
    """Write the model's `diff_output` (NHWC, the seed's shifted diff space) for the input."""
    frames = read_npy(input_path, "float32 frames [B, 2, H, W, 3]")
    check_input(frames, input_path, preset)
    z_dim = get_preset(preset).z_dim
    rows = frames.shape[0] * (frames.shape[1] - 1)
    epsilon = None
    if epsilon_path:
        epsilon = read_npy(epsilon_path, "float32 epsilon [B, z_dim]")
        if epsilon.shape != (rows, z_dim) or epsilon.dtype != np.float32:
            raise UserError(f"{epsilon_path}: expected float32 epsilon {[rows, z_dim]}, "
                            f"got {epsilon.dtype} {list(epsilon.shape)}")
    model = create_model(backend, preset, device=device, weights=weights)
    result = model.forward(frames, epsilon, training=train_mode)
    prediction = to_tf_layout(model, result.output).astype(np.float32)
    with atomic_path(output) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, prediction)
    return prediction
