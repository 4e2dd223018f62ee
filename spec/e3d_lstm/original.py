"""The map from the E3D-LSTM pair to its original code, google/e3d_lstm
(`src/layers/rnn_cell.py`, `src/models/eidetic_3d_lstm_net.py`), as `twinport parity
original` runs it (docs/models/e3d_lstm.md, "Against the original code").

`rnn` is called as model_factory.py's `Model` calls it, on the pair's `images` tap (the code's
reshape_patch is numpy before its feed) and a `real_input_flag` made from the harness's coins
as run.py's schedule_sampling makes it (1 where the coin < eta, over the whole frame). The
cell's `__call__` and `_attn` are wrapped as loaded, so every cell's output, new cell and
recall at every step is compared, not only the frames; `loss_train` is the Model's loss
divided by the batch. The code's hard-coded kernel and window, and the preset's paper-side
quirk fields, are patches.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any

import numpy as np

from spec.e3d_lstm.graph import COINS, ETA, FRAMES, IMAGES, LOSS, LOSS_TRAIN, tap, x_gen
from spec.e3d_lstm.presets import Preset
from spec.original import OriginalCode, Patch

SOURCE = "google/e3d_lstm (src/layers/rnn_cell.py, src/models/eidetic_3d_lstm_net.py)"
FILES = ("src/layers/rnn_cell.py", "src/models/eidetic_3d_lstm_net.py")
COINS_TENSOR = "twinport_coins"
CODE_KERNEL = (2, 5, 5)
CODE_WINDOW = 2


def patches(preset: Preset) -> tuple[Patch, ...]:
    """The preset's sizes where the code hard-codes them, and its paper-side quirk fields."""
    p, found = preset, []
    if p.kernel != CODE_KERNEL:
        found.append(Patch("eidetic_3d_lstm_net.py", f"kernel_shape={list(CODE_KERNEL)})",
                           f"kernel_shape={list(p.kernel)})", f"the preset's kernel {p.kernel}"))
    if p.window != CODE_WINDOW:
        found.append(Patch("eidetic_3d_lstm_net.py", f"window_length = {CODE_WINDOW}",
                           f"window_length = {p.window}", f"the preset's window {p.window}"))
    if p.global_memory == "new":
        found.append(Patch("rnn_cell.py", "return output, new_cell, global_memory",
                           "return output, new_cell, new_global_memory",
                           "global_memory 'new': the cell passes on its new global memory"))
    if p.output_gate == "sigmoid":
        found.append(Patch("rnn_cell.py", "output_gate = tf.tanh(o_x + o_h + o_c + o_m)",
                           "output_gate = o_x + o_h + o_c + o_m",
                           "output_gate 'sigmoid': no tanh before the output's sigmoid"))
    if p.forget_bias != 1.0:
        found.append(Patch("rnn_cell.py", "forget_bias=1.0,", f"forget_bias={p.forget_bias},",
                           f"the preset's forget_bias {p.forget_bias}"))
    return tuple(found)


def build(tf: Any, load: Any, inputs: Mapping[str, Any], preset: Preset, training: bool
          ) -> dict[str, Any]:
    """rnn(images, real_input_flag, ...) with every cell call and attention recorded."""
    p = preset
    cell_class = load("src.layers.rnn_cell").EideticLSTMCell
    net = load("src.models.eidetic_3d_lstm_net")
    calls, recalls = [], []
    call, attn = cell_class.__call__, cell_class._attn

    def recorded_call(self: Any, *args: Any) -> Any:
        output, cell, memory = call(self, *args)
        calls.append((output, cell))
        return output, cell, memory

    def recorded_attn(self: Any, *args: Any) -> Any:
        recalls.append(attn(self, *args))
        return recalls[-1]

    cell_class.__call__, cell_class._attn = recorded_call, recorded_attn
    images = inputs[FRAMES]
    batch, _, width, height, channels = images.shape
    coins = tf.placeholder(tf.float32, [batch, p.output_length - 1], name=COINS_TENSOR)
    flag = tf.cast(coins < inputs[ETA], tf.float32)[:, :, None, None, None]
    real_input_flag = flag * tf.ones([batch, p.output_length - 1, width, height, channels])
    configs = types.SimpleNamespace(total_length=p.total_length, input_length=p.input_length)
    out_ims, loss = net.rnn(images, real_input_flag, len(p.num_hidden), list(p.num_hidden),
                            configs)
    found = {LOSS: loss, LOSS_TRAIN: loss / batch}
    layers = len(p.num_hidden)
    for k, ((output, cell), recall) in enumerate(zip(calls, recalls, strict=True)):
        t, i = divmod(k, layers)
        found.update({tap(i, t): output, tap(i, t, "cell"): cell, tap(i, t, "recall"): recall})
    for j in range(p.output_length):
        found[x_gen(p.input_length - 1 + j)] = out_ims[:, j]
    return found


def noise(preset: Preset, values: Mapping[str, np.ndarray], training: bool
          ) -> dict[str, np.ndarray]:
    """The coins run.py draws with `np.random.random_sample`, the harness's."""
    return {f"{COINS_TENSOR}:0": values[COINS]}


ORIGINAL = OriginalCode(source=SOURCE, files=FILES, flags=lambda preset, training: {},
                        build=build, tensors=lambda preset, training: {}, noise=noise,
                        patches=patches, fed_taps={FRAMES: IMAGES})
