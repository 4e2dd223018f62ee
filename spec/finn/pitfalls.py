"""Finn et al.'s catalogue of TF -> Chainer porting pitfalls (seed 001's own port shows each),
per variant: one entry per mistake and its mutant (a class in
`chainer_port.mutants.finn.<variant>`). Figures quoted in `shows` are from the suite's setting
(`TwinPair.suite`: tiny, batch 2, 2 steps) on data/generated/pushing.
"""

from __future__ import annotations

from dataclasses import replace

from spec.layer import Layer
from spec.pitfall import Pitfall, SharedMistake
from spec.section_keys import BACKWARD_ISOLATED, FORWARD_E2E_INFERENCE, FORWARD_E2E_TRAINING

PAD_HALF_KERNEL = Pitfall(
    "pad_half_kernel", "`pad=filter_size/2` for TF's SAME",
    "slim's convs pad SAME: a stride-2 conv on an even size pads one pixel less before than "
    "after (5x5 on 64: 1 and 2), a stride-2 conv2d_transpose crops its full output from "
    "pad_total // 2 (3x3 from 8 to 16: nothing before).",
    "The seed's `pad=filter_size/2` (2.5 under Python 3, which Chainer refuses; made an int, "
    "k // 2 on both sides) for every conv and deconv: right for the stride-1 Gates convs, "
    "shifted by a pixel for the stride-2 ones.",
    "model/scale1_conv1_0, the first conv, fails first in every forward mode (isolated too).",
    "TF's SAME pads (`tf_conv2d`, `conv2d_transpose_same`).",
    "PadHalfKernel", FORWARD_E2E_INFERENCE, "model/scale1_conv1_0")

STATELESS_LINKS = Pitfall(
    "stateless_links", "links created inside `__call__`",
    "TF creates each variable once; every time step (and every training step) reuses it.",
    "The seed's 'stateless' port builds `L.Convolution2D(...)` inside `__call__`: new random "
    "weights at every call, never trained, and the weights loaded into the model unused.",
    "model/scale1_conv1_0 fails first in every forward mode: the conv computes with other "
    "weights.",
    "Create the links once (in `__init__`), read them by their TF scope at every step.",
    "StatelessLinks", FORWARD_E2E_INFERENCE, "model/scale1_conv1_0")

STATE_SPLIT = Pitfall(
    "state_split_hc", "the ConvLSTM state split as h, c",
    "`basic_conv_lstm_cell` keeps its state as concat(c, h) and splits it `c, h`.",
    "The seed's `h, c = F.split_axis(state, 2, axis=1)` (and `concat(new_c, new_h)` back).",
    "Step 0 starts from zeros, so the first failing tap is the second step of the first "
    "cell, model/state1_1.",
    "Split in TF's order (`FinnModel.STATE_SPLIT`).",
    "StateSplitHC", FORWARD_E2E_INFERENCE, "model/state1_1")

LAYER_NORM = Pitfall(
    "layer_norm_axes", "layer norm over each pixel's channels",
    "`tf.contrib.layers.layer_norm` normalises every sample over all its axes but the batch "
    "(H, W and C together), eps 1e-12, then a beta and gamma per channel.",
    "`L.LayerNormalization` on the map's pixels: each pixel's channels normalised on their "
    "own, with Chainer's eps 1e-5.",
    "model/scale1_conv1/layer_norm1_0, the first layer norm, fails first in every forward "
    "mode.",
    "`tf_layer_norm` (`TFCompat.layer_norm`).",
    "LayerNormPerPixel", FORWARD_E2E_INFERENCE, "model/scale1_conv1/layer_norm1_0")

MASKS_NCHW = Pitfall(
    "masks_reshape_nchw", "the masks reshaped in NCHW order before the softmax",
    "`softmax(reshape(masks, [-1, num_masks + 1]))` of the NHWC map: each row is one pixel's "
    "masks.",
    "The same reshape of the NCHW map (the seed: 'Previously num_mask at the end, but on "
    "axis=1? ok!'): each row is num_masks + 1 neighbouring pixels of one mask.",
    "model/masks_0 fails first in every forward mode.",
    "`F.softmax(x, axis=1)` (`TFCompat.channel_softmax`).",
    "MasksReshapeNCHW", FORWARD_E2E_INFERENCE, "model/masks_0")

OWN_SCHEDULE = Pitfall(
    "own_schedule", "scheduled sampling drawing its own random choice",
    "`scheduled_sample` shuffles the batch (`tf.random_shuffle`) and gives the first "
    "num_ground_truth samples the ground truth; twinport draws that order as noise both twins "
    "read.",
    "The port shuffles with its own generator: the same count of ground-truth samples, "
    "other ones.",
    "Inference feeds predictions back and passes; the training forward fails at the first "
    "sampled step where the two orders pick different samples, model/prev_image_t for some "
    "t >= context_frames.",
    "Read the shared `schedule` noise.",
    "OwnSchedule", FORWARD_E2E_TRAINING, "model/prev_image_*")


STATE_NOT_CARRIED = Pitfall(
    "state_not_carried", "the ConvLSTM state not carried between steps",
    "Each `basic_conv_lstm_cell` call takes the cell's state of the step before (`lstm_state1` "
    "in, out again): the recurrence.",
    "The state left out of the cell's call, so every step starts from zeros: step 0 is right, "
    "as it starts from zeros in TF too.",
    "model/state1_0 agrees and model/state1_1 fails first; the isolated backward finds the "
    "port's gradient to model/state1_0 zero, and the hint says the state is not carried.",
    "Pass each cell its state of the step before.",
    "StateNotCarried", FORWARD_E2E_INFERENCE, "model/state1_1", hints=("state_not_carried",))

BACKGROUND = Pitfall(
    "background_wrong_frame", "the background taken from the last prediction",
    "`construct_model`'s compositing: output = mask_0 * prev_image + the transformed images "
    "under masks 1..n; the background is the previous frame, the ground truth at the context "
    "steps.",
    "The step before's prediction under mask 0 at every step after the first, the previous "
    "frame never read there.",
    "model/output_0 agrees (it reads prev_image_0) and model/output_1 fails first; the "
    "isolated backward finds the port's gradient to model/prev_image_1 zero.",
    "The previous frame under mask 0.",
    "BackgroundFromLastPrediction", FORWARD_E2E_INFERENCE, "model/output_1",
    hints=("input_ignored",))


BIAS_TWICE = Pitfall(
    "bias_twice", "the fully connected layers' bias added twice",
    "`slim.fully_connected` adds its `biases` once (then the relu, unless activation_fn=None).",
    "`F.linear(x, W, b) + b`: the bias given to `F.linear` and added again after it.",
    "At TF's initial weights the biases are zero, so every forward agrees; the isolated "
    "backward fails first at model/state_pred_0 <- model/state_pred/biases, the port's "
    "gradient twice the reference's (each use of the bias adds its share).",
    "The bias once (`F.linear(x, W, b)`).",
    "BiasTwice", BACKWARD_ISOLATED, "model/state_pred_0 <- model/state_pred/biases",
    hints=("bias_twice",))


class ReluBeforeNorm(SharedMistake):
    """slim's convs with a normalizer_fn given a relu before the layer norm as well as after
    it: relu(LN(relu(conv))) for relu(LN(conv)), on scale1_conv1 and convt3 (the Finn
    references' own mistake until `twinport parity original` found it)."""

    @staticmethod
    def mutate(layers: list[Layer]) -> list[Layer]:
        return [replace(layer, attrs={**layer.attrs, "relu": True})
                if layer.kind in ("conv2d", "conv2d_transpose") and not layer.attrs["bias"]
                else layer for layer in layers]


RELU_BEFORE_NORM = Pitfall(
    "relu_before_norm", "a relu on a conv before its layer norm too",
    "slim's conv2d / conv2d_transpose with a normalizer_fn drop the bias and apply the "
    "activation after the normaliser only: relu(LN(conv)).",
    "The conv built with its default relu and the layer norm followed by one: "
    "relu(LN(relu(conv))) on scale1_conv1 and convt3. Both twins read the graph, so both are "
    "wrong the same way (the Finn pairs' reference until 2026-12-07).",
    "Parity passes; `twinport parity original` fails first at model/scale1_conv1_0 (the "
    "conv's output, already rectified) in both modes.",
    "The activation after the normaliser only (`_Builder.conv(normalized=True)`).",
    "ReluBeforeNorm", FORWARD_E2E_INFERENCE, "model/scale1_conv1_0", shared=True)


def _relu_shift(first: str, hints: tuple[str, ...] = ()) -> Pitfall:
    return Pitfall(
        "relu_shift_typo", "RELU_SHIFT added back as 1e+12",
        "CDNA's and DNA's kernels are bounded below by relu(x - 1e-12) + 1e-12, then "
        "normalised to sum 1.",
        "The seed's DNA line `F.relu(enc7 - 1e-12) + 1e+12`: every weight is 1e12, so the "
        "normalised kernel is a uniform blur whatever the network predicts.",
        f"{first} fails first in every forward mode.",
        "The same constant both times (`RELU_SHIFT`).",
        "ReluShiftTypo", FORWARD_E2E_INFERENCE, first, hints=hints)


CATALOGUES: dict[str, tuple[Pitfall, ...]] = {
    "cdna": (
        PAD_HALF_KERNEL, STATELESS_LINKS, STATE_SPLIT, LAYER_NORM, _relu_shift(
            "model/cdna_kernels_0", ("port_constant",)),
        Pitfall(
            "cdna_kernel_channel", "CDNA kernels applied to the wrong mask or colour channel",
            "`cdna_transformation` applies each sample's kernel m, the same for every colour "
            "channel, to that sample's image (the batch as depthwise_conv2d's channels).",
            "The kernels copied per colour channel with `F.tile` where the image copies are "
            "mask-major (`F.repeat` meant): copy (m, c) meets kernel (m * C + c) mod masks.",
            "model/cdna_0 fails first in every forward mode (its kernels, model/cdna_kernels_0, "
            "pass).",
            "Expand the kernels in the images' order (`FinnModel.expand_cdna_kernels`).",
            "CDNAKernelsTiled", FORWARD_E2E_INFERENCE, "model/cdna_0"),
        MASKS_NCHW, OWN_SCHEDULE, STATE_NOT_CARRIED, BACKGROUND,
        BIAS_TWICE, RELU_BEFORE_NORM),
    "dna": (
        Pitfall(
            "dna_repadded", "DNA's shifted copies by slicing and re-padding",
            "`dna_transformation` pads the image by 2 and slices each 5x5 offset's window: "
            "the centre tap is the image itself.",
            "The seed slices the unpadded image from the offset and pads the end back to size: "
            "every copy is shifted by 2 more, the centre one included.",
            "model/dna_0 fails first in every forward mode.",
            "Slice the image padded by 2 on every side (`FinnModel.dna_pads`).",
            "DNARepadded", FORWARD_E2E_INFERENCE, "model/dna_0"),
        _relu_shift("model/dna_0"), STATE_NOT_CARRIED, BACKGROUND,
        BIAS_TWICE, RELU_BEFORE_NORM),
    "stp": (
        Pitfall(
            "chainer_spatial_transformer", "Chainer's spatial transformer for TF's",
            "tensorflow/models' `transformer` scales x in [-1, 1] by (x + 1) * W / 2 and clips "
            "the neighbours' indices before weighting them: its identity stretches the image "
            "by W / (W - 1) and blacks out the last row and column.",
            "`F.spatial_transformer_grid` + `F.spatial_transformer_sampler`: (x + 1) * "
            "(W - 1) / 2, zeros outside: an exact identity.",
            "model/stp_0 fails first in every forward mode (stp_params_0, the affine "
            "parameters, pass).",
            "`tf_spatial_transformer` (`TFCompat.spatial_transformer`).",
            "ChainerSpatialTransformer", FORWARD_E2E_INFERENCE, "model/stp_0"),
        STATE_NOT_CARRIED, BACKGROUND, BIAS_TWICE, RELU_BEFORE_NORM),
}
