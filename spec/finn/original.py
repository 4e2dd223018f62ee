"""The map from the Finn pairs to their original code: tensorflow/models
research/video_prediction (`prediction_model.py` with its `lstm_ops.py`, and
research/transformer's `spatial_transformer.py` for STP), as `twinport parity original` runs
it (docs/models/finn.md, "Against the original code").

`construct_model` is called as prediction_train.py's `Model` calls it, inside the `model`
variable scope; the loss and psnr_all are that `Model`'s (rebuilt here: prediction_train.py
also builds the TFRecord pipeline). Training mode passes the preset's `schedsamp_k`; inference
passes k = -1 (the prediction fed back), as the pairs do.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from spec.finn.graph import (
    ACTIONS,
    FRAMES,
    IMAGES,
    ITER_NUM,
    LOSS,
    PSNR,
    SCHEDULE,
    STATES,
    output,
    state_pred,
)
from spec.finn.graph import name as tap
from spec.finn.presets import NEWER, OLDER, Preset
from spec.original import OriginalCode, Patch

SOURCE = ("tensorflow/models research/video_prediction (prediction_model.py, lstm_ops.py) "
          "and research/transformer/spatial_transformer.py")
FILES = ("prediction_model.py", "lstm_ops.py", "spatial_transformer.py")
# The code's hard-coded sizes, which the paper presets share.
CODE_LSTM_SIZES = (32, 32, 64, 64, 128, 64, 32)
CODE_LSTM_KERNEL = 5
CODE_STP_HIDDEN = 100


def patches(preset: Preset) -> tuple[Patch, ...]:
    """`transformer` is called without its required `out_size` (it cannot run as published);
    the tiny presets' sizes replace the code's hard-coded ones."""
    found = [Patch("prediction_model.py", "transformer(prev_image, params)",
                   "transformer(prev_image, params, prev_image.get_shape().as_list()[1:3])",
                   "spatial_transformer.transformer requires out_size: the image's own")]
    if preset.lstm_sizes != CODE_LSTM_SIZES:
        found.append(Patch("prediction_model.py", f"np.array({list(CODE_LSTM_SIZES)})",
                           f"np.array({list(preset.lstm_sizes)})",
                           f"the preset's lstm_sizes {preset.lstm_sizes}"))
    if preset.lstm_kernel != CODE_LSTM_KERNEL:
        found.append(Patch("lstm_ops.py", f"filter_size={CODE_LSTM_KERNEL},",
                           f"filter_size={preset.lstm_kernel},",
                           f"the preset's lstm_kernel {preset.lstm_kernel}"))
    if preset.stp_hidden != CODE_STP_HIDDEN:
        found.append(Patch("prediction_model.py", f"stp_input0, {CODE_STP_HIDDEN}, scope",
                           f"stp_input0, {preset.stp_hidden}, scope",
                           f"the preset's stp_hidden {preset.stp_hidden}"))
    return tuple(found)


def flags(preset: Preset, training: bool) -> dict[str, Any]:
    """The deterministic model (the stochastic latent tower is not part of the pairs)."""
    return {"stochastic_model": False}


def _mse(tf: Any, true: Any, pred: Any) -> Any:
    """prediction_train.py's mean_squared_error."""
    return tf.reduce_sum(tf.square(true - pred)) / tf.to_float(tf.size(pred))


def build(tf: Any, load: Any, inputs: Mapping[str, Any], preset: Preset, training: bool
          ) -> dict[str, Any]:
    """construct_model on the pair's frames, actions, states and iteration; the predicted
    frames and states, the loss and psnr_all."""
    p = preset
    model = load("prediction_model")
    images = tf.unstack(inputs[IMAGES], axis=1)
    actions = tf.unstack(inputs[ACTIONS][:, :p.seq_len], axis=1)
    states = tf.unstack(inputs[STATES][:, :p.seq_len], axis=1)
    with tf.variable_scope("model", reuse=None):
        gen_images, gen_states, *_ = model.construct_model(
            images, actions, states, iter_num=inputs[ITER_NUM][0, 0],
            k=p.schedsamp_k if training else -1, use_state=p.use_state, num_masks=p.num_masks,
            stp=p.transform == "stp", cdna=p.transform == "cdna", dna=p.transform == "dna",
            context_frames=p.context_frames)
    first = p.context_frames
    loss, psnr = 0.0, 0.0
    for x, gx in zip(images[first:], gen_images[first - 1:], strict=True):
        error = _mse(tf, x, gx)
        loss += error
        psnr += 10.0 * tf.log(1.0 / error) / tf.log(10.0)
    for state, gen_state in zip(states[first:], gen_states[first - 1:], strict=True):
        loss += _mse(tf, state, gen_state) * p.state_cost
    loss /= np.float32(len(images) - first)
    return {**{output(t): x for t, x in enumerate(gen_images)},
            **{state_pred(t): s for t, s in enumerate(gen_states)}, LOSS: loss, PSNR: psnr}


def _scope(scope: str, t: int) -> str:
    """The name scope of a reused variable scope at step t: `model/state1`, `model/state1_1`."""
    return f"model/{scope}" if t == 0 else f"model/{scope}_{t}"


def tensors(preset: Preset, training: bool) -> dict[str, str]:
    """Every step's intermediates the pair taps, by the original graph's tensor names (each
    slim layer's last op: `Relu` where it has an activation, `BiasAdd` or the conv where not;
    a ConvLSTM's state is its `concat_1`, its hidden state `mul_2`; a layer norm's output
    `batchnorm/add_1`)."""
    p, found = preset, {}
    activation = "Relu" if p.slim_relus else "BiasAdd"
    for t in range(p.steps):
        def at(scope: str, op: str, step: int = t) -> str:
            return f"{_scope(scope, step)}/{op}:0"

        found[tap("scale1_conv1", t)] = at("scale1_conv1", "Conv2D")
        found[tap("scale1_conv1/layer_norm1", t)] = at("scale1_conv1", "Relu")
        for cell in range(1, 8):
            found[tap(f"state{cell}", t)] = at(f"state{cell}", "concat_1")
            found[tap(f"state{cell}", t, "/h")] = at(f"state{cell}", "mul_2")
        for norm in range(2, 9):
            found[tap(f"layer_norm{norm}", t)] = at(f"layer_norm{norm}", "batchnorm/add_1")
        for conv in ("conv2", "conv3", "conv4", "convt1", "convt2"):
            found[tap(conv, t)] = at(conv, "Relu")
        found[tap("convt3", t)] = at("convt3", "conv2d_transpose")
        found[tap("convt3/layer_norm9", t)] = at(
            "convt3", "Relu" if p.slim_relus else "layer_norm9/batchnorm/add_1")
        found[tap("convt4", t)] = at("convt4", activation)
        found[tap("convt7", t)] = at("convt7", activation)
        if p.transform == "cdna":
            found[tap("cdna_params", t)] = at("cdna_params", "BiasAdd")
        if p.transform == "stp":
            found[tap("fc_stp", t)] = at("fc_stp", "Relu")
        sampled = t - p.context_frames
        if training and sampled >= 0:
            found[tap("prev_image", t)] = (f"model/DynamicStitch{f'_{sampled}' if sampled else ''}"
                                           ":0")
    return found


def noise(preset: Preset, values: Mapping[str, np.ndarray], training: bool
          ) -> dict[str, np.ndarray]:
    """`scheduled_sample`'s `tf.random_shuffle` of each sampled step (training only): the
    order of the harness's `schedule` column, as the pairs read it."""
    if not training:
        return {}
    order = np.argsort(values[SCHEDULE], axis=0, kind="stable").astype(np.int32)
    return {f"model/RandomShuffle{f'_{s}' if s else ''}:0": order[:, s]
            for s in range(preset.sampled_steps)}


def version(preset: Preset) -> str:
    return preset.code_version


def detect(folder: Path) -> str | None:
    """69cc9e9 or 8699e3b by prediction_model.py's convt7: the newer passes activation_fn=None."""
    text = (folder / "prediction_model.py").read_text()
    if "scope='convt7', activation_fn=None)" in text:
        return NEWER
    return OLDER if "scope='convt7')" in text else None


ORIGINAL = OriginalCode(source=SOURCE, files=FILES, flags=flags, build=build, tensors=tensors,
                        noise=noise, patches=patches, fed_taps={IMAGES: FRAMES},
                        version=version, detect=detect)
