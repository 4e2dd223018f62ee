"""TF's initialisers as Chainer initialisers, each drawing from one seeded NumPy Generator.

A spec variable's initialiser (`SpecInitializer`) draws in the variable's TF shape with TF's
fans (`spec.initializers`) and transposes by its layout rule, so a kernel of any rank, a
transposed conv's kernel included, gets TF's distribution. Chainer has no truncated normal:
`TruncatedNormal` below (the cross-conv links' own initialisers use it).
"""

from __future__ import annotations

import chainer
import numpy as np
from chainer.types import NdArray

from spec import initializers as initializers_spec
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
        values = initializers_spec.numpy_source(self.rng).truncated_normal(array.shape, 0.0,
                                                                           self.stddev)
        chainer.backend.copyto(array, values.astype(array.dtype))


class SpecInitializer(chainer.Initializer):
    """A variable's TF initialiser (`spec.initializers`): drawn from `rng` in the variable's TF
    shape, with TF's fans, then brought to Chainer's layout by the variable's `Transpose`."""

    def __init__(self, variable: Variable, rng: np.random.Generator) -> None:
        super().__init__(np.float32)
        self.variable = variable
        self.distribution = initializers_spec.parse(variable.init, variable.shape,
                                                    variable.name)
        self.rng = rng

    def __call__(self, array: NdArray) -> None:
        value = initializers_spec.draw(self.distribution, self.variable.shape,
                                       initializers_spec.numpy_source(self.rng))
        value = self.variable.transpose.to_chainer(value)
        if value.shape != array.shape:
            raise ValueError(f"variable {self.variable.name}: TF shape {self.variable.shape} "
                             f"is {value.shape} in Chainer's layout by its rule "
                             f"{self.variable.transpose.name}, the array is {array.shape}")
        chainer.backend.copyto(array, np.ascontiguousarray(value).astype(array.dtype))


def spec_initializer(variable: Variable, rng: np.random.Generator) -> chainer.Initializer:
    """The Chainer initialiser of `variable.init` (`spec.layer.Variable`), drawing from `rng`;
    an unnamed initialiser is zeros."""
    return SpecInitializer(variable, rng)
