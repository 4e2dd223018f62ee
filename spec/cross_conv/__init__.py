"""The Cross Convolutional Network (Xue et al., NIPS 2016; seed 000) as a twin pair.

The graph is `build_spec(preset)`; one input, `frames` [B, L, H, W, C] in [0, 1]; one noise,
the VAE's `epsilon` [B * (L - 1), z_dim]; the loss `loss/loss` = l2 + KL; the seed's SGD with
its exponential decay. The twins are `tf_reference/cross_conv.py` and
`chainer_port/cross_conv.py`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from common.paths import DEFAULT_DATASET
from data import WHOLE, Dataset, Part
from spec.cross_conv.data import frame_problems
from spec.cross_conv.graph import (
    EPSILON,
    FRAMES,
    KERNEL_SAMPLE,
    KL_LOSS,
    L2_LOSS,
    LOSS,
    Z_MEAN,
    Z_STDDEV_LOG,
    build_spec,
)
from spec.cross_conv.pitfalls import CATALOGUE
from spec.cross_conv.presets import PRESETS, Preset, get_preset
from spec.cross_conv.schedule import learning_rate
from spec.dataset_check import check_split
from spec.pair import InputSpec, NoiseSpec, Optimizer, TwinPair

# The prediction (the seed's `diff_output`): the decoder's last conv in every preset.
OUTPUT = "Conv_2"
# One uint8 step: flat regions of synthetic frames (the moving-objects background) give
# max-pool windows whose values are equal up to float rounding; see parity.inputs.
DITHER = 1.0 / 255.0


def inputs(preset: Preset) -> tuple[InputSpec, ...]:
    smallest = min(preset.levels)
    return (InputSpec(FRAMES, ("seq_len", "height", "width", "channels"),
                      (None, None, None, preset.channels),
                      minimum=(2, smallest, smallest, preset.channels), dither=DITHER),)


def pair_rows(preset: Preset, shapes: Mapping[str, tuple[int, ...]]) -> int:
    """B * (L - 1): the seed stacks the L - 1 frame pairs of every sample on the batch axis."""
    batch, length = shapes[FRAMES][:2]
    return batch * (length - 1)


def batch_sizes(preset: Preset, shapes: Mapping[str, tuple[int, ...]]) -> dict[str, int]:
    return {"B": shapes[FRAMES][0], "B'": pair_rows(preset, shapes)}


def noise(preset: Preset) -> tuple[NoiseSpec, ...]:
    return (NoiseSpec(EPSILON, lambda p, shapes: (pair_rows(p, shapes), p.z_dim)),)


def batches(data: str, split: str, batch_size: int, seed: int, start_step: int = 0,
            preset: Any = None, part: Part = WHOLE) -> Iterator[dict[str, np.ndarray]]:
    for frames in Dataset(data, split).batches(batch_size, seed, start_step=start_step,
                                                       part=part):
        yield {FRAMES: frames}


def check_data(data: str, split: str, preset: Preset, batch_size: int) -> None:
    check_split(data, split, preset, batch_size, frame_problems)


def sample(preset: Preset, inputs: Mapping[str, np.ndarray],
           reference: Mapping[str, np.ndarray], port: Mapping[str, np.ndarray]
           ) -> dict[str, np.ndarray] | None:
    """Frame, true next frame and both predicted next frames of the first pair, in [0, 1];
    None when the port has no output of the reference's shape."""
    size, scale, out = preset.target_size, preset.scale, OUTPUT
    if out not in port or port[out].shape != reference[out].shape:
        return None
    image = reference[f"image_{size}"][0]

    def next_frame(shifted_diff: np.ndarray) -> np.ndarray:
        return np.clip((image + shifted_diff * 2.0 - scale) / scale, 0.0, 1.0)

    return {"frame": np.clip(image / scale, 0.0, 1.0),
            "true_next_frame": next_frame(reference[f"diff_{size}"][0]),
            "tf_prediction": next_frame(reference[out][0]),
            "port_prediction": next_frame(port[out][0])}


def eval_overrides(preset: Preset, means: Mapping[str, np.ndarray],
                   shapes: Mapping[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """The seed's eval: z_mean and z_stddev_log fixed at their means over training."""
    rows = pair_rows(preset, shapes)
    return {tap: np.broadcast_to(means[key], (rows, preset.z_dim)).astype(np.float32)
            for key, tap in (("z_mean", Z_MEAN), ("z_stddev_log", Z_STDDEV_LOG))}


PAIR = TwinPair(
    name="cross_conv",
    title="Cross Convolutional Network (Xue et al. 2016, seed 000)",
    presets=PRESETS,
    build=build_spec,
    inputs=inputs,
    noise=noise,
    loss=LOSS,
    losses={"loss": LOSS, "l2": L2_LOSS, "kl": KL_LOSS},
    optimizer=Optimizer("sgd", learning_rate,
                        "SGD, lr max(0.01, 0.8 * 0.5 ** (step / 10000))"),
    twins={"tf": "tf_reference.cross_conv:CrossConvModel",
           "chainer": "chainer_port.cross_conv:CrossConvModel"},
    batches=batches,
    check_data=check_data,
    batch_sizes=batch_sizes,
    named_taps={"output": OUTPUT, "z_mean": Z_MEAN, "z_stddev_log": Z_STDDEV_LOG,
                "kernel": KERNEL_SAMPLE, "loss": LOSS, "l2_loss": L2_LOSS, "kl_loss": KL_LOSS},
    step_outputs={"z_mean": Z_MEAN, "z_stddev_log": Z_STDDEV_LOG},
    sample=sample,
    sample_caption=("Input frame, true next frame, the TF and port predictions, and their "
                     "difference."),
    eval_overrides=eval_overrides,
    default_data=DEFAULT_DATASET,
    make_data="twinport data moving-objects",
    pitfalls=CATALOGUE,
    mutants="chainer_port.mutants.cross_conv",
    # Two steps: a mistake that hides in state (a gamma the interface cannot reset) shows at
    # the second. Step 15000: the learning-rate schedule's forms differ there (continuous
    # 0.283, staircase 0.4, per-update 0.8); at step 0 they agree.
    suite={"preset": "tiny", "batch_size": 2, "steps": 2, "start_step": 15000},
)

__all__ = ["EPSILON", "FRAMES", "LOSS", "PAIR", "PRESETS", "Preset", "build_spec", "get_preset",
           "learning_rate"]
