"""Mutants of the ConvLSTM cell: gate order, peepholes, forget bias, the forecaster's start."""

from __future__ import annotations

import dataclasses

import chainer
import chainer.functions as F

from chainer_port.convlstm import ConvLSTMModel
from spec.layer import Layer


class GatesIJFO(ConvLSTMModel):
    """The dump's gate groups read in TF's LSTMCell order i, j, f, o: the second group
    (`forget...`) as the candidate j, the third (`cell...`) as the forget gate."""

    GATE_VARIABLES = {"input": "input", "cell": "forget", "forget": "cell", "output": "output"}


class OutputPeepholeOldCell(ConvLSTMModel):
    """The output gate's peephole on the previous cell state, as the other two gates'."""

    OUTPUT_PEEPHOLE_CELL = "old"


class PeepholeHW(ConvLSTMModel):
    """The per-position peephole weights applied with H and W swapped (a [1, H, W, C] array
    transposed as if it were [1, W, H, C])."""

    def _peephole_weights(self, scope: str, name: str) -> chainer.Variable:
        return F.swapaxes(self.var(scope, name), 2, 3)


class ForgetBiasOne(ConvLSTMModel):
    """TF LSTM cells' `forget_bias=1.0` added on the port's side only."""

    def _convlstm(self, layer: Layer, *inputs: chainer.Variable, training: bool
                  ) -> chainer.Variable:
        attrs = {**layer.attrs, "forget_bias": layer.attrs["forget_bias"] + 1.0}
        return super()._convlstm(dataclasses.replace(layer, attrs=attrs), *inputs,
                                 training=training)


class ForecasterFromZeros(ConvLSTMModel):
    """The forecaster's cells started from zero states, not from the encoder's last ones."""

    def _convlstm(self, layer: Layer, *inputs: chainer.Variable, training: bool
                  ) -> chainer.Variable:
        starts = layer.attrs["cell"].split("/")[-1].startswith("fore") and layer.name.endswith(
            "_0")
        if starts:
            layer = dataclasses.replace(layer, attrs={**layer.attrs, "has_state": False})
            inputs = inputs[:-1]
        return super()._convlstm(layer, *inputs, training=training)
