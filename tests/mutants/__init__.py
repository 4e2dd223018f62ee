"""Mutants of the Chainer port, one porting pitfall each (catalogue: `parity.pitfalls`).

Each class is its own factory, `Mutant(preset, seed=0, device="cpu")`:
`twinport parity --port tests.mutants:BNDecay` runs one; `twinport pitfalls --check` runs all.
"""

import chainer_port.compat  # noqa: F401, I001  (before the mutants import chainer: NumPy 2 names)
from tests.mutants.batchnorm import BNDecay, BNEps, BNGamma, BNUnbiasedVariance
from tests.mutants.layouts import (
    ConvKernelReshaped,
    DeconvKernelHW,
    DepthwiseKernelHW,
    FlattenNCHW,
    KernelAxisTFOrder,
    ZSplitSwapped,
)
from tests.mutants.ops import (
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
from tests.mutants.windows import (
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
