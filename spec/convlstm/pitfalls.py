"""The ConvLSTM encoder-forecaster's catalogue of TF -> Chainer porting pitfalls: one entry per
mistake and its mutant (a class in `chainer_port.mutants.convlstm`). Figures quoted in `shows`
are from the suite's setting (`TwinPair.suite`: tiny, batch 2, 2 steps) on
data/generated/moving-mnist.
"""

from __future__ import annotations

from spec.pitfall import Pitfall
from spec.section_keys import BACKWARD_ISOLATED, FORWARD_E2E_INFERENCE

CATALOGUE: tuple[Pitfall, ...] = (
    Pitfall(
        "gate_order", "gate order (i, f, c, o vs TF's i, j, f, o)",
        "The dump keeps one variable group per gate by name: input, forget, cell (the "
        "candidate), output.",
        "A port written after TF's `LSTMCell` splits its fused gates as i, j, f, o (j the "
        "candidate) and reads the dump's groups in their listed order: `forget...` feeds the "
        "candidate and `cell...` the forget gate.",
        "The first cell's first step, CL/enco_cl1_0, fails in every forward mode (isolated "
        "too: the cell itself computes differently).",
        "Read each gate's variables by its name (`GATE_VARIABLES`), never by position.",
        "GatesIJFO", FORWARD_E2E_INFERENCE, "CL/enco_cl1_0"),
    Pitfall(
        "output_peephole_cell", "the output gate's peephole on the old cell state",
        "Shi et al.'s eq. 3 (and TF's peephole LSTMCell): i and f look at c_{t-1}, o at the "
        "new c_t.",
        "All three peepholes on c_{t-1}, the same line written three times.",
        "Invisible to every forward at TF's initial weights (the peepholes start at zero). The "
        "isolated backward fails at CL/enco_cl1_0 <- CL/enco_cl1/outputc: at t = 0 the old "
        "cell is zero, so the port's gradient is zero where TF's is not (diagnosis "
        "`port_zero`); the parameter gradients fail at every outputc.",
        "o = sigm(... + w_co . c_t) with the cell state just computed.",
        "OutputPeepholeOldCell", BACKWARD_ISOLATED, "CL/enco_cl1_0 <- CL/enco_cl1/outputc",
        hints=("port_zero",)),
    Pitfall(
        "peephole_layout", "per-position peepholes with H and W swapped",
        "A peephole weight is [1, H, W, C], one weight per grid position and channel, "
        "multiplied elementwise with the cell state.",
        "Moved to NCHW as (1, C, W, H) (`transpose(0, 3, 2, 1)` where (0, 3, 1, 2) was "
        "meant), or broadcast against the state with its spatial axes the wrong way round.",
        "Invisible to the forward at zero peepholes. The isolated backward fails at "
        "CL/enco_cl1_0 <- CL/enco_cl1/outputc, and the diagnosis prints the transpose that "
        "undoes it: (0, 2, 1, 3).",
        "`Transpose.ACTIVATION` (0, 3, 1, 2) for a [1, H, W, C] variable.",
        "PeepholeHW", BACKWARD_ISOLATED, "CL/enco_cl1_0 <- CL/enco_cl1/outputc",
        hints=("axes_transposed",)),
    Pitfall(
        "forget_bias", "a forget bias on one side only",
        "The dump's cells have a learned forget-gate bias (`forgeth2state/bias`) and, in this "
        "rebuild, no constant on top (`Preset.forget_bias` 0).",
        "TF's `LSTMCell(forget_bias=1.0)` habit carried into the port: +1 inside the forget "
        "gate's sigmoid.",
        "At t = 0 the old cell is zero, so the forget gate changes nothing: the first failing "
        "tap is the second step, CL/enco_cl1_1.",
        "The same forget_bias on both sides (a preset field both twins read).",
        "ForgetBiasOne", FORWARD_E2E_INFERENCE, "CL/enco_cl1_1"),
    Pitfall(
        "patch_order", "the 4x4 patches reshaped in NCHW order",
        "`tf.nn.space_to_depth(frame, 4)`: channel (dy * 4 + dx) * C + c of the 16.",
        "A plain reshape of the NCHW frame to [N, 16, H / 4, W / 4]: the same values, grouped "
        "by rows of the frame instead of by patch.",
        "CL/patches_0 fails first in every forward mode (the same values in another order: "
        "diagnosis `same_values_reordered`).",
        "`F.space2depth` (TF's order; `TFCompat.space_to_depth`).",
        "PatchesReshape", FORWARD_E2E_INFERENCE, "CL/patches_0",
        hints=("same_values_reordered", "axes_transposed")),
    Pitfall(
        "forecaster_start", "the forecaster started from zeros",
        "Shi et al.: each forecaster cell starts from the state of the encoder cell of its "
        "width (fore_cl1 from enco_cl1, ...).",
        "Zero initial states, as a fresh RNN would have.",
        "CL/fore_cl3_0, the forecaster's first step, fails first; the encoder's taps pass.",
        "Feed the encoder's last states (`tap(enco, input_frames - 1)`).",
        "ForecasterFromZeros", FORWARD_E2E_INFERENCE, "CL/fore_cl3_0",
        hints=("state_not_carried",)),
    Pitfall(
        "frame_order", "the predicted frames compared in the wrong order",
        "Prediction k is frame input_frames + k.",
        "Forecasts collected back to front (the last one first), then compared in order.",
        "At initial weights every prediction is nearly the same blur, so the summed loss "
        "hardly changes and every forward passes. The isolated backward fails at CL/loss <- "
        "CL/prediction_0: the loss's gradient for the first prediction is 2 (prediction - "
        "its target), and the port's target is another frame.",
        "Keep the forecaster's step order; compare prediction k with frame input_frames + k.",
        "FramesReversed", BACKWARD_ISOLATED, "CL/loss <- CL/prediction_0",
        hints=("inputs_reordered",)),
)
