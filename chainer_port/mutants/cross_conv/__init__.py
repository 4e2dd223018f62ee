"""Mutants of the cross-conv Chainer port, one porting pitfall each (catalogue:
`spec.cross_conv.pitfalls`).

Each class is its own factory, `Mutant(preset, seed=0, device="cpu")`: `twinport parity --port
chainer_port.mutants.cross_conv:BNDecay` runs one; `twinport pitfalls --check` runs all.
"""

from chainer_port.mutants.cross_conv.batchnorm import BNDecay, BNEps, BNGamma, BNUnbiasedVariance
from chainer_port.mutants.cross_conv.layouts import (
    ConvKernelReshaped,
    DeconvKernelHW,
    DepthwiseKernelHW,
    FlattenNCHW,
    KernelAxisTFOrder,
    ZSplitSwapped,
)
from chainer_port.mutants.cross_conv.ops import (
    DeconvKernelFlipped,
    DeconvPadOne,
    InitLeCunNormal,
    InitPlainNormal,
    KLLogStdAsLogVar,
    L2SumPerSample,
    LrPerUpdate,
    LrStaircase,
    ResizeAlignCorners,
)
from chainer_port.mutants.cross_conv.windows import (
    MaxPoolGradMirrored,
    MaxPoolSameCoverAll,
    SamePadExtraBefore,
    ValidPoolCoverAll,
)

__all__ = [
    "BNDecay",
    "BNEps",
    "BNGamma",
    "BNUnbiasedVariance",
    "ConvKernelReshaped",
    "DeconvKernelFlipped",
    "DeconvKernelHW",
    "DeconvPadOne",
    "DepthwiseKernelHW",
    "FlattenNCHW",
    "InitLeCunNormal",
    "InitPlainNormal",
    "KLLogStdAsLogVar",
    "KernelAxisTFOrder",
    "L2SumPerSample",
    "LrPerUpdate",
    "LrStaircase",
    "MaxPoolGradMirrored",
    "MaxPoolSameCoverAll",
    "ResizeAlignCorners",
    "SamePadExtraBefore",
    "ValidPoolCoverAll",
    "ZSplitSwapped",
]
