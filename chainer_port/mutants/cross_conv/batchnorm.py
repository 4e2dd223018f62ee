"""BatchNorm: Chainer's decay, eps, gamma and running-variance rule instead of slim's."""

from __future__ import annotations

from chainer_port.mutants.cross_conv.base import compat_mutant
from chainer_port.tf_compat import TFBatchNorm

BNDecay = compat_mutant("BNDecay", "`L.BatchNormalization`'s decay 0.9 instead of slim's 0.999.",
                        batch_norm=TFBatchNorm(decay=0.9))
BNEps = compat_mutant("BNEps", "`L.BatchNormalization`'s eps 2e-5 instead of slim's 1e-3.",
                      batch_norm=TFBatchNorm(epsilon=2e-5))
BNUnbiasedVariance = compat_mutant(
    "BNUnbiasedVariance", "The moving variance fed the UNBIASED batch variance (x m / (m - 1)), "
    "as Chainer's `BatchNormalization` updates its running variance; slim's uses the biased "
    "one.", bn_moving_variance="unbiased")
BNGamma = compat_mutant("BNGamma", "Every BatchNorm with a trainable gamma (slim's scale=False "
                        "has none), which no weight file carries.", bn_gamma=True)
