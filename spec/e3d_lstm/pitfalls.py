"""The E3D-LSTM's catalogue of TF -> Chainer porting pitfalls: one entry per mistake and its
mutant (a class in `chainer_port.mutants.e3d_lstm`). Figures quoted in `shows` are from the
suite's setting (`TwinPair.suite`: tiny, batch 2, 2 steps) on data/generated/moving-mnist.
The reverse of `global_memory` (the code's old memory where the paper's new one is wanted,
`OldGlobalMemory`) needs a preset of the paper's side; tests/test_e3d_lstm_pitfalls.py runs it.
"""

from __future__ import annotations

from spec.pitfall import Pitfall
from spec.section_keys import AFTER_TRAINING, FORWARD_E2E_INFERENCE

SCOPE = "generator/e3d-lstm"

CATALOGUE: tuple[Pitfall, ...] = (
    Pitfall(
        "kernel_depth_height", "the 3-D kernel's depth and height swapped",
        "tf.layers.conv3d's kernel is [depth, height, width, in, out]: [2, 5, 5] spans two "
        "frames of the window and 5x5 pixels.",
        "The kernel moved to Chainer as (out, in, h, d, w), or read back in that order: a "
        "5-deep, 2-high kernel over a 2-frame window.",
        "The first conv that sees a non-zero input fails first: the input gates of the first "
        "cell at step 0 (its hidden state is still zeros). No hint: a 5-deep kernel over 2 "
        "frames is not the reference's kernel moved, so its gradient is not the reference's "
        "permuted (a cubic kernel's would be: `kernel_axes_swapped`).",
        "`Transpose.KERNEL`: [d, h, w, in, out] <-> (out, in, d, h, w) for any rank.",
        "KernelDepthHeight", FORWARD_E2E_INFERENCE, f"{SCOPE}/e3d0_0/inputs"),
    Pitfall(
        "attention_softmax_axis", "the eidetic attention's softmax over the queries",
        "`tf.nn.softmax(q k^T, axis=2)`: each query position's weights over every recalled "
        "position sum to one.",
        "`F.softmax(scores, axis=1)`, Chainer's default axis: over the queries.",
        "At step 0 every key is the zero state, so the scores are all zero and either axis "
        "gives the same uniform weights over zero values; the first cell's recall at step 1 "
        "fails first (no hint: the weights are inside the recall, not a tap).",
        "axis=2 of the [B, queries, keys] scores.",
        "SoftmaxOverQueries", FORWARD_E2E_INFERENCE, f"{SCOPE}/e3d0_1/recall"),
    Pitfall(
        "history_not_accumulated", "c_history not accumulated",
        "`c_history = concat([c_history, cell], 1)` every step: the zero state and every cell "
        "state so far are the attention's keys and values.",
        "Only the cell state entering the step recalled, as an ordinary LSTM reads its state.",
        "At step 0 both recall the zero state; the first cell's recall at step 1 fails first.",
        "Feed the recall every earlier cell state (the layer's inputs) after the zero state.",
        "HistoryNotAccumulated", FORWARD_E2E_INFERENCE, f"{SCOPE}/e3d0_1/recall"),
    Pitfall(
        "global_memory_passed", "the new global memory passed on where the code passes the old",
        "The code's cell returns the global memory it was given (`return output, new_cell, "
        "global_memory`): the memory stays zeros (`Preset.global_memory` \"old\").",
        "The paper's zigzag memory: each cell's new global memory feeds the next cell.",
        "Layer 0 at step 0 reads zeros either way; the second cell's memory conv at step 0 "
        "fails first.",
        "Follow the preset's `global_memory`; the code's behaviour is \"old\".",
        "NewGlobalMemory", FORWARD_E2E_INFERENCE, f"{SCOPE}/e3d1_0/global_memory"),
    Pitfall(
        "layer_norm_channels", "layer norm over the channels only",
        "`tf.contrib.layers.layer_norm`: statistics over every axis but the batch (depth, "
        "height, width and channels), eps 1e-12.",
        "Chainer's `L.LayerNormalization` on each position's channels, eps 1e-5.",
        "The first normalised gate with a non-zero input fails first.",
        "`tf_video_ops.tf_layer_norm` over every axis but the batch (`TFCompat.layer_norm`).",
        "LayerNormChannels", FORWARD_E2E_INFERENCE, f"{SCOPE}/e3d0_0/inputs"),
    Pitfall(
        "window_late", "the window taken one frame late",
        "`input_list[t:]` of a list led by one zero frame: frames t - 1 and t.",
        "`input_list[t - 1:t + 1]`: frames t - 2 and t - 1, the current frame left out.",
        "The first window fails first; the isolated backward sees the port's gradient to "
        "input_0 at zero (`input_ignored`).",
        "Index the window from the padded list as the code does.",
        "WindowOneFrameLate", FORWARD_E2E_INFERENCE, f"{SCOPE}/window_0",
        hints=("input_ignored",)),
    Pitfall(
        "patch_order", "reshape_patch in NCHW order",
        "preprocess.reshape_patch: [B, L, H/p, p, W/p, p, C] transposed to (.., H/p, W/p, p, "
        "p, C): channel (dy p + dx) C + c, TF's space_to_depth.",
        "A plain reshape of the NCHW frames to [N, C p^2, H / p, W / p].",
        "`images` fails first in every forward mode (the same values, reordered: "
        "`same_values_reordered`).",
        "`F.space2depth` (`TFCompat.space_to_depth`).",
        "PatchesNCHW", FORWARD_E2E_INFERENCE, "images", hints=("same_values_reordered",)),
    Pitfall(
        "chainers_adam", "Chainer's Adam in place of the code's adam_updates",
        "model_factory.adam_updates: mom1 0.95, mom2 0.9995, epsilon inside the sqrt of the "
        "bias-corrected second moment.",
        "chainer.optimizers.Adam at its defaults: 0.9, 0.999, epsilon outside the sqrt.",
        "Every forward and gradient passes; after the synced steps the first variable's first "
        "moment slot (`.../conv3d/kernel/adam_v`) fails first, with the kind's advice.",
        "The pair's `e3d_adam` kind (spec/e3d_lstm/optimizer.py).",
        "ChainersAdam", AFTER_TRAINING, "*", hints=("optimizer_state",)),
    Pitfall(
        "ema_not_kept", "the EMA of the variables not kept",
        "The code's train op also runs `ExponentialMovingAverage(0.9995).apply(all_params)`.",
        "The optimizer alone: the averages stay where they started.",
        "Every forward and the weights after training pass; after_training fails at an "
        "ExponentialMovingAverage slot.",
        "Keep the EMA as optimizer state (the `e3d_adam` kind's slot).",
        "EMANotKept", AFTER_TRAINING, "*/ExponentialMovingAverage", hints=("optimizer_state",)),
)
