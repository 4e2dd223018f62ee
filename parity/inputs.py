"""The inputs both sides of a parity run share: weights, frames and noise for every step."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.errors import UserError
from common.paths import DEFAULT_DATASET
from data import Dataset
from spec import Preset
from twinport.noise import epsilon_for

DEFAULT_DATA = Path(DEFAULT_DATASET)
DEFAULT_DITHER = 1.0 / 255.0


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
    """Batch `k` and epsilon `k` feed training step k; batch 0 / epsilon 0 feed the forward."""

    frames: list[np.ndarray]
    epsilons: list[np.ndarray]

    @classmethod
    def from_dataset(cls, data: str | Path, preset: Preset, batch_size: int, seed: int,
                     steps: int, dither: float = DEFAULT_DITHER) -> ParityInputs:
        """`steps` batches (at least one) from the train split, in training order.

        `dither` adds uniform noise in [0, dither) to every frame, drawn from `seed`: flat
        regions of synthetic frames (the moving-objects background) give max-pool windows
        whose values are equal up to float rounding, and each framework's rounding picks a
        different winner, so gradients would differ by routing, not by porting. One uint8
        step (1/255) breaks those ties without changing what the frames show.
        """
        if not Path(data, "map.csv").exists():
            raise UserError(f"{data}: no dataset here (make one with `twinport data "
                            f"moving-objects --out {data}`, or pass --data)")
        dataset = Dataset(data, "train")
        if not 0 < batch_size <= len(dataset):
            raise UserError(f"--batch-size {batch_size}: must be between 1 and the "
                            f"{len(dataset)} sequences of {data} (train)")
        count = max(steps, 1)
        stream = dataset.batches(batch_size, seed)
        jitter = np.random.default_rng([seed, 255])
        frames = [next(stream) for _ in range(count)]
        if dither:
            frames = [f + jitter.uniform(0, dither, f.shape).astype(np.float32)
                      for f in frames]
        rows = batch_size * (dataset.seq_len - 1)
        epsilons = [epsilon_for(seed, step, rows, preset.z_dim) for step in range(count)]
        return cls(frames, epsilons)

    def digest(self) -> str:
        return digest({f"{kind}{i}": a for kind, arrays in (("f", self.frames),
                                                            ("e", self.epsilons))
                       for i, a in enumerate(arrays)})
