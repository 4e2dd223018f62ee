"""The weight interchange format: an .npz keyed by the reference's TF variable names, TF layout.

Keys have no `:0`; kernels are HWIO (conv2d_transpose: [h, w, out, in]); every normalisation
statistic (BatchNorm's moving_mean and moving_variance) is included. Both twins of every pair
load and save this; the names and shapes are the spec's (`Layer.variables`).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from common.arrays import read_npz
from common.atomic import atomic_path
from common.errors import UserError
from spec.layer import Layer, Variable

# The optimizer state's update count (`optimizer_state_shapes`).
STEP = "step"


def variables(layers: list[Layer]) -> OrderedDict[str, Variable]:
    """Every variable of the graph by TF name, in graph order."""
    return OrderedDict((var.name, var) for layer in layers for var in layer.variables)


def variable_shapes(layers: list[Layer]) -> OrderedDict[str, tuple[int, ...]]:
    """Every variable of the graph, TF name -> TF shape, in graph order."""
    return OrderedDict((var.name, var.shape) for layer in layers for var in layer.variables)


def trainable_names(layers: list[Layer]) -> list[str]:
    """The variables the optimizer trains (not the normalisation statistics), graph order."""
    return [var.name for layer in layers for var in layer.variables if var.trainable]


def optimizer_state_shapes(layers: list[Layer], slots: tuple[str, ...]
                           ) -> OrderedDict[str, tuple[int, ...]]:
    """The state of an optimizer keeping `slots` (`spec.pair.Optimizer.slots`), name -> TF
    shape: `{var}/{slot}` for every trainable variable, graph order, then `step` (its update
    count, a scalar). Empty for an optimizer without slots (SGD)."""
    if not slots:
        return OrderedDict()
    shapes = OrderedDict((f"{var.name}/{slot}", var.shape) for layer in layers
                         for var in layer.variables if var.trainable for slot in slots)
    shapes[STEP] = ()
    return shapes


def check_weights(weights: Mapping[str, np.ndarray], layers: list[Layer], source: str) -> None:
    """One UserError listing every missing key, unexpected key, shape, dtype or NaN problem."""
    check_arrays(weights, variable_shapes(layers), f"{source}: weights do not fit this model")


def check_optimizer_state(state: Mapping[str, np.ndarray],
                          expected: Mapping[str, tuple[int, ...]], source: str) -> None:
    """`check_weights` for an optimizer state (`optimizer_state_shapes`); its step must also
    be a whole number >= 0."""
    problems = []
    step = state.get(STEP)
    if STEP in expected and np.shape(step) == () and np.isfinite(step) and not (
            step >= 0 and float(step).is_integer()):
        problems.append(f"{STEP} must be a whole number >= 0, got {float(step)}")
    check_arrays(state, expected, f"{source}: optimizer state does not fit this model",
                 problems)


def check_arrays(arrays: Mapping[str, np.ndarray], expected: Mapping[str, tuple[int, ...]],
                 heading: str, problems: list[str] | None = None) -> None:
    """One UserError, `heading (N problems): ...`, listing every missing key, unexpected key,
    shape, dtype or NaN problem and `problems`."""
    problems = [f"missing {name} {list(shape)}" for name, shape in expected.items()
                if name not in arrays] + list(problems or [])
    problems += [f"unexpected {name} {list(np.shape(arrays[name]))}" for name in arrays
                 if name not in expected]
    for name, shape in expected.items():
        if name not in arrays:
            continue
        value = np.asarray(arrays[name])
        if tuple(value.shape) != shape:
            problems.append(f"{name} has shape {list(value.shape)}, expected {list(shape)} "
                            "(TF layout)")
        elif value.dtype != np.float32:
            problems.append(f"{name} has dtype {value.dtype}, expected float32")
        elif not np.all(np.isfinite(value)):
            problems.append(f"{name} has non-finite values")
    if problems:
        shown = "; ".join(problems[:12])
        more = f"; and {len(problems) - 12} more" if len(problems) > 12 else ""
        raise UserError(f"{heading} ({len(problems)} problem{'s' if len(problems) > 1 else ''}"
                        f"): {shown}{more}")


def load_weights(path: str | os.PathLike, layers: list[Layer]) -> OrderedDict[str, np.ndarray]:
    """Read and check an interchange file; weights in graph order."""
    weights = read_npz(path, "interchange weights")
    check_weights(weights, layers, str(path))
    return OrderedDict((name, weights[name]) for name in variable_shapes(layers))


def save_weights(path: str | os.PathLike, weights: Mapping[str, np.ndarray]) -> None:
    """Write the interchange file atomically (float32, TF layout, TF names)."""
    arrays = {name: np.asarray(value, dtype=np.float32) for name, value in weights.items()}
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
