"""`twinport predict`: the outside-check contract, X [B, 2, 64, 64, 3] -> Y [B, 64, 64, 3]."""

from __future__ import annotations

import numpy as np

from spec import get_preset
from spec.layout import activation_to_tf
from twinport.atomic import atomic_path
from twinport.backends import create_model
from twinport.errors import UserError


def load_array(path: str, what: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (OSError, ValueError, EOFError) as error:
        raise UserError(f"{path}: not a readable .npy {what} ({error})") from None


def check_input(frames: np.ndarray, path: str, preset_name: str) -> None:
    preset = get_preset(preset_name)
    if frames.ndim != 5 or frames.shape[1] < 2 or frames.shape[-1] != preset.channels:
        raise UserError(f"{path}: expected frames [B, 2, H, W, {preset.channels}], "
                        f"got {list(frames.shape)}")
    if frames.dtype != np.float32:
        raise UserError(f"{path}: expected float32 frames, got {frames.dtype}")
    if not np.all(np.isfinite(frames)) or frames.min() < 0 or frames.max() > 1:
        raise UserError(f"{path}: frames must be finite and in [0, 1] (before the seed's scale)")


def predict(backend: str, preset: str, weights: str, input_path: str, epsilon_path: str | None,
            train_mode: bool, output: str, device: str = "cpu") -> np.ndarray:
    """Write the model's `diff_output` (NHWC, the seed's shifted diff space) for the input."""
    frames = load_array(input_path, "input")
    check_input(frames, input_path, preset)
    z_dim = get_preset(preset).z_dim
    rows = frames.shape[0] * (frames.shape[1] - 1)
    epsilon = None
    if epsilon_path:
        epsilon = load_array(epsilon_path, "epsilon")
        if epsilon.shape != (rows, z_dim) or epsilon.dtype != np.float32:
            raise UserError(f"{epsilon_path}: expected float32 epsilon {[rows, z_dim]}, "
                            f"got {epsilon.dtype} {list(epsilon.shape)}")
    model = create_model(backend, preset, device=device)
    model.load(weights)
    result = model.forward(frames, epsilon, training=train_mode)
    prediction = activation_to_tf(model.to_numpy(result.output)).astype(np.float32)
    with atomic_path(output) as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, prediction)
    return prediction
