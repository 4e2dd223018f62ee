"""A shard's thumbnail: its first sequences as a PNG, one sequence per row, frames left to right."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

ROWS = 8
GAP = 2


def write_strip(path: Path, sequences: np.ndarray, norm_scale: float) -> None:
    """Writes `sequences[:ROWS]` ([N, L, H, W, C], C 1 or 3) scaled by `norm_scale` to 0..255."""
    seqs = sequences[:ROWS].astype(np.float32) / np.float32(norm_scale)
    seqs = np.rint(np.clip(seqs, 0.0, 1.0) * 255).astype(np.uint8)
    n, length, height, width, channels = seqs.shape
    canvas = np.full(
        (n * (height + GAP) - GAP, length * (width + GAP) - GAP, channels), 128, np.uint8
    )
    for i in range(n):
        for t in range(length):
            y, x = i * (height + GAP), t * (width + GAP)
            canvas[y : y + height, x : x + width] = seqs[i, t]
    image = Image.fromarray(canvas[..., 0] if channels == 1 else canvas)
    image.save(path, format="PNG")
