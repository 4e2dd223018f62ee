"""Mutants of the ConvLSTM pair's frames: the patches' layout, the predicted frames' order."""

from __future__ import annotations

import chainer

from chainer_port.convlstm import ConvLSTMModel
from chainer_port.mutants import base
from spec.layer import Layer

PatchesReshape = base.compat_mutant(
    ConvLSTMModel, "PatchesReshape", "The 4x4 patches made by reshaping the NCHW frame to "
    "[N, 16, H / 4, W / 4] instead of TF's space_to_depth.", space_to_depth="nchw_reshape")


class FramesReversed(ConvLSTMModel):
    """The predicted frames compared with the targets in reverse order (the last prediction
    first), as when a port collects its forecasts back to front."""

    def _sse_loss(self, layer: Layer, frames: chainer.Variable,
                  *predictions: chainer.Variable, training: bool) -> chainer.Variable:
        return super()._sse_loss(layer, frames, *reversed(predictions), training=training)
