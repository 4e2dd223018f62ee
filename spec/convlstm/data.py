"""Moving MNIST for the encoder-forecaster: sequences of at least input + output frames of
data_size x data_size x 1 (the graph reads the first seq_len and pools them to its size)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from data import WHOLE, Dataset, Part
from spec.convlstm.graph import FRAMES
from spec.convlstm.presets import Preset
from spec.dataset_check import shape_problems


def frame_problems(seq_len: int, height: int, width: int, channels: int,
                   preset: Preset) -> list[str]:
    """Why sequences of this shape do not fit `preset`; empty when they do."""
    return shape_problems(seq_len, height, width, channels, 1, preset.seq_len,
                          preset.data_size, f"reads {preset.input_frames} and predicts "
                          f"{preset.output_frames}")


def batches(data: str, split: str, batch_size: int, seed: int, start_step: int = 0,
            preset: Any = None, part: Part = WHOLE) -> Iterator[dict[str, np.ndarray]]:
    for frames in Dataset(data, split).batches(batch_size, seed, start_step=start_step,
                                                       part=part):
        yield {FRAMES: frames}
