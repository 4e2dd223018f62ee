"""What frames fit a preset (`spec.dataset_check` runs it when a command starts).

The model resizes every frame to the preset's pyramid, so most frame sizes work; what does
not fit is a channel count other than the preset's (the encoders' first kernels are built for
it), sequences of one frame (there is no next frame to predict), and frames smaller than the
smallest pyramid level (every level would be an upsampled blur of the data; no seed dataset
is like that).
"""

from __future__ import annotations

from spec.cross_conv.presets import Preset


def frame_problems(seq_len: int, height: int, width: int, channels: int,
                   preset: Preset) -> list[str]:
    """Why frames of this shape do not fit `preset`; empty when they do."""
    problems = []
    if channels != preset.channels:
        problems.append(f"{channels} channels, the model takes {preset.channels}")
    if seq_len < 2:
        problems.append(f"{seq_len} frame per sequence, the model needs pairs (at least 2)")
    smallest = min(preset.levels)
    if min(height, width) < smallest:
        problems.append(f"frames of {height}x{width} are smaller than the smallest pyramid "
                        f"level, {smallest}x{smallest}")
    return problems

