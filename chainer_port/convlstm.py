"""Seed 002's ConvLSTM encoder-forecaster in Chainer: the spec's graph, the same methods and
layer names as the TF twin (`tf_reference/convlstm.py`). NCHW; a cell's variables are read by
its TF scope (`layer.attrs["cell"]`), so every time step shares them.
"""

from __future__ import annotations

import chainer
import chainer.functions as F

from chainer_port.tf_compat import (
    tf_concat,
    tf_conv2d,
    tf_gate_convs,
    tf_peephole_lstm_cell,
    tf_space_to_depth,
    tf_split,
)
from chainer_port.twin import ChainerTwin
from spec.convlstm import PAIR
from spec.layer import Layer


class ConvLSTMModel(ChainerTwin):
    """The encoder-forecaster on NCHW Chainer arrays (NumPy or CuPy); the interface is
    `ChainerTwin`'s (docs/port-interface.md)."""

    pair = PAIR
    # The gate each of the dump's per-gate variable groups feeds (`{group}x2state`, ...).
    GATE_VARIABLES = {"input": "input", "forget": "forget", "cell": "cell", "output": "output"}
    # The cell state the output gate's peephole sees: "new" (c_t, Shi et al.'s eq. 3 and TF's
    # LSTMCell) or "old" (c_{t-1}, as the input and forget gates' peepholes).
    OUTPUT_PEEPHOLE_CELL = "new"

    def var(self, scope: str, leaf: str) -> chainer.Variable:
        return self.variable(f"{scope}/{leaf}")

    # -- the graph -----------------------------------------------------------------------------

    def _patches(self, layer: Layer, frames: chainer.Variable, training: bool
                 ) -> chainer.Variable:
        """Frame t ([B, L, 1, H, W] here), pooled, scaled, then TF's space_to_depth."""
        frame = frames[:, layer.attrs["t"]] * layer.attrs["scale"]
        pool = layer.attrs["pool"]
        if pool > 1:
            frame = F.average_pooling_2d(frame, pool, pool)
        return tf_space_to_depth(frame, layer.attrs["patch"], self.tf_compat.space_to_depth)

    def _convlstm(self, layer: Layer, *inputs: chainer.Variable, training: bool
                  ) -> chainer.Variable:
        """The TF twin's peephole ConvLSTM step; the peepholes are (1, C, H, W) here
        (`Transpose.ACTIVATION`)."""
        attrs, scope = layer.attrs, layer.attrs["cell"]
        x = inputs[0] if attrs["has_x"] else None
        width = attrs["width"]
        if attrs["has_state"]:
            c, h = tf_split(inputs[-1], 2, axis=1)
        else:
            grid = layer.shape[0]
            xp = chainer.backend.get_array_module(inputs[0])
            c = h = chainer.Variable(xp.zeros((inputs[0].shape[0], width, grid, grid),
                                              inputs[0].dtype))

        groups = [self.GATE_VARIABLES[name] for name in ("input", "cell", "forget", "output")]
        sources = {"h": h, **({"x": x} if x is not None else {})}
        gates = tf_gate_convs(
            list(sources.values()),
            [[self.var(scope, f"{group}{source}2state/kernel") for source in sources]
             for group in groups], "SAME",
            biases=[self.var(scope, f"{group}h2state/bias") for group in groups])
        peepholes = [self._peephole_weights(scope, name)
                     for name in ("inputc", "forgetc", "outputc")]
        return tf_peephole_lstm_cell(gates, c, peepholes, attrs["forget_bias"],
                                     output_sees_new=self.OUTPUT_PEEPHOLE_CELL == "new")

    def _peephole_weights(self, scope: str, name: str) -> chainer.Variable:
        """A gate's per-position peephole weights (1, C, H, W), multiplied into the cell state
        (`tf_peephole_lstm_cell`)."""
        return self.var(scope, name)

    def _hidden(self, layer: Layer, state: chainer.Variable, training: bool
                ) -> chainer.Variable:
        return tf_split(state, [layer.attrs["width"]], axis=1)[1]

    def _concat(self, layer: Layer, *xs: chainer.Variable, training: bool) -> chainer.Variable:
        return tf_concat(xs, axis=1)

    def _conv1x1(self, layer: Layer, x: chainer.Variable, training: bool) -> chainer.Variable:
        scope = layer.attrs["scope"]
        return tf_conv2d(x, self.var(scope, "kernel"), "VALID", bias=self.var(scope, "bias"))

    def _frame(self, layer: Layer, patches: chainer.Variable, training: bool
               ) -> chainer.Variable:
        frame = F.depth2space(patches, layer.attrs["patch"])
        return F.sigmoid(frame) if layer.attrs["output"] == "sigmoid" else frame

    def _sse_loss(self, layer: Layer, frames: chainer.Variable, *predictions: chainer.Variable,
                  training: bool) -> chainer.Variable:
        first, pool = layer.attrs["first"], layer.attrs["pool"]
        total = 0.0
        for k, prediction in enumerate(predictions):
            target = frames[:, first + k] * layer.attrs["scale"]
            if pool > 1:
                target = F.average_pooling_2d(target, pool, pool)
            total += F.sum(F.square(prediction - target))
        return total / frames.shape[0]
