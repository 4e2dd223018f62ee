"""BatchNorm: Chainer's decay, eps, gamma and running-variance rule instead of slim's."""

from __future__ import annotations

import dataclasses
from typing import Any

import chainer
import chainer.functions as F
import numpy as np
from chainer import initializers

from chainer_port import layers
from chainer_port.mutants.cross_conv.base import ShimMutant


class BNDecay(ShimMutant):
    """`L.BatchNormalization`'s decay 0.9 instead of slim's 0.999."""

    target = (layers, "TF_BN_DEFAULTS")

    @staticmethod
    def naive(original: Any) -> Any:
        return dataclasses.replace(original, decay=0.9)


class BNEps(ShimMutant):
    """`L.BatchNormalization`'s eps 2e-5 instead of slim's 1e-3."""

    target = (layers, "TF_BN_DEFAULTS")

    @staticmethod
    def naive(original: Any) -> Any:
        return dataclasses.replace(original, epsilon=2e-5)


class BNUnbiasedVariance(ShimMutant):
    """The moving variance fed the UNBIASED batch variance (x m / (m - 1)), as Chainer's
    `BatchNormalization` updates its running variance; slim's uses the biased one."""

    target = (layers, "tf_moments")

    @staticmethod
    def naive(original: Any) -> Any:
        def moments(x: chainer.Variable) -> tuple[np.ndarray, np.ndarray]:
            mean, variance = original(x)
            m = x.size // x.shape[1]
            return mean, variance * (m / (m - 1))

        return moments


class GammaBatchNorm(layers.BatchNorm):
    """slim's BatchNorm plus `L.BatchNormalization`'s learned gamma, initialised at 1.

    The naive port's weight map lists TF's names only, so gamma is never loaded or saved
    (`serialize` skips it): it sits at 1, invisible, until SGD trains it.
    """

    def __init__(self, size: int) -> None:
        super().__init__(size)
        with self.init_scope():
            self.gamma = chainer.Parameter(initializers.One(np.float32), (size,))

    def forward(self, x: chainer.Variable, training: bool, relu: bool = False
                ) -> chainer.Variable:
        normalised = F.bias(super().forward(x, training), -self.beta, axis=1)
        y = F.bias(F.scale(normalised, self.gamma, axis=1), self.beta, axis=1)
        return F.relu(y) if relu else y

    def serialize(self, serializer: chainer.AbstractSerializer) -> None:
        self._params.remove("gamma")
        try:
            super().serialize(serializer)
        finally:
            self._params.add("gamma")


class BNGamma(ShimMutant):
    """Every BatchNorm with a trainable gamma (slim's scale=False has none)."""

    target = (layers, "BatchNorm")

    @staticmethod
    def naive(original: Any) -> Any:
        return GammaBatchNorm
