"""Does a dataset fit a pair's preset? One check for every pair (`TwinPair.check_data`), run
when a command starts, before anything is written; the pair says what does not fit."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from common.errors import UserError
from data import Dataset
from data.schema import MAP_NAME

# (seq_len, height, width, channels, preset) -> why such sequences do not fit (empty: they do)
FrameProblems = Callable[[int, int, int, int, Any], list[str]]


def shape_problems(seq_len: int, height: int, width: int, channels: int, want_channels: int,
                   want_frames: int, size: int, reads: str) -> list[str]:
    """The common refusals of a frame pair's data: the channels, too few frames per sequence
    (`reads`: what the model does with them), another frame size."""
    problems = []
    if channels != want_channels:
        problems.append(f"{channels} channels, the model takes {want_channels}")
    if seq_len < want_frames:
        problems.append(f"{seq_len} frames per sequence, the model {reads}")
    if (height, width) != (size, size):
        problems.append(f"frames of {height}x{width}, the model takes {size}x{size}")
    return problems


def check_split(data: str | os.PathLike, split: str, preset: Any, batch_size: int,
                problems: FrameProblems) -> Dataset:
    """The split, checked against the preset and the batch size (a UserError naming the
    file)."""
    dataset = Dataset(data, split)
    found = problems(dataset.seq_len, *dataset.frame_shape, preset)
    if found:
        raise UserError(f"{dataset.root / MAP_NAME}: split {split!r} does not fit preset "
                        f"{preset.name}: {'; '.join(found)}")
    if not 0 < batch_size <= len(dataset):
        raise UserError(f"--batch-size {batch_size}: must be between 1 and the {len(dataset)} "
                        f"sequences of {data} ({split})")
    return dataset
