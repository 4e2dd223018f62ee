"""Mutants of the ConvLSTM encoder-forecaster's Chainer port, one porting pitfall each
(catalogue: `spec.convlstm.pitfalls`). Each is its own factory, `Mutant(preset, seed=0,
device="cpu")`."""

from chainer_port.mutants.convlstm.cells import (
    ForecasterFromZeros,
    ForgetBiasOne,
    GatesIJFO,
    OutputPeepholeOldCell,
    PeepholeHW,
)
from chainer_port.mutants.convlstm.frames import FramesReversed, PatchesReshape

__all__ = ["ForecasterFromZeros", "ForgetBiasOne", "FramesReversed", "GatesIJFO",
           "OutputPeepholeOldCell", "PatchesReshape", "PeepholeHW"]
