"""Moving MNIST for the VPN: the first 2T + 1 frames of each sequence as the code feeds them,
raw intensities 0 .. 255 (mnist_test_seq.npy's uint8 values as float32), mean-pooled and
rounded to integers when the preset is smaller. The labels are these values cast to int32 as
the code casts them, so they must be integers: uint8 data come back exactly (k / 255 * 255 is
k in float32), the pooled means and float data are rounded here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from data import WHOLE, Dataset, Part
from spec.dataset_check import shape_problems
from spec.vpn.graph import FRAMES
from spec.vpn.presets import Preset


def frame_problems(seq_len: int, height: int, width: int, channels: int,
                   preset: Preset) -> list[str]:
    """Why sequences of this shape do not fit `preset`; empty when they do."""
    return shape_problems(seq_len, height, width, channels, 1, preset.seq_len,
                          preset.data_width, f"reads {preset.seq_len} (2 x "
                          f"{preset.truncated_steps} truncated steps + 1)")


def intensities(frames: np.ndarray, preset: Preset) -> np.ndarray:
    """[B, L, data_width, data_width, 1] in [0, 1] -> the first seq_len frames as integer
    intensities 0 .. 255 (float32), mean-pooled to image_width first when smaller."""
    frames = frames[:, :preset.seq_len]
    pool = preset.data_width // preset.image_width
    if pool > 1:
        b, n, h, w, c = frames.shape
        frames = frames.reshape(b, n, h // pool, pool, w // pool, pool, c).mean(axis=(3, 5))
    return np.rint(frames * 255).astype(np.float32)


def batches(data: str, split: str, batch_size: int, seed: int, start_step: int = 0,
            preset: Any = None, part: Part = WHOLE) -> Iterator[dict[str, np.ndarray]]:
    for frames in Dataset(data, split).batches(batch_size, seed, start_step=start_step,
                                                       part=part):
        yield {FRAMES: intensities(frames, preset)}
