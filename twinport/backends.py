"""Pick a twin by model and backend; TensorFlow and Chainer are imported only when asked for."""

from __future__ import annotations

import os
from typing import Any

from spec.registry import DEFAULT_MODEL, get_pair
from spec.weights import load_weights


def create_model(backend: str, preset: str, seed: int = 0, device: str = "cpu",
                 weights: str | os.PathLike | None = None, model: str = DEFAULT_MODEL) -> Any:
    """The `backend` twin ("tf" or "chainer") of pair `model`, built to `preset`.

    `weights`: an interchange file to start from, read and checked before the framework is
    imported, so a bad file is refused at once rather than after TensorFlow's start-up.
    """
    pair = get_pair(model)
    preset_value = pair.get_preset(preset)
    loaded = load_weights(weights, pair.build(preset_value)) if weights is not None else None
    twin = pair.twin_class(backend)(preset_value, seed=seed, device=device)
    if loaded is not None:
        twin.set_weights(loaded)
    return twin
