"""Moving MNIST (or KTH) sequences for the E3D-LSTM: the first total_length frames of each,
mean-pooled to the preset's size, and scheduled sampling's eta of each training step.

eta is an input, not a counter inside a twin: global step k (from 0) is run.py's iteration
k + 1, so a run resumed at step k continues the schedule. Splits other than "train" get eta 0,
the all-zero `real_input_flag` of trainer.test: every frame after the input is the model's
own prediction.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from data import WHOLE, Dataset, Part
from spec.dataset_check import shape_problems
from spec.e3d_lstm.graph import ETA, FRAMES
from spec.e3d_lstm.presets import Preset


def frame_problems(seq_len: int, height: int, width: int, channels: int,
                   preset: Preset) -> list[str]:
    """Why sequences of this shape do not fit `preset`; empty when they do."""
    return shape_problems(seq_len, height, width, channels, preset.img_channel,
                          preset.total_length, preset.data_width,
                          f"reads {preset.total_length}")


def pooled(frames: np.ndarray, preset: Preset) -> np.ndarray:
    """[B, L >= total_length, data_width, data_width, C] -> the first total_length frames,
    mean-pooled to image_width."""
    frames = frames[:, :preset.total_length]
    pool = preset.data_width // preset.image_width
    if pool == 1:
        return frames
    b, n, h, w, c = frames.shape
    return frames.reshape(b, n, h // pool, pool, w // pool, pool, c).mean(
        axis=(3, 5), dtype=np.float32)


def batches(data: str, split: str, batch_size: int, seed: int, start_step: int = 0,
            preset: Any = None, part: Part = WHOLE) -> Iterator[dict[str, np.ndarray]]:
    stream = Dataset(data, split).batches(batch_size, seed, start_step=start_step,
                                                   part=part)
    for step, frames in enumerate(stream, start_step):
        eta = preset.eta(step + 1) if split == "train" else 0.0
        yield {FRAMES: pooled(frames, preset), ETA: np.full((len(frames), 1), eta, np.float32)}
