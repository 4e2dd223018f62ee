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
