"""Pick a backend's model by name; TensorFlow and Chainer are imported only when asked for."""

from __future__ import annotations

import importlib
import os
from typing import Any

from common.errors import UserError
from spec import build_spec, get_preset
from spec.weights import load_weights

BACKENDS = ("tf", "chainer")
_MODULES = {"tf": "tf_reference.model", "chainer": "chainer_port.model"}


def create_model(backend: str, preset: str, seed: int = 0, device: str = "cpu",
                 weights: str | os.PathLike | None = None) -> Any:
    """A `CrossConvModel` of `backend` ("tf" or "chainer") built to `preset`.

    `weights`: an interchange file to start from, read and checked before the framework is
    imported, so a bad file is refused at once rather than after TensorFlow's start-up.
    """
    if backend not in _MODULES:
        raise UserError(f"unknown backend {backend!r} (known: {', '.join(BACKENDS)})")
    loaded = None
    if weights is not None:
        loaded = load_weights(weights, build_spec(get_preset(preset)))
    module = importlib.import_module(_MODULES[backend])
    model = module.CrossConvModel(preset, seed=seed, device=device)
    if loaded is not None:
        model.set_weights(loaded)
    return model
