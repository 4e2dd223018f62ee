"""Moving MNIST for the encoder-forecaster: sequences of at least input + output frames of
data_size x data_size x 1 (the graph reads the first seq_len and pools them to its size)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from common.errors import UserError
from data import Dataset
from data.schema import MAP_NAME
from spec.convlstm.graph import FRAMES
from spec.convlstm.presets import Preset


def frame_problems(seq_len: int, height: int, width: int, channels: int,
                   preset: Preset) -> list[str]:
    """Why sequences of this shape do not fit `preset`; empty when they do."""
    problems = []
    if channels != 1:
        problems.append(f"{channels} channels, the model takes 1")
    if seq_len < preset.seq_len:
        problems.append(f"{seq_len} frames per sequence, the model reads {preset.input_frames} "
                        f"and predicts {preset.output_frames}")
    if (height, width) != (preset.data_size, preset.data_size):
        problems.append(f"frames of {height}x{width}, the model takes "
                        f"{preset.data_size}x{preset.data_size}")
    return problems


def open_split(data: str | os.PathLike, split: str, preset: Preset, batch_size: int) -> Dataset:
    """The split, checked against the preset and the batch size (UserError naming the file)."""
    dataset = Dataset(data, split)
    problems = frame_problems(dataset.seq_len, *dataset.frame_shape, preset)
    if problems:
        raise UserError(f"{dataset.root / MAP_NAME}: split {split!r} does not fit preset "
                        f"{preset.name}: {'; '.join(problems)}")
    if not 0 < batch_size <= len(dataset):
        raise UserError(f"--batch-size {batch_size}: must be between 1 and the {len(dataset)} "
                        f"sequences of {data} ({split})")
    return dataset


def batches(data: str, split: str, batch_size: int, seed: int, start_step: int = 0
            ) -> Iterator[dict[str, np.ndarray]]:
    for frames in Dataset(data, split).batches(batch_size, seed, start_step=start_step):
        yield {FRAMES: frames}
