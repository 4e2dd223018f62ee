"""The VAE noise fed to both backends: a pure function of (seed, step), so runs resume exactly."""

from __future__ import annotations

import numpy as np


def epsilon_for(seed: int, step: int, rows: int, z_dim: int) -> np.ndarray:
    """Standard normal noise [rows, z_dim], float32, the same on every backend and machine."""
    rng = np.random.default_rng([seed, step])
    return rng.standard_normal((rows, z_dim), dtype=np.float32)
