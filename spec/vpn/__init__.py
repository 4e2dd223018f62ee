"""Video Pixel Networks (seed 004): o-tawab/Video-Pixel-Networks' VPN as a twin pair, built
after what its code computes (docs/models/vpn.md).

One input, `frames` [B, 2T + 1, W, W, 1], raw intensities 0 .. 255; no noise; the loss
`loss`, the mean softmax cross-entropy over 256 intensity classes; TF1's RMSProp at 3e-4.
The graph is `build_spec(preset)`; the twins are `tf_reference/vpn.py` and
`chainer_port/vpn.py`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from spec.dataset_check import check_split
from spec.pair import Autoregressive, InputSpec, Optimizer, TwinPair
from spec.vpn.data import batches, frame_problems
from spec.vpn.graph import FRAMES, LOSS, build_spec
from spec.vpn.original import ORIGINAL
from spec.vpn.pitfalls import CATALOGUE
from spec.vpn.presets import PRESETS, Preset

DEFAULT_DATA = "data/generated/moving-mnist"


def inputs(preset: Preset) -> tuple[InputSpec, ...]:
    size = preset.image_width
    return (InputSpec(FRAMES, ("seq_len", "height", "width", "channels"),
                      (preset.seq_len, size, size, 1), value_range=(0.0, 255.0)),)


def check_data(data: str, split: str, preset: Preset, batch_size: int) -> None:
    check_split(data, split, preset, batch_size, frame_problems)


def autoregressive(preset: Preset) -> tuple[Autoregressive, ...]:
    """Step t's logits and the frame they predict, the decoder's masked input; the encoder
    state through the decoder's unmasked block is given (trainer.py's test runs the encoder
    once a frame, the decoder once a pixel)."""
    steps = preset.truncated_steps
    return tuple(Autoregressive(f"decoder_{t}/logits", FRAMES, (steps + t + 1,),
                                given=(f"decoder_{t}/rmb_00",)) for t in range(steps))


def prediction(preset: Preset, tap: Callable[[str], np.ndarray]) -> np.ndarray:
    """Each training step's most likely intensities [B, T, W, W, 1] (the argmax of its
    logits, given the true frame: the teacher-forced prediction)."""
    steps = [np.argmax(tap(f"decoder_{t}/logits"), axis=-1)[..., None]
             for t in range(preset.truncated_steps)]
    return np.stack(steps, axis=1).astype(np.float32)


PAIR = TwinPair(
    name="vpn",
    title="Video Pixel Networks (Kalchbrenner et al. 2016, o-tawab/Video-Pixel-Networks, "
          "seed 004)",
    presets=PRESETS,
    build=build_spec,
    inputs=inputs,
    noise=lambda preset: (),
    loss=LOSS,
    losses={"loss": LOSS},
    optimizer=Optimizer("rmsprop", lambda step: 3e-4, "TF1's RMSPropOptimizer(3e-4): decay "
                        "0.9, epsilon 1e-10, mean square from ones"),
    twins={"tf": "tf_reference.vpn:VPNModel", "chainer": "chainer_port.vpn:VPNModel"},
    batches=batches,
    check_data=check_data,
    named_taps={"output": "decoder_0/logits", "loss": LOSS},
    prediction=prediction,
    default_data=DEFAULT_DATA,
    make_data="twinport data moving-mnist",
    pitfalls=CATALOGUE,
    mutants="chainer_port.mutants.vpn",
    suite={"preset": "tiny", "batch_size": 2, "steps": 2},
    # `full`'s train step takes minutes on 2 cores; `micro` is the code's smallest config.
    bench_preset="micro",
    original=ORIGINAL,
    autoregressive=autoregressive,
)

__all__ = ["FRAMES", "LOSS", "PAIR", "PRESETS", "Preset", "build_spec"]
