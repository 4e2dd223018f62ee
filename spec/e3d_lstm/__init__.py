"""E3D-LSTM (seed 003): google/e3d_lstm's Eidetic 3D LSTM as a twin pair, built after what its
code computes (docs/models/e3d_lstm.md).

Inputs: `frames` [B, L >= total_length, W, W, C] in [0, 1] and `eta` [B, 1], scheduled
sampling's probability of the true frame; noise: `sampling_coins` [B, output_length - 1],
uniform, the coin of each sample and generated step (`np.random.random_sample` in run.py):
the true frame where coin < eta. The loss `loss` (the code's: l2_loss + L1 sum over the
batch, which its gradients differentiate) and `loss_train` (divided by the batch, what it
prints); its own Adam and EMA (`spec.e3d_lstm.optimizer`). The graph is `build_spec(preset)`;
the twins are `tf_reference/e3d_lstm.py` and `chainer_port/e3d_lstm.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from spec.dataset_check import check_split
from spec.e3d_lstm.data import batches, frame_problems
from spec.e3d_lstm.graph import (
    COINS,
    ETA,
    FRAMES,
    IMAGES,
    LOSS,
    LOSS_TRAIN,
    build_spec,
    input_frame,
    x_gen,
)
from spec.e3d_lstm.optimizer import E3D_ADAM
from spec.e3d_lstm.original import ORIGINAL
from spec.e3d_lstm.pitfalls import CATALOGUE
from spec.e3d_lstm.presets import PRESETS, Preset
from spec.pair import InputSpec, NoiseSpec, Optimizer, TwinPair

DEFAULT_DATA = "data/generated/moving-mnist"


def inputs(preset: Preset) -> tuple[InputSpec, ...]:
    size, channels = preset.image_width, preset.img_channel
    return (InputSpec(FRAMES, ("seq_len", "height", "width", "channels"),
                      (preset.total_length, size, size, channels)),
            InputSpec(ETA, ("eta",), (1,), differentiable=False, default=0.0))


def noise(preset: Preset) -> tuple[NoiseSpec, ...]:
    return (NoiseSpec(COINS, lambda p, shapes: (shapes[FRAMES][0], p.output_length - 1),
                      draw="uniform"),)


def check_data(data: str, split: str, preset: Preset, batch_size: int) -> None:
    check_split(data, split, preset, batch_size, frame_problems)


def reshape_patch_back(patches: np.ndarray, patch: int) -> np.ndarray:
    """preprocess.reshape_patch_back: [..., g, g, patch^2 C] -> [..., g patch, g patch, C]."""
    *lead, grid, _, channels = patches.shape
    c = channels // (patch * patch)
    a = patches.reshape(*lead, grid, grid, patch, patch, c)
    n = len(lead)
    b = a.transpose(*range(n), n, n + 2, n + 1, n + 3, n + 4)
    return b.reshape(*lead, grid * patch, grid * patch, c)


def prediction(preset: Preset, tap: Callable[[str], np.ndarray]) -> np.ndarray:
    """The predicted frames after the input [B, output_length, W, W, C] (the code's
    `out_ims`, patches put back as trainer.test does)."""
    frames = [tap(x_gen(t)) for t in range(preset.input_length - 1, preset.steps)]
    return reshape_patch_back(np.stack(frames, axis=1), preset.patch)


def batch_psnr(gen_frames: np.ndarray, gt_frames: np.ndarray) -> float:
    """trainer.batch_psnr: uint8 frames compared as int32, the MSE per sample in float32 over
    its pixels, 20 log10(255) - 10 log10(mse), the mean over the batch (inf where equal)."""
    x, y = np.int32(gen_frames), np.int32(gt_frames)
    mse = np.sum((x - y) ** 2, axis=tuple(range(1, x.ndim)), dtype=np.float32) / float(
        np.size(gen_frames[0]))
    with np.errstate(divide="ignore"):
        return float(np.mean(20 * np.log10(255) - 10 * np.log10(mse)))


def metrics(preset: Preset, inputs: Mapping[str, np.ndarray], predicted: np.ndarray
            ) -> dict[str, np.ndarray]:
    """trainer.test's numbers of one batch: per predicted frame, the squared error of the
    prediction clipped to [0, 1] summed over its pixels and averaged over the batch, and
    batch_psnr of both as uint8 (`np.uint8(x * 255)`, truncating); `mse_per_seq` their sum,
    `psnr` the mean over frames."""
    target = inputs[FRAMES][:, preset.input_length:]
    clipped = np.clip(predicted, 0, 1)
    mse = np.square(target - clipped).sum(axis=(2, 3, 4)).mean(axis=0)
    psnr = np.array([batch_psnr(np.uint8(clipped[:, i] * 255), np.uint8(target[:, i] * 255))
                     for i in range(preset.output_length)])
    return {"mse_per_frame": mse, "mse_per_seq": mse.sum(), "psnr_per_frame": psnr,
            "psnr": psnr.mean()}


def sample(preset: Preset, inputs: Mapping[str, np.ndarray],
           reference: Mapping[str, np.ndarray], port: Mapping[str, np.ndarray]
           ) -> dict[str, np.ndarray] | None:
    """The last input frame and both first predicted frames (clipped to [0, 1] as
    trainer.test does); None when the port has no prediction of the reference's shape."""
    first = x_gen(preset.input_length - 1)
    if first not in port or port[first].shape != reference[first].shape:
        return None

    def image(value: np.ndarray) -> np.ndarray:
        return np.clip(reshape_patch_back(value[0], preset.patch), 0.0, 1.0)

    return {"last_input_frame": image(reference[input_frame(preset.input_length - 1)]),
            "tf_prediction": image(reference[first]), "port_prediction": image(port[first])}


PAIR = TwinPair(
    name="e3d_lstm",
    title="E3D-LSTM (Wang et al. 2019, google/e3d_lstm, seed 003)",
    presets=PRESETS,
    build=build_spec,
    inputs=inputs,
    noise=noise,
    loss=LOSS,
    losses={"loss": LOSS_TRAIN},
    optimizer=Optimizer(E3D_ADAM, lambda step: 1e-3, "the code's adam_updates (mom1 0.95, "
                        "mom2 0.9995, eps inside the sqrt), lr 1e-3, and an EMA 0.9995"),
    twins={"tf": "tf_reference.e3d_lstm:E3DLSTMModel",
           "chainer": "chainer_port.e3d_lstm:E3DLSTMModel"},
    batches=batches,
    check_data=check_data,
    named_taps={"output": x_gen(0), "loss": LOSS},
    sample=sample,
    sample_caption=("The last input frame, the TF and port first predicted frames (grey), and "
                     "their difference."),
    prediction=prediction,
    metrics=metrics,
    default_data=DEFAULT_DATA,
    make_data="twinport data moving-mnist",
    pitfalls=CATALOGUE,
    mutants="chainer_port.mutants.e3d_lstm",
    suite={"preset": "tiny", "batch_size": 2, "steps": 2},
    # `paper`: the benchmark's three workers hold about 9 GB each at once (the third was
    # killed for memory on a 23 GB machine); `small` is the paper's cell at 16 channels.
    bench_preset="small",
    original=ORIGINAL,
)

__all__ = ["FRAMES", "IMAGES", "LOSS", "PAIR", "PRESETS", "Preset", "build_spec"]
