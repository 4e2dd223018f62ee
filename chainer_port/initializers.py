"""slim's initialisers as Chainer initialisers, each drawing from one seeded NumPy Generator.

Conv kernels: `chainer.initializers.GlorotUniform(rng=...)` already is TF's xavier uniform:
Chainer's fans for a (out, in, kh, kw) kernel are fan_in = in * kh * kw and
fan_out = out * kh * kw, the same as TF's for the HWIO kernel, and the limit is
sqrt(6 / (fan_in + fan_out)) in both. Chainer has no truncated normal: `TruncatedNormal` below.
"""

from __future__ import annotations

import chainer
import numpy as np
from chainer import initializers
from chainer.types import NdArray

from spec.layer import Variable


class TruncatedNormal(chainer.Initializer):
    """TF's `truncated_normal_initializer(stddev)`: N(0, stddev) redrawn beyond 2 stddev.

    Drawn on the host from `rng` (a NumPy Generator), then copied to the array's device.
    """

    def __init__(self, stddev: float, rng: np.random.Generator,
                 dtype: type = np.float32) -> None:
        super().__init__(dtype)
        self.stddev = stddev
        self.rng = rng

    def __call__(self, array: NdArray) -> None:
        values = self.rng.standard_normal(array.shape)
        outside = np.abs(values) > 2
        while outside.any():
            values[outside] = self.rng.standard_normal(int(outside.sum()))
            outside = np.abs(values) > 2
        chainer.backend.copyto(array, (values * self.stddev).astype(array.dtype))


def spec_initializer(variable: Variable, rng: np.random.Generator) -> chainer.Initializer:
    """The Chainer initialiser of `variable.init` (`spec.layer.Variable`), drawing from `rng`;
    an unnamed initialiser is zeros."""
    kind, _, argument = variable.init.partition(":")
    if kind == "xavier_uniform":
        return initializers.GlorotUniform(dtype=np.float32, rng=rng)
    if kind == "truncated_normal":
        return TruncatedNormal(float(argument), rng)
    return initializers.Constant(1.0 if kind == "ones" else 0.0, dtype=np.float32)
