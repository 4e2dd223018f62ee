"""The inputs both sides of a parity run share: every named input and noise of every step."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spec.layout import Activation
from spec.pair import TwinPair, noise_at


def digest(arrays: Mapping[str, np.ndarray]) -> str:
    """A short sha256 over names, shapes, dtypes and bytes, in key order."""
    h = hashlib.sha256()
    for name in arrays:
        value = np.ascontiguousarray(arrays[name])
        h.update(f"{name}:{value.shape}:{value.dtype}".encode())
        h.update(value.tobytes())
    return h.hexdigest()[:16]


@dataclass
class ParityInputs:
    """Batch `k` and noise `k` feed training step k; batch 0 / noise 0 feed the forward.
    Each is a dict by the pair's input (noise) names, TF layout; `layouts`, each input's
    rule to Chainer's (`InputSpec.layout`)."""

    batches: list[dict[str, np.ndarray]]
    noise: list[dict[str, np.ndarray]]
    layouts: dict[str, Activation] = field(default_factory=dict)

    @classmethod
    def from_dataset(cls, pair: TwinPair, preset: Any, data: str | Path, batch_size: int,
                     seed: int, steps: int, dither: bool = True) -> ParityInputs:
        """`steps` batches (at least one) from the train split, in training order, and the
        pair's noise of each step (`spec.pair.noise_at`).

        `dither` adds uniform noise in [0, InputSpec.dither) to the inputs that declare one,
        drawn from `seed`: flat regions of synthetic images give max-pool windows whose values
        are equal up to float rounding, and each framework's rounding picks a different
        winner, so gradients would differ by routing, not by porting. One uint8 step (1/255)
        breaks those ties without changing what the images show.
        """
        pair.require_data(data)
        if pair.check_data is not None:
            pair.check_data(str(data), "train", preset, batch_size)
        count = max(steps, 1)
        stream = pair.stream(data, "train", batch_size, seed, preset)
        batches = [next(stream) for _ in range(count)]
        jitter = np.random.default_rng([seed, 255])
        if dither:
            for spec in pair.inputs(preset):
                if spec.dither:
                    for batch in batches:
                        value = batch[spec.name]
                        batch[spec.name] = value + jitter.uniform(
                            0, spec.dither, value.shape).astype(np.float32)
        noise = [noise_at(pair.noise(preset), preset,
                          {name: value.shape for name, value in batch.items()}, seed, step)
                 for step, batch in enumerate(batches)]
        return cls(batches, noise, pair.input_layouts(preset))

    def digest(self) -> str:
        return digest({f"{name}{i}": value for i, arrays in
                       enumerate(self.batches + self.noise) for name, value in arrays.items()})
