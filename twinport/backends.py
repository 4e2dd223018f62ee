"""Pick a backend's model by name; TensorFlow and Chainer are imported only when asked for."""

from __future__ import annotations

import importlib
from typing import Any

from twinport.errors import UserError

BACKENDS = ("tf", "chainer")
_MODULES = {"tf": "tf_reference.model", "chainer": "chainer_port.model"}


def create_model(backend: str, preset: str, seed: int = 0, device: str = "cpu") -> Any:
    """A `CrossConvModel` of `backend` ("tf" or "chainer") built to `preset`."""
    if backend not in _MODULES:
        raise UserError(f"unknown backend {backend!r} (known: {', '.join(BACKENDS)})")
    module = importlib.import_module(_MODULES[backend])
    return module.CrossConvModel(preset, seed=seed, device=device)
