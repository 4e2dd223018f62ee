"""The pushing data for Finn et al.'s predictor: frames with a state and an action per frame
(`twinport data pushing`, `twinport data from-push-tfrecord`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from common.errors import UserError
from data import WHOLE, Dataset, Part
from data.schema import MAP_NAME
from spec.dataset_check import check_split
from spec.finn.graph import ACTIONS, IMAGES, ITER_NUM, STATES
from spec.finn.presets import Preset


def frame_problems(seq_len: int, height: int, width: int, channels: int,
                   preset: Preset) -> list[str]:
    """Why sequences of this shape do not fit `preset`; empty when they do."""
    problems = []
    if channels != preset.channels:
        problems.append(f"{channels} channels, the model takes {preset.channels}")
    if seq_len < preset.seq_len:
        problems.append(f"{seq_len} frames per sequence, the model reads {preset.seq_len}")
    if (height, width) != (preset.data_size, preset.data_size):
        problems.append(f"frames of {height}x{width}, the model takes "
                        f"{preset.data_size}x{preset.data_size}")
    return problems


def check_data(data: str, split: str, preset: Preset, batch_size: int) -> None:
    """The frames (`check_split`) and the per-frame actions and states the model reads."""
    dataset = check_split(data, split, preset, batch_size, frame_problems)
    missing = [name for name in (ACTIONS, STATES) if name not in dataset.vector_names]
    if missing:
        raise UserError(f"{dataset.root / MAP_NAME}: split {split!r} has no "
                        f"{' or '.join(missing)} (make the data with `twinport data pushing` "
                        "or `twinport data from-push-tfrecord`)")
    first = dataset.get_arrays([0])
    for name, want in ((ACTIONS, preset.action_dim), (STATES, preset.state_dim)):
        got = first[name].shape[-1]
        if got != want:
            raise UserError(f"{dataset.root / MAP_NAME}: split {split!r}: {name} of {got} "
                            f"values per frame, preset {preset.name} takes {want}")


def batches(data: str, split: str, batch_size: int, seed: int, start_step: int = 0,
            preset: Any = None, part: Part = WHOLE) -> Iterator[dict[str, np.ndarray]]:
    """Images, actions and states of each batch, and `iter_num`: the training iteration the
    batch feeds (the TF code's placeholder, which scheduled sampling reads), counted from
    `start_step` so a resumed run continues the schedule."""
    stream = Dataset(data, split).batches(batch_size, seed, start_step=start_step,
                                                   arrays=True, part=part)
    for step, arrays in enumerate(stream, start=start_step):
        yield {IMAGES: arrays["images"], ACTIONS: arrays[ACTIONS], STATES: arrays[STATES],
               ITER_NUM: np.full((len(arrays["images"]), 1), step, np.float32)}
