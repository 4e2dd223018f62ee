"""The VPN's catalogue of TF -> Chainer porting pitfalls: one entry per mistake and its mutant
(a class in `chainer_port.mutants.vpn`). Figures quoted in `shows` are from the suite's
setting (`TwinPair.suite`: tiny, batch 2, 2 steps) on data/generated/moving-mnist.
"""

from __future__ import annotations

from spec.pitfall import Pitfall
from spec.section_keys import (
    BACKWARD_ISOLATED,
    FORWARD_E2E_INFERENCE,
    INITIALISATION,
)

CATALOGUE: tuple[Pitfall, ...] = (
    Pitfall(
        "masks_swapped", "mask A and mask B swapped",
        "masked_conv2d: mask A (the first unit, on concat(frame, h)) hides the pixel's own "
        "value; mask B (every later unit) keeps the centre of its causal features.",
        "The two masks' names confused: A where B is meant and B where A is.",
        "The first masked block fails first.",
        "A for the unit that reads the frame (its one channel), B after it.",
        "MasksSwapped", FORWARD_E2E_INFERENCE, "decoder_0/rmb_1"),
    Pitfall(
        "mask_rows", "the mask's rows off by one",
        "Zero right of the centre in the centre row and every row from centre + 1 down.",
        "`mask[centre + 2:] = 0`: the row under the pixel stays visible.",
        "The first masked block fails first.",
        "`spec.tf_geometry.pixelcnn_mask`, the code's rule, on both twins.",
        "MaskRowsBelowKept", FORWARD_E2E_INFERENCE, "decoder_0/rmb_1"),
    Pitfall(
        "dilation_ignored", "the encoder's dilation ignored",
        "tf.layers.conv2d(dilation_rate=d, padding='same'): a 3x3 kernel spread over "
        "(2d + 1)^2 pixels, TF's dilated SAME padding.",
        "The dilation argument dropped (or Chainer's `dilate` left at 1).",
        "The warm-up's first encoder block fails first (tiny dilates it by 2).",
        "`tf_conv(..., dilation=d)` (TF's SAME for the dilated extent).",
        "DilationIgnored", FORWARD_E2E_INFERENCE, "warmup/encoder_0/rmb_0"),
    Pitfall(
        "lstm_gate_order", "the ConvLSTM's gates in Chainer's order",
        "BasicConvLSTMCell splits its conv's 4F channels as i, j, f, o.",
        "Chainer's `F.lstm` order a, i, f, o: the candidate read from the first block.",
        "The warm-up's first LSTM step fails first.",
        "Split i, j, f, o as the code does (`ChainerTwin.GATE_SPLIT`).",
        "GatesInChainersOrder", FORWARD_E2E_INFERENCE, "warmup/lstm_0"),
    Pitfall(
        "weights_per_step", "separate weights per step (no template sharing)",
        "`tf.make_template`: one set of variables for every step, warm-up and training alike.",
        "Blocks built inside the time loop: each step's own weights, only the first loaded.",
        "Step 0 passes; the warm-up's second step fails first.",
        "Read every step's variables by the one scope.",
        "WeightsPerStep", FORWARD_E2E_INFERENCE, "warmup/encoder_1/input_conv"),
    Pitfall(
        "labels_off_by_one", "the labels one frame early",
        "Step t's logits predict frame T + t + 1, the frame the decoder is given as its "
        "(masked) input.",
        "The labels taken from the step's own input frame T + t.",
        "At initial weights the logits are nearly the same for every pixel, so the loss "
        "hardly moves and every forward passes; the isolated backward fails first at the "
        "loss's gradient for the first step's logits (softmax - one_hot(label): its -1 "
        "entries at other classes).",
        "Labels from the frame after the one the encoder reads.",
        "LabelsOffByOne", BACKWARD_ISOLATED, "loss <- decoder_0/logits",
        hints=("same_values_reordered",)),
    Pitfall(
        "warm_up_not_carried", "the warm-up state not carried into the training pass",
        "trainer.py: the training run starts from the warm-up run's final LSTM state.",
        "The training pass from zero states, as a fresh RNN.",
        "The training pass's first LSTM step fails first; the warm-up's taps pass (the "
        "isolated backward: the port's gradient to the warm-up state is zero).",
        "Feed the warm-up's last state (`warmup/lstm_{T-1}/state`) to the first training "
        "step.",
        "WarmUpNotCarried", FORWARD_E2E_INFERENCE, "lstm_0", hints=("state_not_carried",)),
    Pitfall(
        "chainers_rmsprop", "Chainer's RMSprop in place of TF1's",
        "TF1's RMSPropOptimizer: the mean square starts at ones, epsilon 1e-10 inside the "
        "sqrt.",
        "chainer.optimizers.RMSprop: the mean square from zeros, epsilon outside the sqrt.",
        "Every forward, gradient and synced step passes: the synced steps hand the port "
        "TF's state, and epsilon 1e-10 inside or outside the sqrt of a mean square near 1 "
        "is the same in float32. The port's own fresh optimizer state shows it: the "
        "initialisation section fails at the first variable's mean square (`RMSProp`, zeros "
        "where TF1 has ones).",
        "The pair's `rmsprop` kind (TF1's kernel, `spec.optimizers`).",
        "ChainersRMSprop", INITIALISATION, "*/RMSProp", hints=("optimizer_state",)),
    Pitfall(
        "rmsprop_defaults", "RMSProp's decay and epsilon at Chainer's defaults",
        "TF1's RMSPropOptimizer(3e-4): decay 0.9, epsilon 1e-10.",
        "Chainer's RMSprop defaults carried over: alpha (decay) 0.99, eps 1e-8.",
        "Every forward and gradient passes; after a synced step the mean square differs by "
        "0.09 of its value, the section's tolerance (0.1 of the largest): the port's own "
        "optimizer settings show it, `optimizer/decay` in the initialisation section.",
        "TF1's defaults, named in the pair's `Optimizer`.",
        # after_training when the mean square's difference crosses its tolerance, else
        # initialisation (`optimizer/decay`): an fnmatch pattern for either
        "RMSpropChainerDefaults", "[ai][fn]*", "*", hints=("optimizer_state",)),
)
