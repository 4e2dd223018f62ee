"""Mutants of the STP variant's port, one pitfall each (`spec.finn.pitfalls`)."""

from chainer_port.finn import STPModel
from chainer_port.mutants import base
from chainer_port.mutants.finn import mistakes
from spec.finn.pitfalls import ReluBeforeNorm

ChainerSpatialTransformer = base.compat_mutant(
    STPModel, "ChainerSpatialTransformer", "`F.spatial_transformer_grid` and "
    "`F.spatial_transformer_sampler` for tensorflow/models' `transformer`.",
    spatial_transformer="chainer")


StateNotCarried = mistakes.on(mistakes.StateNotCarried, STPModel)
BackgroundFromLastPrediction = mistakes.on(mistakes.BackgroundFromLastPrediction, STPModel)
BiasTwice = mistakes.on(mistakes.BiasTwice, STPModel)

__all__ = ["BackgroundFromLastPrediction", "BiasTwice", "ChainerSpatialTransformer",
           "ReluBeforeNorm", "StateNotCarried"]
