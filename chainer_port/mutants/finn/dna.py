"""Mutants of the DNA variant's port, one pitfall each (`spec.finn.pitfalls`)."""

from chainer_port.finn import DNAModel
from chainer_port.mutants.finn import mistakes
from spec.finn.pitfalls import ReluBeforeNorm


class DNARepadded(mistakes.DNARepadded, DNAModel):
    __doc__ = mistakes.DNARepadded.__doc__


class ReluShiftTypo(mistakes.ReluShiftTypo, DNAModel):
    __doc__ = mistakes.ReluShiftTypo.__doc__


StateNotCarried = mistakes.on(mistakes.StateNotCarried, DNAModel)
BackgroundFromLastPrediction = mistakes.on(mistakes.BackgroundFromLastPrediction, DNAModel)
BiasTwice = mistakes.on(mistakes.BiasTwice, DNAModel)

__all__ = ["BackgroundFromLastPrediction", "BiasTwice", "DNARepadded", "ReluBeforeNorm",
           "ReluShiftTypo", "StateNotCarried"]
