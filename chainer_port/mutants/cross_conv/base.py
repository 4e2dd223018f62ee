"""How a mutant is made: the built-in port with ONE thing done the naive way.

Two shapes, each a few lines: a subclass of `chainer_port.cross_conv.CrossConvModel` overriding
one `_<kind>` method (or `set_weights` / `train_step`), or a `ShimMutant` that swaps one
name the port looks up at call time (a `tf_compat` shim, a BatchNorm setting, an
initialiser) for the naive Chainer version. Every mutant class is its own factory:
`Mutant(preset, seed=0, device="cpu")`, so `twinport parity --port
chainer_port.mutants.cross_conv:NAME` runs it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

import chainer

from chainer_port.cross_conv import CrossConvModel
from spec.layer import Layer


class ShimMutant(CrossConvModel):
    """The built-in port with `target` = (module, name) replaced by `naive(original)`.

    The replacement is in place while the port builds itself (links, initialisers) and while
    it runs a layer (`apply`: every forward, run_layer, gradients and train_step goes through
    it), and the module is restored after each call. Not thread-safe: one port runs at a time.
    """

    target: tuple[ModuleType, str]

    @staticmethod
    def naive(original: Any) -> Any:
        """The naive version of `original` (the shim, setting or class being replaced)."""
        raise NotImplementedError

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        with self._naive():
            super().__init__(*args, **kwargs)

    def apply(self, layer: Layer, inputs: Sequence[chainer.Variable], training: bool
              ) -> chainer.Variable:
        with self._naive():
            return super().apply(layer, inputs, training)

    @contextlib.contextmanager
    def _naive(self) -> Iterator[None]:
        module, name = self.target
        original = getattr(module, name)
        setattr(module, name, self.naive(original))
        try:
            yield
        finally:
            setattr(module, name, original)
