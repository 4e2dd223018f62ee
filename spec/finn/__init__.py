"""Finn, Goodfellow & Levine's action-conditioned video predictor (NIPS 2016; seed 001), its
three variants as three twin pairs: `--model cdna`, `--model dna`, `--model stp`.

Inputs: `images` [B, L >= seq_len, data_size, data_size, channels] in [0, 1], `actions`
[B, L, action_dim], `states` [B, L, state_dim], and `iter_num` [B, 1] (the training iteration,
which the TF code feeds its scheduled sampling through a placeholder; every row the same).
Noise: `schedule` [B, sampled steps], uniform: at each step after the warm start, the TF
code's `tf.random_shuffle` of the batch is the order of this column, drawn by the harness and
fed to both twins. The loss `model/loss`; Adam 1e-3. The graph is `build_spec(preset)`
(spec/finn/graph.py); the twins are `tf_reference/finn.py` and `chainer_port/finn.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from spec.finn.data import batches, check_data
from spec.finn.graph import (
    ACTIONS,
    FRAMES,
    IMAGES,
    ITER_NUM,
    LOSS,
    PSNR,
    SCHEDULE,
    STATES,
    build_spec,
    name,
    output,
)
from spec.finn.original import ORIGINAL
from spec.finn.pitfalls import CATALOGUES
from spec.finn.presets import Preset, variant_presets
from spec.pair import InputSpec, NoiseSpec, Optimizer, TwinPair

DEFAULT_DATA = "data/generated/pushing"


def inputs(preset: Preset) -> tuple[InputSpec, ...]:
    size, frames = preset.data_size, preset.seq_len
    return (
        InputSpec(IMAGES, ("seq_len", "height", "width", "channels"),
                  (None, size, size, preset.channels),
                  minimum=(frames, size, size, preset.channels)),
        InputSpec(ACTIONS, ("seq_len", "action"), (None, preset.action_dim),
                  minimum=(frames, preset.action_dim), value_range=None),
        InputSpec(STATES, ("seq_len", "state"), (None, preset.state_dim),
                  minimum=(frames, preset.state_dim), value_range=None),
        InputSpec(ITER_NUM, ("iteration",), (1,), differentiable=False, value_range=None,
                  default=0.0),
    )


def noise(preset: Preset) -> tuple[NoiseSpec, ...]:
    return (NoiseSpec(SCHEDULE, lambda p, shapes: (shapes[IMAGES][0], p.sampled_steps),
                      draw="uniform"),)


def sample(preset: Preset, inputs: Mapping[str, np.ndarray],
           reference: Mapping[str, np.ndarray], port: Mapping[str, np.ndarray]
           ) -> dict[str, np.ndarray] | None:
    """The last context frame and both first predictions, in [0, 1]; None when the port has
    no prediction of the reference's shape."""
    first = output(preset.context_frames - 1)
    if first not in port or port[first].shape != reference[first].shape:
        return None
    return {"last_context_frame": np.clip(reference[FRAMES][0, preset.context_frames - 1], 0, 1),
            "tf_prediction": np.clip(reference[first][0], 0.0, 1.0),
            "port_prediction": np.clip(port[first][0], 0.0, 1.0)}


def prediction(preset: Preset, tap: Callable[[str], np.ndarray]) -> np.ndarray:
    """The predicted frames after the context [B, seq_len - context_frames, H, W, C]."""
    return np.stack([tap(output(t)) for t in range(preset.context_frames - 1, preset.steps)],
                    axis=1)


TITLES = {"cdna": "CDNA", "dna": "DNA", "stp": "STP"}


def make_pair(transform: str) -> TwinPair:
    """The pair of one variant; its twins are the variant's classes in both twin modules."""
    model = f"{TITLES[transform]}Model"
    return TwinPair(
        name=transform,
        title=f"Finn et al. 2016, {TITLES[transform]} (seed 001)",
        presets=variant_presets(transform),
        build=build_spec,
        inputs=inputs,
        noise=noise,
        loss=LOSS,
        losses={"loss": LOSS, "psnr_all": PSNR},
        optimizer=Optimizer("adam", lambda step: 1e-3, "Adam, lr 1e-3 (TF1's AdamOptimizer)"),
        twins={"tf": f"tf_reference.finn:{model}", "chainer": f"chainer_port.finn:{model}"},
        batches=batches,
        check_data=check_data,
        named_taps={"output": output(0), "loss": LOSS},
        sample=sample,
        sample_caption=("The last context frame, the TF and port first predicted frames, and "
                         "their difference."),
        prediction=prediction,
        default_data=DEFAULT_DATA,
        make_data="twinport data pushing",
        pitfalls=CATALOGUES[transform],
        mutants=f"chainer_port.mutants.finn.{transform}",
        suite={"preset": "tiny", "batch_size": 2, "steps": 2},
        original=ORIGINAL,
    )


CDNA_PAIR, DNA_PAIR, STP_PAIR = (make_pair(transform) for transform in ("cdna", "dna", "stp"))

__all__ = ["CDNA_PAIR", "DNA_PAIR", "FRAMES", "LOSS", "STP_PAIR", "Preset", "build_spec",
           "name"]
