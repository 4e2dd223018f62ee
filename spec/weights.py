"""The weight interchange format: an .npz keyed by the seed's TF variable names, TF layout.

Keys have no `:0`; kernels are HWIO (conv2d_transpose: [h, w, out, in]); every BatchNorm's
beta, moving_mean and moving_variance is included. Both backends load and save this.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from common.arrays import read_npz
from common.atomic import atomic_path
from common.errors import UserError
from spec.layers import Layer


def variable_shapes(layers: list[Layer]) -> OrderedDict[str, tuple[int, ...]]:
    """Every variable of the graph, TF name -> TF shape, in graph order."""
    return OrderedDict(var for layer in layers for var in layer.variables)


def is_trainable(name: str) -> bool:
    """Weights and BatchNorm beta train; moving statistics are updated, not trained."""
    return not name.endswith(("/moving_mean", "/moving_variance"))


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


class InterchangeFile:
    """`load` / `save` of the interchange file for a model with `layers`, `get_weights` and
    `set_weights` (both twins, and any port that inherits it)."""

    def load(self, path: str | os.PathLike) -> None:
        self.set_weights(load_weights(path, self.layers))

    def save(self, path: str | os.PathLike) -> None:
        save_weights(path, self.get_weights())
