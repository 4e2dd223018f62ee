"""The map from the VPN pair to its original code, o-tawab/Video-Pixel-Networks (`model.py`
with `layers.py` and `logger.py`), as `twinport parity original` runs it (docs/models/vpn.md,
"Against the original code").

`VideoPixelNetworkModel(config)` is built with the preset's sizes as config.py's classes hold
them; its training graph is fed the pair's training frames (T .. 2T) and, as its
`initial_lstm_state`, the reference's warm-up state: trainer.py computes that state in a run
of its own, which the reference's `warmup/...` taps are. Compared: every block's output at
every step, the LSTM's states, the logits and the loss.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any

import numpy as np

from spec.original import OriginalCode, Patch
from spec.vpn.graph import FRAMES, LOSS, warmup_state
from spec.vpn.presets import Preset

SOURCE = "o-tawab/Video-Pixel-Networks (model.py, layers.py, logger.py)"
FILES = ("model.py", "layers.py", "logger.py")
ENCODER = "resolution_preserving_cnn_encoders"
DECODER = "pixel_cnn_decoders"


def patches(preset: Preset) -> tuple[Patch, ...]:
    """`weights *= mask` on a variable: TF1's reference variables returned a new tensor (the
    masked kernel, what the code means); TF2's resource variables refuse `*=`."""
    return (Patch("layers.py", "weights *= tf.constant(mask, dtype=tf.float32)",
                  "weights = weights * tf.constant(mask, dtype=tf.float32)",
                  "`*=` on a resource variable: the masked kernel as a new tensor, as TF1 "
                  "made it"),)


def config(preset: Preset) -> types.SimpleNamespace:
    """A config.py class's fields at the preset's sizes."""
    p = preset
    return types.SimpleNamespace(
        input_shape=[p.image_width, p.image_width, 1], rmb_c=p.rmb_c,
        encoder_rmb_num=p.encoder_rmb_num, encoder_rmb_dilation=bool(p.encoder_dilation),
        encoder_rmb_dilation_scheme=list(p.encoder_dilation) or [1, 2, 4, 8],
        decoder_rmb_num=p.decoder_rmb_num, conv_lstm_filters=p.conv_lstm_filters,
        truncated_steps=p.truncated_steps, learning_rate=p.lr)


def build(tf: Any, load: Any, inputs: Mapping[str, Any], preset: Preset, training: bool
          ) -> dict[str, Any]:
    """The training graph's logits per step, its last LSTM state and its loss."""
    vpn = load("model").VideoPixelNetworkModel(config(preset))
    steps = preset.truncated_steps
    found = {LOSS: vpn.loss, f"lstm_{steps - 1}": tf.concat(list(vpn.final_lstm_state), 3)}
    for t in range(steps):
        found[f"decoder_{t}/logits"] = vpn.output[:, t]
    return found


def _scope(template: str, t: int) -> str:
    """The name scope of a template's call t: `training_graph/vpn_encoder`, `..._1`, ..."""
    return f"training_graph/{template}" + (f"_{t}" if t else "")


def tensors(preset: Preset, training: bool) -> dict[str, str]:
    """Every block's output by the original graph's tensor names (an RMB's residual `Add`)."""
    found = {}
    for t in range(preset.truncated_steps):
        encoder, decoder = _scope("vpn_encoder", t), _scope("vpn_decoder", t)
        for i in range(preset.encoder_rmb_num):
            found[f"encoder_{t}/rmb_{i}"] = (
                f"{encoder}/{ENCODER}/residual_multiplicative_block_without_mask_{i}/Add:0")
        found[f"decoder_{t}/rmb_00"] = (
            f"{decoder}/{DECODER}/residual_multiplicative_block_without_mask_00/Add:0")
        for k in range(1, preset.decoder_rmb_num - 1):
            found[f"decoder_{t}/rmb_{k}"] = (
                f"{decoder}/{DECODER}/residual_multiplicative_block_with_mask_{k}/Add:0")
    return found


def feeds(preset: Preset, inputs: Mapping[str, np.ndarray], taps: Mapping[str, np.ndarray],
          training: bool) -> dict[str, np.ndarray]:
    """trainer.py's second run: the training frames and the warm-up's state as (c, h)."""
    steps, width = preset.truncated_steps, preset.conv_lstm_filters
    state = taps[warmup_state(steps)]
    return {"inputs/sequences:0": inputs[FRAMES][:, steps:],
            "inputs/initial_lstm_state:0": np.stack([state[..., :width], state[..., width:]])}


ORIGINAL = OriginalCode(source=SOURCE, files=FILES, flags=lambda preset, training: {},
                        build=build, tensors=tensors, feeds=feeds, patches=patches)
