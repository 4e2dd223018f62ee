"""Mutants of the STP variant's port, one pitfall each (`spec.finn.pitfalls`)."""

from chainer_port.finn import STPModel
from chainer_port.mutants import base
from chainer_port.mutants.finn import mistakes
from spec.finn.pitfalls import ReluBeforeNorm

ChainerSpatialTransformer = base.compat_mutant(
    STPModel, "ChainerSpatialTransformer", "`F.spatial_transformer_grid` and "
    "`F.spatial_transformer_sampler` for tensorflow/models' `transformer`.",
    spatial_transformer="chainer")


class StateNotCarried(mistakes.StateNotCarried, STPModel):
    __doc__ = mistakes.StateNotCarried.__doc__


class BackgroundFromLastPrediction(mistakes.BackgroundFromLastPrediction, STPModel):
    __doc__ = mistakes.BackgroundFromLastPrediction.__doc__


class BiasTwice(mistakes.BiasTwice, STPModel):
    __doc__ = mistakes.BiasTwice.__doc__


__all__ = ["BackgroundFromLastPrediction", "BiasTwice", "ChainerSpatialTransformer",
           "ReluBeforeNorm", "StateNotCarried"]
