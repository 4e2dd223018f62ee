"""The ConvLSTM encoder-forecaster of seed 002 (Shi et al. 2015), rebuilt from its variable
dump, as a twin pair.

One input, `frames` [B, L >= input + output frames, data_size, data_size, 1] in [0, 1]; no
noise; the loss `CL/loss`, a sum of squared errors; Adam. The graph is `build_spec(preset)`;
the choices the dump leaves open are the preset's fields (spec/convlstm/presets.py,
docs/models/convlstm.md). The twins are `tf_reference/convlstm.py` and
`chainer_port/convlstm.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from spec.convlstm.data import batches, frame_problems
from spec.convlstm.graph import FRAMES, LOSS, PATCHES, PREDICTION, build_spec
from spec.convlstm.pitfalls import CATALOGUE
from spec.convlstm.presets import PRESETS, Preset
from spec.dataset_check import check_split
from spec.pair import InputSpec, Optimizer, TwinPair

DEFAULT_DATA = "data/generated/moving-mnist"


def inputs(preset: Preset) -> tuple[InputSpec, ...]:
    size = preset.data_size
    return (InputSpec(FRAMES, ("seq_len", "height", "width", "channels"),
                      (None, size, size, 1), minimum=(preset.seq_len, size, size, 1)),)


def check_data(data: str, split: str, preset: Preset, batch_size: int) -> None:
    check_split(data, split, preset, batch_size, frame_problems)


def unpatch(patches: np.ndarray, patch: int) -> np.ndarray:
    """[g, g, patch^2] -> [g * patch, g * patch, 1]: TF's depth_to_space of one sample."""
    grid = patches.shape[0]
    return patches.reshape(grid, grid, patch, patch).transpose(0, 2, 1, 3).reshape(
        grid * patch, grid * patch, 1)


def sample(preset: Preset, inputs: Mapping[str, np.ndarray],
           reference: Mapping[str, np.ndarray], port: Mapping[str, np.ndarray]
           ) -> dict[str, np.ndarray] | None:
    """The last input frame and both first predicted frames, in [0, 1]; None when the port
    has no prediction of the reference's shape."""
    first = f"{PREDICTION}_0"
    if first not in port or port[first].shape != reference[first].shape:
        return None

    def image(value: np.ndarray) -> np.ndarray:
        return np.clip(np.repeat(value / preset.pixel_scale, 3, axis=-1), 0.0, 1.0)

    last = reference[f"{PATCHES}_{preset.input_frames - 1}"][0]
    return {"last_input_frame": image(unpatch(last, preset.patch)),
            "tf_prediction": image(reference[first][0]),
            "port_prediction": image(port[first][0])}


def prediction(preset: Preset, tap: Callable[[str], np.ndarray]) -> np.ndarray:
    """The predicted frames [B, output_frames, H, W, 1], back on the data's [0, 1] scale."""
    frames = [tap(f"{PREDICTION}_{k}") for k in range(preset.output_frames)]
    return np.stack(frames, axis=1) / np.float32(preset.pixel_scale)


PAIR = TwinPair(
    name="convlstm",
    title="ConvLSTM encoder-forecaster (Shi et al. 2015, seed 002)",
    presets=PRESETS,
    build=build_spec,
    inputs=inputs,
    noise=lambda preset: (),
    loss=LOSS,
    losses={"loss": LOSS},
    optimizer=Optimizer("adam", lambda step: 1e-3, "Adam, lr 1e-3 (TF1's AdamOptimizer)"),
    twins={"tf": "tf_reference.convlstm:ConvLSTMModel",
           "chainer": "chainer_port.convlstm:ConvLSTMModel"},
    batches=batches,
    check_data=check_data,
    named_taps={"output": f"{PREDICTION}_0", "loss": LOSS},
    sample=sample,
    sample_caption=("The last input frame, the TF and port first predicted frames (grey), and "
                     "their difference."),
    prediction=prediction,
    default_data=DEFAULT_DATA,
    make_data="twinport data moving-mnist",
    pitfalls=CATALOGUE,
    mutants="chainer_port.mutants.convlstm",
    suite={"preset": "tiny", "batch_size": 2, "steps": 2},
)

__all__ = ["FRAMES", "LOSS", "PAIR", "PRESETS", "Preset", "build_spec"]
