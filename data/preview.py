"""`twinport data preview`: a PNG grid of sequences and their frame differences."""

from __future__ import annotations

import math
import os

import numpy as np

from common.atomic import atomic_path
from common.errors import UserError
from data.dataset import Dataset

PANEL_INCHES = 1.1


def signed_diff(frames: np.ndarray) -> np.ndarray:
    """`[L-1, H, W]`: per pixel, frame t+1 minus frame t in the channel that changed most."""
    diff = frames[1:] - frames[:-1]
    strongest = np.abs(diff).argmax(axis=-1)[..., None]
    return np.take_along_axis(diff, strongest, axis=-1)[..., 0]


def write_preview(dataset: Dataset, n: int, out: str | os.PathLike) -> int:
    """Draws the first `n` sequences of `dataset` into the PNG `out`; returns how many."""
    from matplotlib.figure import Figure

    if dataset.seq_len < 2:
        raise UserError(f"{dataset.root}: sequences of length {dataset.seq_len} have no motion")
    shown = min(n, len(dataset))
    sequences = dataset.get(np.arange(shown))
    length = dataset.seq_len
    panels = 2 * length - 1  # the frames, then the L-1 differences
    block_cols = math.ceil(math.sqrt(shown))
    block_rows = math.ceil(shown / block_cols)
    fig = Figure(figsize=(block_cols * panels * PANEL_INCHES + 0.8,
                          block_rows * PANEL_INCHES * 1.15 + 0.5), dpi=100,
                 layout="constrained")
    axes = fig.subplots(block_rows, block_cols * panels, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for i, frames in enumerate(sequences):
        row, col = divmod(i, block_cols)
        cells = axes[row, col * panels : (col + 1) * panels]
        for t in range(length):
            image = frames[t, ..., 0] if frames.shape[-1] == 1 else frames[t]
            cells[t].imshow(image, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            cells[t].set_title(f"#{i} t={t}", fontsize=7)
        for t, diff in enumerate(signed_diff(frames)):
            shown_diff = cells[length + t].imshow(diff, cmap="RdBu_r", vmin=-1.0, vmax=1.0,
                                                  interpolation="nearest")
            cells[length + t].set_title(f"t{t + 1} - t{t}", fontsize=7)
    fig.suptitle(f"{dataset.root.name} [{dataset.split}]: first {shown} of {len(dataset)} "
                 "sequences; differences: red appears, blue disappears", fontsize=9)
    fig.colorbar(shown_diff, ax=axes, shrink=0.6, aspect=30)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png")
    return shown
