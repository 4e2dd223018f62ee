"""Mutants of the DNA variant's port, one pitfall each (`spec.finn.pitfalls`)."""

from chainer_port.finn import DNAModel
from chainer_port.mutants.finn import mistakes
from spec.finn.pitfalls import ReluBeforeNorm


class DNARepadded(mistakes.DNARepadded, DNAModel):
    __doc__ = mistakes.DNARepadded.__doc__


class ReluShiftTypo(mistakes.ReluShiftTypo, DNAModel):
    __doc__ = mistakes.ReluShiftTypo.__doc__


class StateNotCarried(mistakes.StateNotCarried, DNAModel):
    __doc__ = mistakes.StateNotCarried.__doc__


class BackgroundFromLastPrediction(mistakes.BackgroundFromLastPrediction, DNAModel):
    __doc__ = mistakes.BackgroundFromLastPrediction.__doc__


class BiasTwice(mistakes.BiasTwice, DNAModel):
    __doc__ = mistakes.BiasTwice.__doc__


__all__ = ["BackgroundFromLastPrediction", "BiasTwice", "DNARepadded", "ReluBeforeNorm",
           "ReluShiftTypo", "StateNotCarried"]
