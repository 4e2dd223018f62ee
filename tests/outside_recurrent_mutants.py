"""The outside ConvLSTM pair's porting mistakes, one line each in its Chainer twin:
`twinport pitfalls --check --model tests.outside_recurrent_mutants:PAIR`."""

import dataclasses

import chainer.functions as F

from chainer_port.tf_compat import tf_conv
from spec.pitfall import Pitfall
from spec.section_keys import FORWARD_E2E_INFERENCE
from tests.outside_recurrent_pair import PAIR as LSTM_PAIR
from tests.outside_recurrent_pair import ChainerLSTM


class KernelHW(ChainerLSTM):
    """The gates' dilated kernel with H and W swapped."""

    def _gates(self, layer, clip, state=None, training=False):
        x = clip[:, layer.attrs["t"]]
        x = x if state is None else F.concat([x, F.split_axis(state, 2, axis=1)[0]], 1)
        kernel = F.swapaxes(self.variable("lstm/kernel")[:, :x.shape[1]], 2, 3)
        return F.bias(tf_conv(x, kernel, "SAME", dilation=2), self.variable("lstm/bias"))


class CellNotCarried(ChainerLSTM):
    """The cell state not carried: each step's cell starts from zero."""

    def _cell(self, layer, gates, state=None, training=False):
        i, j, f, o = F.split_axis(gates, 4, axis=1)
        c = F.sigmoid(i) * F.tanh(j)
        return F.concat([F.sigmoid(o) * F.tanh(c), c], 1)


PITFALLS = (
    Pitfall("kernel_axes", "dilated kernel with H and W swapped",
            "tf.nn.conv2d's kernel is [h, w, in, out].", "A kernel read as [w, h, in, out].",
            "lstm_0/gates fails first; the hint gives the transpose that undoes it.",
            "Transpose.KERNEL alone.", "KernelHW", FORWARD_E2E_INFERENCE, "lstm_0/gates",
            hints=("kernel_axes_swapped",)),
    Pitfall("cell_not_carried", "the cell state not carried",
            "c_t = f c_{t-1} + i j: each step reads the last step's cell.",
            "A cell that starts from zero at every step (a state reset or not passed on).",
            "lstm_0 agrees and lstm_1 fails first; its gradient to lstm_0 is zero on the port.",
            "Carry (h, c) to the next step.", "CellNotCarried", FORWARD_E2E_INFERENCE,
            "lstm_1", hints=("state_not_carried",)),
)

PAIR = dataclasses.replace(LSTM_PAIR, pitfalls=PITFALLS, mutants="tests.outside_recurrent_mutants",
                           suite={"preset": "small", "batch_size": 3, "steps": 3})
