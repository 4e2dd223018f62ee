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


def variables(layers: list[Layer]) -> OrderedDict[str, Variable]:
    """Every variable of the graph by TF name, in graph order."""
    return OrderedDict((var.name, var) for layer in layers for var in layer.variables)


def variable_shapes(layers: list[Layer]) -> OrderedDict[str, tuple[int, ...]]:
    """Every variable of the graph, TF name -> TF shape, in graph order."""
    return OrderedDict((var.name, var.shape) for layer in layers for var in layer.variables)


def trainable_names(layers: list[Layer]) -> list[str]:
    """The variables the optimizer trains (not the normalisation statistics), graph order."""
    return [var.name for layer in layers for var in layer.variables if var.trainable]


def check_weights(weights: Mapping[str, np.ndarray], layers: list[Layer], source: str) -> None:
    """One UserError listing every missing key, unexpected key, shape, dtype or NaN problem."""
    expected = variable_shapes(layers)
    problems = [f"missing {name} {list(shape)}" for name, shape in expected.items()
                if name not in weights]
    problems += [f"unexpected {name} {list(np.shape(weights[name]))}" for name in weights
                 if name not in expected]
    for name, shape in expected.items():
        if name not in weights:
            continue
        value = weights[name]
        if tuple(value.shape) != shape:
            problems.append(f"{name} has shape {list(value.shape)}, expected {list(shape)}")
        elif value.dtype != np.float32:
            problems.append(f"{name} has dtype {value.dtype}, expected float32")
        elif not np.all(np.isfinite(value)):
            problems.append(f"{name} has non-finite values")
    if problems:
        shown = "; ".join(problems[:12])
        more = f"; and {len(problems) - 12} more" if len(problems) > 12 else ""
        raise UserError(f"{source}: weights do not fit this model ({len(problems)} "
                        f"problem{'s' if len(problems) > 1 else ''}): {shown}{more}")


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
