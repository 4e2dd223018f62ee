"""Mutants of the CDNA variant's port, one pitfall each (`spec.finn.pitfalls`)."""

from chainer_port.finn import CDNAModel
from chainer_port.mutants.finn import mistakes
from spec.finn.pitfalls import ReluBeforeNorm

PadHalfKernel = mistakes.pad_half_kernel(CDNAModel, "PadHalfKernel")
MasksReshapeNCHW = mistakes.masks_reshaped_nchw(CDNAModel, "MasksReshapeNCHW")
LayerNormPerPixel = mistakes.layer_norm_per_pixel(CDNAModel, "LayerNormPerPixel")


class StatelessLinks(mistakes.StatelessLinks, CDNAModel):
    __doc__ = mistakes.StatelessLinks.__doc__


class StateSplitHC(mistakes.StateSplitHC, CDNAModel):
    __doc__ = mistakes.StateSplitHC.__doc__


class ReluShiftTypo(mistakes.ReluShiftTypo, CDNAModel):
    __doc__ = mistakes.ReluShiftTypo.__doc__


class CDNAKernelsTiled(mistakes.CDNAKernelsTiled, CDNAModel):
    __doc__ = mistakes.CDNAKernelsTiled.__doc__


class OwnSchedule(mistakes.OwnSchedule, CDNAModel):
    __doc__ = mistakes.OwnSchedule.__doc__


StateNotCarried = mistakes.on(mistakes.StateNotCarried, CDNAModel)
BackgroundFromLastPrediction = mistakes.on(mistakes.BackgroundFromLastPrediction, CDNAModel)
BiasTwice = mistakes.on(mistakes.BiasTwice, CDNAModel)

__all__ = ["BackgroundFromLastPrediction", "BiasTwice", "CDNAKernelsTiled", "LayerNormPerPixel",
           "MasksReshapeNCHW", "OwnSchedule", "PadHalfKernel", "ReluBeforeNorm", "ReluShiftTypo",
           "StateNotCarried", "StateSplitHC", "StatelessLinks"]
