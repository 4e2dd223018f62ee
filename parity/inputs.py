"""The inputs both sides of a parity run share: weights, frames and noise for every step."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data import Dataset
from spec import Preset
from twinport.errors import UserError
from twinport.noise import epsilon_for

DEFAULT_DATA = Path("data/generated/moving-objects")


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
                     steps: int) -> ParityInputs:
        if not Path(data, "map.csv").exists():
            raise UserError(f"{data}: no dataset here (make one with `twinport data "
                            f"moving-objects --out {data}`, or pass --data)")
        dataset = Dataset(data, "train")
        if not 0 < batch_size <= len(dataset):
            raise UserError(f"--batch-size {batch_size}: must be between 1 and the "
                            f"{len(dataset)} sequences of {data} (train)")
        count = max(steps, 1)
        stream = dataset.batches(batch_size, seed)
        frames = [next(stream) for _ in range(count)]
        rows = batch_size * (dataset.seq_len - 1)
        epsilons = [epsilon_for(seed, step, rows, preset.z_dim) for step in range(count)]
        return cls(frames, epsilons)

    def digest(self) -> str:
        return digest({f"{kind}{i}": a for kind, arrays in (("f", self.frames),
                                                            ("e", self.epsilons))
                       for i, a in enumerate(arrays)})
